//! Which rules a request may match, worked out before any rule is matched in
//! full: each rule has at most one pre-check, an 8-byte window of one field
//! ([`QuickKey`]). A text that fails a rule's pre-check cannot match the
//! rule; one that passes still needs the full match.
//!
//! Up to 64 rules are indexed ([`Index`]): rules whose windows sit at the
//! same place of the same field are found with one lookup of the request's
//! word there, so a decision costs a lookup per distinct window, not a
//! comparison per rule. Larger sets try the rules' pre-checks one by one
//! ([`Linear`]).

use crate::fields::Texts;
use crate::wildcard::{QuickKey, word};

/// A rule's pre-check: the quick key of its first checked field that has
/// one, and that field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quick {
    pub(crate) key: QuickKey,
    pub(crate) field: u8,
}

/// The pre-checks of a rule set's reachable rules.
pub(crate) enum Prechecks {
    /// Up to 64 rules: the candidates as a bit set, from an index.
    Indexed(Index),
    /// More rules: the first candidate from some rule on, rule by rule.
    Linear(Linear),
}

impl Prechecks {
    /// The pre-checks of rules `0..quick.len()`, in matching order; `None`
    /// for a rule that no pre-check can rule out.
    pub(crate) fn new(quick: &[Option<Quick>]) -> Prechecks {
        match Index::new(quick) {
            Some(index) => Prechecks::Indexed(index),
            None => Prechecks::Linear(Linear::new(quick)),
        }
    }

    /// The same pre-checks, tried rule by rule whatever their number (to
    /// check the index against).
    #[cfg(test)]
    pub(crate) fn linear(quick: &[Option<Quick>]) -> Prechecks {
        Prechecks::Linear(Linear::new(quick))
    }
}

/// Pre-checks tried one by one, in a dense array so that rejecting a rule
/// costs one 8-byte comparison and touches no other memory.
pub(crate) struct Linear {
    /// A rule without a pre-check has the all-zero key, which never rejects.
    quick: Box<[Quick]>,
    /// The field every keyed pre-check looks at, if they all look at one
    /// (typically the URL path): the loop then needs no per-rule field
    /// lookup.
    single_field: Option<u8>,
}

impl Linear {
    fn new(quick: &[Option<Quick>]) -> Linear {
        let quick: Box<[Quick]> = quick
            .iter()
            .map(|q| {
                q.unwrap_or(Quick {
                    key: QuickKey::default(),
                    field: 0,
                })
            })
            .collect();
        let mut keyed = quick.iter().filter(|q| q.key.mask != 0).map(|q| q.field);
        let single_field = keyed.next().filter(|&f| keyed.all(|g| g == f));
        Linear {
            quick,
            single_field,
        }
    }

    /// The first rule at or after `from` that its pre-check does not rule
    /// out (the number of rules if none).
    #[inline]
    pub(crate) fn first_from(&self, texts: &Texts<'_>, from: usize) -> usize {
        let rest = self.quick.get(from..).unwrap_or_default();
        // Pre-checks only look at fields that are known and ASCII. (An
        // unknown field matches implicitly and a non-ASCII one needs full
        // case folding, so neither may be rejected on bytes.) With a single
        // pre-check field holding at least 8 such bytes, the loop only
        // compares words.
        let single = self
            .single_field
            .and_then(|f| texts.checkable(f))
            .filter(|text| text.len() >= 8);
        from + match single {
            Some(text) => first_candidate_in(rest, text),
            None => first_candidate(rest, texts),
        }
    }
}

/// Offset of the first rule in `quick` that its pre-check does not rule out
/// (`quick.len()` if none).
#[inline(never)]
fn first_candidate(quick: &[Quick], texts: &Texts<'_>) -> usize {
    quick
        .iter()
        .position(|q| texts.checkable(q.field).is_none_or(|t| q.key.may_match(t)))
        .unwrap_or(quick.len())
}

/// [`first_candidate`] when every keyed pre-check looks at `text` (at least
/// 8 bytes, ASCII). Rules without a key have an all-zero key, which passes.
/// The minimum-length test is left out: the window test alone is a valid
/// pre-check, and this loop is the one that runs over most rules.
#[inline(never)]
fn first_candidate_in(quick: &[Quick], text: &[u8]) -> usize {
    quick
        .iter()
        .position(|q| q.key.may_match_long(text))
        .unwrap_or(quick.len())
}

/// The pre-checks of up to 64 rules, answering with the set of candidates
/// (bit `i` for rule `i`).
pub(crate) struct Index {
    /// Rules that no pre-check rules out.
    always: u64,
    /// The pre-checks of each field that some pre-check looks at.
    by_field: Box<[FieldChecks]>,
}

/// The pre-checks that look at one field.
struct FieldChecks {
    /// Index of the field in [`Texts::raw`].
    field: u8,
    /// Every rule whose pre-check looks at the field: all candidates when
    /// the request's text there cannot be checked on bytes.
    rules: u64,
    /// Windows that at least two rules' pre-checks share, keyed by all 8
    /// bytes (no `?`).
    windows: Box<[Window]>,
    /// The other pre-checks (keys with a `?` or shorter than 8 bytes, and
    /// windows of a single rule), tried one by one.
    scanned: Box<[(u64, QuickKey)]>,
}

/// The keys of one field while an [`Index`] is built: its full 8-byte keys
/// grouped by where they look, and the keys with holes.
struct FieldKeys {
    field: u8,
    rules: u64,
    groups: Vec<(u32, Vec<(u64, QuickKey)>)>,
    holes: Vec<(u64, QuickKey)>,
}

/// Rules whose pre-checks look at the same 8 bytes of the same field: a
/// hash table from the lowercased word there to the rules whose key it is.
struct Window {
    /// As in [`QuickKey::start`].
    start: u32,
    /// Every rule of the window.
    rules: u64,
    /// Open addressing, at most a quarter full; an empty slot has no rules.
    slots: Box<[Slot]>,
    shift: u32,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    word: u64,
    rules: u64,
}

const HASH: u64 = 0x9E37_79B9_7F4A_7C15;

impl Index {
    fn new(quick: &[Option<Quick>]) -> Option<Index> {
        if quick.len() > 64 {
            return None;
        }
        let mut always = 0;
        let mut fields: Vec<FieldKeys> = Vec::new();
        for (i, q) in quick.iter().enumerate() {
            let bit = 1u64 << i;
            let Some(q) = q.filter(|q| q.key.mask != 0) else {
                always |= bit;
                continue;
            };
            let field = q.field;
            let at = match fields.iter().position(|f| f.field == field) {
                Some(at) => at,
                None => {
                    fields.push(FieldKeys {
                        field,
                        rules: 0,
                        groups: Vec::new(),
                        holes: Vec::new(),
                    });
                    fields.len() - 1
                }
            };
            let keys = &mut fields[at];
            keys.rules |= bit;
            if q.key.mask != u64::MAX {
                keys.holes.push((bit, q.key));
                continue;
            }
            match keys
                .groups
                .iter_mut()
                .find(|(start, _)| *start == q.key.start)
            {
                Some((_, keys)) => keys.push((bit, q.key)),
                None => keys.groups.push((q.key.start, vec![(bit, q.key)])),
            }
        }
        let by_field = fields
            .into_iter()
            .map(|keys| {
                let mut windows = Vec::new();
                let mut scanned = keys.holes;
                for (start, keys) in keys.groups {
                    if keys.len() < 2 {
                        // One rule: its own comparison is cheaper than a lookup.
                        scanned.extend(keys);
                    } else {
                        windows.push(Window::new(start, &keys));
                    }
                }
                FieldChecks {
                    field: keys.field,
                    rules: keys.rules,
                    windows: windows.into_boxed_slice(),
                    scanned: scanned.into_boxed_slice(),
                }
            })
            .collect();
        Some(Index { always, by_field })
    }

    /// How many shared windows the index has.
    #[cfg(test)]
    pub(crate) fn windows(&self) -> usize {
        self.by_field.iter().map(|f| f.windows.len()).sum()
    }

    /// The rules that the request's texts may match.
    #[inline]
    pub(crate) fn candidates(&self, texts: &Texts<'_>) -> u64 {
        let mut bits = self.always;
        for checks in self.by_field.iter() {
            // Pre-checks only look at fields that are known and ASCII. (An
            // unknown field matches implicitly and a non-ASCII one needs
            // full case folding, so neither may be rejected on bytes.)
            let Some(text) = texts.checkable(checks.field) else {
                bits |= checks.rules;
                continue;
            };
            for window in checks.windows.iter() {
                bits |= window.candidates(text);
            }
            for (bit, key) in checks.scanned.iter() {
                if key.may_match(text) {
                    bits |= bit;
                }
            }
        }
        bits
    }
}

impl Window {
    fn new(start: u32, keys: &[(u64, QuickKey)]) -> Window {
        let capacity = (keys.len() * 4).next_power_of_two();
        let shift = 64 - capacity.trailing_zeros();
        let mut slots = vec![Slot::default(); capacity].into_boxed_slice();
        let mut rules = 0;
        for &(bit, key) in keys {
            let lit = key.lit;
            rules |= bit;
            let mut at = slot_of(lit, shift);
            loop {
                let slot = &mut slots[at];
                if slot.rules == 0 || slot.word == lit {
                    slot.word = lit;
                    slot.rules |= bit;
                    break;
                }
                at = (at + 1) & (capacity - 1);
            }
        }
        Window {
            start,
            rules,
            slots,
            shift,
        }
    }

    /// The rules of this window that the ASCII `text` may match.
    #[inline]
    fn candidates(&self, text: &[u8]) -> u64 {
        let Some(last) = text.len().checked_sub(8) else {
            // No full window: the keys cannot rule anything out.
            return self.rules;
        };
        // As in `QuickKey::may_match_long`: a window from the start that
        // does not fit is at the text's end (a text that short cannot match
        // anyway), and `FROM_END` is the end.
        let at = (self.start as usize).min(last);
        let Some(bytes) = text.get(at..at + 8) else {
            return self.rules;
        };
        let w = ascii_lowercase(word(bytes));
        let mask = self.slots.len() - 1;
        let mut i = slot_of(w, self.shift);
        loop {
            let slot = self.slots[i & mask];
            if slot.rules == 0 {
                return 0;
            }
            if slot.word == w {
                return slot.rules;
            }
            i = (i + 1) & mask;
        }
    }
}

/// Where `word` goes in a table of `1 << (64 - shift)` slots. Keys often
/// differ in a byte or two only (`service16/` and `service17/`): the full
/// 128-bit product, its halves folded together, spreads every input bit
/// over the bits that are kept.
#[inline(always)]
fn slot_of(word: u64, shift: u32) -> usize {
    let product = u128::from(word) * u128::from(HASH);
    (((product >> 64) as u64 ^ product as u64) >> shift) as usize
}

/// Eight ASCII bytes with `A`-`Z` lowercased. For a key's lowercased
/// literal `lit` and letter mask `case`, `ascii_lowercase(w) == lit` is
/// exactly `(w | case) == lit`: a letter of the key meets either case of
/// it, any other byte only itself.
#[inline(always)]
fn ascii_lowercase(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bytes are below 0x80, so neither sum carries into the next byte: the
    // high bit of the first is set for bytes from `A` on, of the second for
    // bytes after `Z`.
    let from_a = w.wrapping_add(ONES * (0x80 - u64::from(b'A')));
    let after_z = w.wrapping_add(ONES * (0x80 - u64::from(b'Z') - 1));
    let upper = from_a & !after_z & (ONES * 0x80);
    w | (upper >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercasing_a_word_folds_letters_only() {
        for b in 0u8..0x80 {
            let w = u64::from_le_bytes([b, b'Q', b, b'@', b'[', b'a', b, b'z']);
            let expected: Vec<u8> = w.to_le_bytes().iter().map(u8::to_ascii_lowercase).collect();
            assert_eq!(
                ascii_lowercase(w).to_le_bytes().to_vec(),
                expected,
                "{b:#x}"
            );
        }
    }
}
