//! Wildcard patterns as X-Ray sampling rules use them.
//!
//! `*` matches any run of characters (including none) and `?` matches exactly
//! one character (one Unicode scalar value, as Python counts characters).
//! Matching is case-insensitive the way the AWS X-Ray SDK for Python does it:
//! two characters are equal when they are identical or when their full
//! Unicode lowercase mappings (`char::to_lowercase`, the same mapping as
//! Python's `str.lower()` applied to one character) are equal. For ASCII this
//! is plain ASCII case folding; beyond ASCII it also makes e.g. the Kelvin sign
//! `K` (U+212A) equal to `k`.
//!
//! The algorithm is the SDK's: a left-to-right scan that remembers only the
//! most recent `*` and, on a mismatch, lets that `*` swallow one more
//! character. It never recurses and runs in O(len(text) × len(pattern)) time
//! at worst (a pattern like `*a*a*a*a*a*b` against a long run of `a`s stays
//! linear in practice, because each later `*` replaces the earlier one as the
//! backtracking point).
//!
//! One consequence of the SDK's algorithm is reproduced on purpose: a literal
//! equality test comes before the `*` test, so a `*` *in the text* that lines
//! up with a `*` in the pattern is consumed as an ordinary character and is
//! not a backtracking point. `/api/*` therefore does **not** match `/api/*x`
//! (it does match `/api/x*` and `/api/*`). Every AWS X-Ray SDK (Python, Java,
//! Go) shares this algorithm, so rules behave the same across a fleet that
//! mixes them; see [`Pattern`].

/// A compiled wildcard pattern.
///
/// Compilation picks a specialised matcher for the common shapes (`*`,
/// literal, `literal*`, `*literal`, where the literal may contain `?`) and
/// precomputes byte masks so that ASCII text is compared a word at a time
/// without lowercasing it: with `case` holding 0x20 where the pattern has a
/// letter, `(text | case) & qmask == literal` is exactly "equal ignoring
/// ASCII case, `?` matching anything". Every specialisation returns what
/// the general algorithm returns; the tests compare them on random inputs.
#[derive(Clone)]
pub struct Pattern {
    source: Box<str>,
    kind: Kind,
    ascii: bool,
    /// `source` with ASCII letters lowercased; `*` and `?` kept.
    low: Box<[u8]>,
    /// 0x20 where `low` has a letter, else 0.
    case: Box<[u8]>,
    /// `low` with `?` replaced by 0.
    lit: Box<[u8]>,
    /// 0xFF, or 0 where `low` has `?`.
    qmask: Box<[u8]>,
    /// `source` as characters, for the general path.
    chars: Box<[char]>,
    /// Characters that any matching text must have at least: every
    /// non-`*` pattern character consumes exactly one text character.
    min_len: usize,
    /// Length of the part before the first `*` (it may contain `?`).
    head_len: usize,
    /// Start of the part after the last `*`, if there is a `*`.
    tail_start: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `*`: matches everything.
    Any,
    /// The empty pattern: matches only the empty text.
    Empty,
    /// No `*` (perhaps `?`).
    Exact,
    /// `literal*`, the literal without `*`.
    Prefix,
    /// `*literal`, the literal without `*`.
    Suffix,
    /// Anything else.
    General,
}

/// A pre-check for one 8-byte window of an ASCII text, cheap enough to try
/// on every rule before matching it in full: a text that fails it cannot
/// match the pattern; one that passes still needs [`Pattern`]'s full match.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QuickKey {
    pub(crate) lit: u64,
    pub(crate) case: u64,
    pub(crate) mask: u64,
    /// Texts shorter than this cannot match.
    pub(crate) min_len: u32,
    /// The window is bytes `start..start + 8`, or the text's last 8 bytes
    /// when `start` is [`QuickKey::FROM_END`].
    pub(crate) start: u32,
}

impl QuickKey {
    pub(crate) const FROM_END: u32 = u32::MAX;

    /// `false` only if the ASCII `text` cannot match.
    #[inline(always)]
    pub(crate) fn may_match(&self, text: &[u8]) -> bool {
        let n = text.len();
        if n < self.min_len as usize {
            return false;
        }
        n < 8 || self.may_match_long(text)
    }

    /// [`QuickKey::may_match`] without the length test, for a text of at
    /// least 8 bytes.
    #[inline(always)]
    pub(crate) fn may_match_long(&self, text: &[u8]) -> bool {
        let Some(last) = text.len().checked_sub(8) else {
            return true;
        };
        // A window from the start ends within the literal head, which
        // `min_len` covers, or at byte 8, so it starts at or before `n - 8`;
        // `FROM_END` (u32::MAX) becomes `n - 8` itself.
        let at = (self.start as usize).min(last);
        match text.get(at..at + 8) {
            Some(w) => ((word(w) | self.case) & self.mask) == self.lit,
            None => true,
        }
    }
}

/// `<[u8]>::is_ascii`, a word at a time also for short texts (the last
/// word overlapping the previous one).
#[inline]
pub(crate) fn is_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = b.len();
    if n < 8 {
        // Two overlapping loads cover 4 to 7 bytes; shorter texts go by byte.
        if n >= 4 {
            let ends = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            return (ends(0) | ends(n - 4)) & 0x8080_8080 == 0;
        }
        return b.iter().all(|&c| c < 0x80);
    }
    let mut acc = word(&b[n - 8..]);
    let mut i = 0;
    while i + 8 < n {
        acc |= word(&b[i..i + 8]);
        i += 8;
    }
    acc & HIGH == 0
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl Pattern {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Pattern {
        let chars: Box<[char]> = pattern.chars().collect();
        let ascii = pattern.is_ascii();
        let low: Box<[u8]> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let case = low
            .iter()
            .map(|&b| if b.is_ascii_lowercase() { 0x20 } else { 0 })
            .collect();
        let lit = low.iter().map(|&b| if b == b'?' { 0 } else { b }).collect();
        let qmask = low
            .iter()
            .map(|&b| if b == b'?' { 0 } else { 0xff })
            .collect();
        let stars = chars.iter().filter(|&&c| c == '*').count();
        let n = chars.len();
        let kind = if pattern == "*" {
            Kind::Any
        } else if n == 0 {
            Kind::Empty
        } else if stars == 0 {
            Kind::Exact
        } else if stars == 1 && chars[n - 1] == '*' {
            Kind::Prefix
        } else if stars == 1 && chars[0] == '*' {
            Kind::Suffix
        } else {
            Kind::General
        };
        // Head, tail and length bounds are counted in bytes on the ASCII path
        // and only used there, where bytes and characters coincide.
        let head_len = low.iter().position(|&b| b == b'*').unwrap_or(low.len());
        let tail_start = low.iter().rposition(|&b| b == b'*').map(|i| i + 1);
        Pattern {
            source: pattern.into(),
            kind,
            ascii,
            low,
            case,
            lit,
            qmask,
            chars,
            min_len: n - stars,
            head_len,
            tail_start,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether this is the pattern `*`, which matches every text.
    pub fn is_any(&self) -> bool {
        self.kind == Kind::Any
    }

    /// Whether `text` matches, case-insensitively (see the module docs).
    pub fn matches(&self, text: &str) -> bool {
        if self.ascii && is_ascii(text.as_bytes()) {
            self.matches_ascii(text.as_bytes())
        } else {
            self.matches_chars(text)
        }
    }

    /// Whether the pattern must take the character path for every text (it
    /// has non-ASCII characters).
    #[inline]
    pub(crate) fn needs_chars(&self) -> bool {
        !self.ascii
    }

    /// The pre-check for this pattern, if it has a literal head or tail.
    pub(crate) fn quick_key(&self) -> Option<QuickKey> {
        if !self.ascii || matches!(self.kind, Kind::Any | Kind::Empty) {
            return None;
        }
        let min_len = u32::try_from(self.min_len).ok()?;
        let pack = |range: std::ops::Range<usize>, at: usize| {
            // Bytes of the pattern in `range`, placed at byte `at` of the window.
            let mut k = QuickKey {
                min_len,
                ..QuickKey::default()
            };
            for (w, i) in (at..).zip(range) {
                let shift = 8 * w;
                k.lit |= u64::from(self.lit[i]) << shift;
                k.case |= u64::from(self.case[i]) << shift;
                k.mask |= u64::from(self.qmask[i]) << shift;
            }
            k
        };
        if self.head_len > 0 {
            // The end of the literal head (where rules sharing a prefix differ).
            let end = self.head_len;
            let start = end.saturating_sub(8);
            let mut k = pack(start..end, 0);
            k.start = u32::try_from(start)
                .ok()
                .filter(|&s| s != QuickKey::FROM_END)?;
            Some(k)
        } else if let Some(ts) = self.tail_start.filter(|&ts| ts < self.low.len()) {
            let len = self.low.len();
            let start = len.saturating_sub(8).max(ts);
            let mut k = pack(start..len, 8 - (len - start));
            k.start = QuickKey::FROM_END;
            Some(k)
        } else {
            None
        }
    }

    /// Matches ASCII `t`. Only valid when the pattern is ASCII too.
    #[inline]
    pub(crate) fn matches_ascii(&self, t: &[u8]) -> bool {
        let n = t.len();
        let m = self.low.len();
        match self.kind {
            Kind::Any => true,
            Kind::Empty => n == 0,
            Kind::Exact => n == m && self.segment_eq(t, 0),
            Kind::Prefix => {
                let l = m - 1;
                // Past the literal, the SDK's scan meets the pattern's `*`. If
                // the text has a `*` there, the two are consumed as equal
                // characters, the pattern is exhausted and nothing can absorb
                // the rest of the text, so only exactly `literal*` matches.
                n >= l && self.segment_eq(&t[..l], 0) && !(n > l + 1 && t[l] == b'*')
            }
            Kind::Suffix => {
                let l = m - 1;
                if n > 0 && t[0] == b'*' {
                    // The text's leading `*` is consumed by the pattern's `*`
                    // as an equal character: the rest must be the literal.
                    n == l + 1 && self.segment_eq(&t[1..], 1)
                } else {
                    n >= l && self.segment_eq(&t[n - l..], 1)
                }
            }
            Kind::General => {
                let h = self.head_len;
                if n < self.min_len || !self.segment_eq(&t[..h], 0) {
                    return false;
                }
                if let Some(ts) = self.tail_start {
                    let tl = m - ts;
                    if !self.segment_eq(&t[n - tl..], ts) {
                        return false;
                    }
                }
                // The head matched one to one before any `*`, so the scan
                // continues from there exactly as if it had started there.
                match_ascii_general(&self.low[h..], &self.case[h..], &t[h..])
            }
        }
    }

    /// Whether ASCII `t` equals the `*`-free pattern bytes starting at `at`
    /// (`?` matching any byte), ignoring ASCII case. Compares the last word
    /// first: rules that share a long literal prefix (`/api/v1/...`) usually
    /// differ near its end, so a non-matching rule is rejected at once.
    #[inline]
    fn segment_eq(&self, t: &[u8], at: usize) -> bool {
        let n = t.len();
        let (lit, case, mask) = (
            &self.lit[at..at + n],
            &self.case[at..at + n],
            &self.qmask[at..at + n],
        );
        let eq = |i: usize| {
            ((word(&t[i..i + 8]) | word(&case[i..i + 8])) & word(&mask[i..i + 8]))
                == word(&lit[i..i + 8])
        };
        if n >= 8 {
            if !eq(n - 8) {
                return false;
            }
            let mut i = 0;
            while i + 8 < n {
                if !eq(i) {
                    return false;
                }
                i += 8;
            }
            true
        } else {
            (0..n).all(|i| ((t[i] | case[i]) & mask[i]) == lit[i])
        }
    }

    /// Matches `text` with the general character algorithm.
    #[inline]
    pub(crate) fn matches_chars(&self, text: &str) -> bool {
        match self.kind {
            Kind::Any => true,
            Kind::Empty => text.is_empty(),
            _ => match_chars(&self.chars, text),
        }
    }
}

/// Python SDK's wildcard match on one pattern string and one text, compiled
/// on the fly. Prefer [`Pattern`] where the pattern is reused.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern).matches(text)
}

#[inline(always)]
pub(crate) fn word(s: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&s[..8]);
    u64::from_le_bytes(a)
}

/// The SDK's scan on ASCII bytes; `low` is the lowered pattern, `case` its
/// letter mask.
fn match_ascii_general(low: &[u8], case: &[u8], t: &[u8]) -> bool {
    let (m, n) = (low.len(), t.len());
    let (mut i, mut j) = (0usize, 0usize);
    // The most recent `*`: (text position it started at, its pattern index).
    let mut star: Option<(usize, usize)> = None;
    while i < n {
        // Equal characters first (a text `*` meets a pattern `*` here), then
        // `?`, then `*`, as the SDK tests them.
        if j < m && ((t[i] | case[j]) == low[j] || low[j] == b'?') {
            i += 1;
            j += 1;
        } else if j < m && low[j] == b'*' {
            star = Some((i, j));
            j += 1;
        } else if let Some((si, sj)) = star {
            star = Some((si + 1, sj));
            i = si + 1;
            j = sj + 1;
        } else {
            return false;
        }
    }
    while j < m && low[j] == b'*' {
        j += 1;
    }
    j == m
}

/// Character equality as the SDK tests it: identical, or equal lowercase
/// mappings.
#[inline]
fn chars_eq(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// The SDK's scan over characters (any text, any pattern).
fn match_chars(p: &[char], text: &str) -> bool {
    let m = p.len();
    if m == 0 {
        return text.is_empty();
    }
    if m == 1 && p[0] == '*' {
        return true;
    }
    let n = text.len();
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < n {
        let Some(c) = text[i..].chars().next() else {
            return false;
        };
        if j < m && (p[j] == '?' || chars_eq(c, p[j])) {
            i += c.len_utf8();
            j += 1;
        } else if j < m && p[j] == '*' {
            star = Some((i, j));
            j += 1;
        } else if let Some((si, sj)) = star {
            let Some(skipped) = text[si..].chars().next() else {
                return false;
            };
            let si = si + skipped.len_utf8();
            star = Some((si, sj));
            i = si;
            j = sj + 1;
        } else {
            return false;
        }
    }
    while j < m && p[j] == '*' {
        j += 1;
    }
    j == m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// A literal transcription of `aws_xray_sdk.core.utils.search_pattern.
    /// wildcard_match` (2.15.0) on characters, with its branch order and its
    /// `iStar = len(text)` sentinel, used as the oracle.
    // Kept branch for branch like the original, identical blocks included.
    #[allow(clippy::if_same_then_else)]
    fn python_wildcard_match(pattern: &str, text: &str) -> bool {
        let pattern: Vec<char> = pattern.chars().collect();
        let text: Vec<char> = text.chars().collect();
        let lower = |c: char| c.to_lowercase().collect::<String>();
        if pattern.is_empty() {
            return text.is_empty();
        }
        if pattern == ['*'] {
            return true;
        }
        let (mut i, mut p) = (0usize, 0usize);
        let mut i_star = text.len();
        let mut p_star = 0usize;
        while i < text.len() {
            if p < pattern.len() && text[i] == pattern[p] {
                i += 1;
                p += 1;
            } else if p < pattern.len() && lower(text[i]) == lower(pattern[p]) {
                i += 1;
                p += 1;
            } else if p < pattern.len() && pattern[p] == '?' {
                i += 1;
                p += 1;
            } else if p < pattern.len() && pattern[p] == '*' {
                i_star = i;
                p_star = p;
                p += 1;
            } else if i_star != text.len() {
                i_star += 1;
                i = i_star;
                p = p_star + 1;
            } else {
                return false;
            }
        }
        while p < pattern.len() && pattern[p] == '*' {
            p += 1;
        }
        p == pattern.len() && i == text.len()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            // `*` and the empty pattern
            ("*", "", true),
            ("*", "anything at all", true),
            ("", "", true),
            ("", "a", false),
            ("**", "", true),
            ("**", "abc", true),
            // literals, case-insensitive
            ("GET", "GET", true),
            ("GET", "get", true),
            ("get", "GeT", true),
            ("GET", "GETS", false),
            ("GET", "GE", false),
            ("/api/v1", "/API/V1", true),
            // `?` is exactly one character
            ("?", "a", true),
            ("?", "", false),
            ("?", "ab", false),
            ("/a?c", "/abc", true),
            ("/a?c", "/ac", false),
            ("/a?c", "/abbc", false),
            ("???", "é€😀", true),
            ("??", "😀", false),
            // `*` is any run, including the empty one
            ("/api/*", "/api/", true),
            ("/api/*", "/api/users/42", true),
            ("/api/*", "/api", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", ".example.com", true),
            ("*.example.com", "example.com", false),
            ("*.EXAMPLE.com", "api.example.COM", true),
            ("/api/*/items", "/api/v1/items", true),
            ("/api/*/items", "/api//items", true),
            ("/api/*/items", "/api/v1/items/", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXcYYb", false),
            ("*a?", "xxab", true),
            ("*a?", "xxa", false),
            // the SDK consumes a text `*` that meets a pattern `*` literally
            ("/api/*", "/api/*", true),
            ("/api/*", "/api/x*", true),
            ("/api/*", "/api/*x", false),
            ("*", "*x", true),
            ("*x", "*x", true),
            ("*x", "*yx", false),
            ("*x", "y*x", true),
            ("a*b", "a*xb", false),
            ("a*b", "ax*b", true),
            ("**", "**x", false),
            // beyond ASCII: per-character lowercase mapping, like str.lower()
            ("/café/*", "/CAFÉ/menu", true),
            ("k", "\u{212A}", true),
            ("\u{212A}", "K", true),
            ("straße", "STRASSE", false),
            ("ß", "\u{1E9E}", true),
            ("i", "\u{130}", false),
            ("σ", "Σ", true),
        ];
        for &(pattern, text, expected) in cases {
            assert_eq!(
                python_wildcard_match(pattern, text),
                expected,
                "oracle disagrees with the table for {pattern:?} / {text:?}"
            );
            assert_eq!(
                wildcard_match(pattern, text),
                expected,
                "{pattern:?} / {text:?}"
            );
            assert_eq!(
                Pattern::new(pattern).matches_chars(text),
                expected,
                "chars path {pattern:?} / {text:?}"
            );
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(Pattern::new("*").kind, Kind::Any);
        assert_eq!(Pattern::new("").kind, Kind::Empty);
        assert_eq!(Pattern::new("GET").kind, Kind::Exact);
        assert_eq!(Pattern::new("/api/*").kind, Kind::Prefix);
        assert_eq!(Pattern::new("*.com").kind, Kind::Suffix);
        assert_eq!(Pattern::new("/a?c").kind, Kind::Exact);
        assert_eq!(Pattern::new("/a?c/*").kind, Kind::Prefix);
        assert_eq!(Pattern::new("*.?om").kind, Kind::Suffix);
        assert_eq!(Pattern::new("/a?c/*/x").kind, Kind::General);
        assert_eq!(Pattern::new("a*b").kind, Kind::General);
        assert_eq!(Pattern::new("**").kind, Kind::General);
    }

    fn random_string(rng: &mut Rng, alphabet: &[char], max: usize) -> String {
        let len = rng.below(max + 1);
        (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect()
    }

    #[test]
    fn agrees_with_the_sdk_algorithm_on_random_inputs() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let text_alphabet = ['a', 'A', 'b', 'B', '/', '*', '?', 'k', '\u{212A}', 'é', 'É'];
        let pattern_alphabet = ['a', 'A', 'b', '/', '*', '*', '?', 'k', 'K', 'é'];
        let ascii_text = ['a', 'A', 'b', 'B', '/', '*', '?', '.'];
        let ascii_pattern = ['a', 'b', 'B', '/', '*', '*', '?', '.'];
        for round in 0..200_000 {
            let (pattern, text) = if round % 2 == 0 {
                (
                    random_string(&mut rng, &pattern_alphabet, 6),
                    random_string(&mut rng, &text_alphabet, 10),
                )
            } else {
                (
                    random_string(&mut rng, &ascii_pattern, 7),
                    random_string(&mut rng, &ascii_text, 12),
                )
            };
            let expected = python_wildcard_match(&pattern, &text);
            let compiled = Pattern::new(&pattern);
            assert_eq!(compiled.matches(&text), expected, "{pattern:?} / {text:?}");
            assert_eq!(
                compiled.matches_chars(&text),
                expected,
                "chars {pattern:?} / {text:?}"
            );
        }
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        // Exponential backtracking would never finish on these sizes; the
        // SDK's scan needs a few million steps at most.
        let text = "a".repeat(100_000);
        let started = std::time::Instant::now();
        assert!(!wildcard_match("*a*a*a*a*a*b", &text));
        assert!(wildcard_match("*a*a*a*a*a*a", &text));
        assert!(!wildcard_match(
            "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab",
            &text
        ));
        let text_b = format!("{text}b");
        assert!(wildcard_match("*a*a*a*a*a*b", &text_b));
        assert!(wildcard_match("*?*?*?*?*?*b", &text_b));
        let unicode = "é".repeat(50_000);
        assert!(!wildcard_match("*é*é*é*é*é*b", &unicode));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn ascii_detection() {
        for len in 0..40 {
            let text = vec![b'a'; len];
            assert!(is_ascii(&text));
            for at in 0..len {
                let mut t = text.clone();
                t[at] = 0x80 | (at as u8);
                assert!(!is_ascii(&t), "len {len}, non-ASCII at {at}");
            }
        }
    }

    #[test]
    fn case_masks_compare_exactly_ignoring_ascii_case() {
        // Every ASCII byte against every ASCII pattern byte, in a word.
        for p in 0u8..0x80 {
            if p == b'*' {
                continue;
            }
            let pattern_text =
                String::from_utf8(vec![b'/', p, b'/', b'x', b'y', b'z', b'w', b'v', b'u'])
                    .expect("ASCII");
            let pattern = Pattern::new(&pattern_text);
            for t in 0u8..0x80 {
                let mut text = pattern_text.clone().into_bytes();
                text[1] = t;
                let text = String::from_utf8(text).expect("ASCII");
                let expected = p == b'?' || t.eq_ignore_ascii_case(&p);
                assert_eq!(
                    pattern.matches(&text),
                    expected,
                    "{pattern_text:?} / {text:?}"
                );
                let quick = pattern.quick_key().expect("literal head");
                assert!(
                    quick.may_match(text.as_bytes()) || !expected,
                    "{pattern_text:?} / {text:?}"
                );
            }
        }
    }

    #[test]
    fn quick_keys_never_reject_a_match() {
        let mut rng = Rng(7);
        let pattern_alphabet = ['a', 'B', '/', '*', '?', '.', 'x'];
        let text_alphabet = ['a', 'A', 'b', 'B', '/', '*', '?', '.', 'x', 'X'];
        let mut rejected = 0;
        for _ in 0..200_000 {
            let pattern = random_string(&mut rng, &pattern_alphabet, 14);
            let text = random_string(&mut rng, &text_alphabet, 20);
            let compiled = Pattern::new(&pattern);
            if let Some(k) = compiled.quick_key() {
                let long_rejects = text.len() >= 8 && !k.may_match_long(text.as_bytes());
                if !k.may_match(text.as_bytes()) || long_rejects {
                    rejected += 1;
                    assert!(
                        !python_wildcard_match(&pattern, &text),
                        "{pattern:?} / {text:?} rejected"
                    );
                }
            }
        }
        assert!(
            rejected > 10_000,
            "the pre-check should reject often: {rejected}"
        );
    }
}
