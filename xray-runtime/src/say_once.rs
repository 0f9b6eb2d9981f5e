//! Lines on stderr said once per process: what is wrong with a variable or
//! a file is said the first time it is read, however many signals or
//! installations read it again.

use std::collections::HashSet;
use std::sync::Mutex;

/// Prints `line()` on stderr unless a line about `subject` was printed
/// before.
pub(crate) fn say_once(subject: &str, line: impl FnOnce() -> String) {
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let first = SAID
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(subject.to_owned());
    if first {
        eprintln!("{}", line());
    }
}
