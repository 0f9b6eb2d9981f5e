//! Rule names as `&'static str`: a decision names its rule without
//! allocating and without touching a reference count shared by every
//! thread. Names are kept for the life of the process, so their number and
//! length are bounded; a name beyond those bounds gets no label, and callers
//! look it up by its [`RuleRef`](crate::RuleRef) instead.

use std::collections::HashSet;
use std::sync::Mutex;

/// Distinct names kept at most: X-Ray allows a few dozen rules per account,
/// so this is room for years of renaming.
const MAX_NAMES: usize = 4096;
/// X-Ray's `RuleName` is at most 32 characters; local rules' descriptions
/// may be longer, up to this.
const MAX_LEN: usize = 128;

static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// The kept copy of `name`; `None` when it is too long or when
/// [`MAX_NAMES`] are already kept. Called when rule sets are built, never
/// on the decision path.
pub(crate) fn intern(name: &str) -> Option<&'static str> {
    if name.len() > MAX_LEN {
        return None;
    }
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&kept) = names.get(name) {
        return Some(kept);
    }
    if names.len() >= MAX_NAMES {
        return None;
    }
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(kept);
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_kept_once() {
        let a = intern("label-test").expect("short name");
        let b = intern(&String::from("label-test")).expect("short name");
        assert!(std::ptr::eq(a, b));
        assert_eq!(intern(&"x".repeat(MAX_LEN + 1)), None);
    }
}
