//! Normalisation and tokenisation shared by documents and query terms.
//!
//! A token is a maximal run of letters, digits and combining marks. Everything else (spaces,
//! punctuation, hyphens, apostrophes) separates tokens, so `test-fired` is the two tokens
//! `test fired` and `d'armes` is `d armes`. Each token is folded:
//! - Unicode lowercase;
//! - `ß→ss`; German umlauts folded `ä→a`, `ö→o`, `ü→u` (so `Marschflugkörper` and `marschflugkorper`
//!   match, as Snowball German does); a combining diaeresis (U+0308) is dropped, which also folds a
//!   decomposed `ё`;
//! - `ё→е`;
//! - soft hyphens (U+00AD) and zero-width characters dropped.
//!
//! French accents are kept on purpose: folding `armée` (army) to `armee` would make it match
//! `arme*` (weapon).
//!
//! Invariants: `Tokens::norm` is the folded tokens joined by single spaces; token `i` occupies
//! `norm[norm_start[i]..norm_end[i]]` and `orig[i]` is its byte range in the original text (for
//! highlights). Folding never produces a space, so a pattern without spaces never spans tokens.

/// The tokens of one text field.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    /// Folded tokens (UTF-8), joined by single spaces. Bytes rather than a `String`: the tokeniser
    /// appends encoded folds directly, and the matcher only reads bytes.
    pub norm: Vec<u8>,
    /// Byte offset of each token in `norm`.
    pub norm_start: Vec<u32>,
    /// Byte end of each token in `norm`.
    pub norm_end: Vec<u32>,
    /// Byte range of each token in the original text.
    pub orig: Vec<(u32, u32)>,
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.norm_start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.norm_start.is_empty()
    }

    /// The folded text of token `i`.
    pub fn token(&self, i: usize) -> &str {
        std::str::from_utf8(&self.norm[self.norm_start[i] as usize..self.norm_end[i] as usize])
            .expect("tokens are whole UTF-8 characters")
    }

    /// The index of the token containing byte `at` of `norm` (at must not be a separator).
    pub fn token_at(&self, at: usize) -> usize {
        self.norm_start.partition_point(|&s| s as usize <= at) - 1
    }
}

/// `a == b` for two slices of the same (non-zero) length, without a `memcmp` call for the short
/// ones most tokens are: two overlapping loads from each end cover up to 16 bytes.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    debug_assert!(n == b.len() && n > 0);
    if n > 16 || n != b.len() {
        a == b
    } else if n >= 8 {
        let w = |x: &[u8], at: usize| u64::from_le_bytes(x[at..at + 8].try_into().expect("8"));
        w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8)
    } else if n >= 4 {
        let w = |x: &[u8], at: usize| u32::from_le_bytes(x[at..at + 4].try_into().expect("4"));
        w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4)
    } else {
        a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]
    }
}

/// Whether `c` belongs to a token.
#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    // Fast paths: Cyrillic letters and Latin-1 letters (not × ÷).
    if ('\u{400}'..='\u{4ff}').contains(&c) {
        // U+0482 is a sign, U+0483..U+0489 are combining marks that are not letters.
        return !('\u{482}'..='\u{489}').contains(&c);
    }
    if ('\u{c0}'..='\u{ff}').contains(&c) {
        return c != '×' && c != '÷';
    }
    c.is_alphanumeric() || is_dropped(c) || ('\u{300}'..='\u{36f}').contains(&c)
}

/// Characters that are part of a word but vanish when folded.
#[inline]
fn is_dropped(c: char) -> bool {
    matches!(
        c,
        '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{308}'
    )
}

/// Calls `push` with each char of the folded form of `c`.
#[inline]
fn fold_with(c: char, mut push: impl FnMut(char)) {
    if c.is_ascii() {
        push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'ß' | 'ẞ' => {
            push('s');
            push('s');
        }
        'ä' | 'Ä' => push('a'),
        'ö' | 'Ö' => push('o'),
        'ü' | 'Ü' => push('u'),
        'ё' | 'Ё' => push('е'),
        c if is_dropped(c) => {}
        // Fast paths for the common upper-case letters: Cyrillic А-Я, Ѐ-Џ and Latin-1 À-Þ.
        'А'..='Я' | 'À'..='Þ' if c != '×' => {
            push(char::from_u32(c as u32 + 0x20).expect("a letter"));
        }
        'Ѐ'..='Џ' => push(char::from_u32(c as u32 + 0x50).expect("a letter")),
        'а'..='я' | 'ß'..='ÿ' | 'ѐ'..='џ' => push(c),
        c => c.to_lowercase().for_each(push),
    }
}

/// Appends the folded form of `c` to `out`.
#[inline]
pub fn fold_char(c: char, out: &mut String) {
    fold_with(c, |f| out.push(f));
}

/// Folds a whole string (no tokenisation): what a single token of it looks like after folding.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// Splits `text` into folded tokens, keeping each token's original byte range.
pub fn tokenize(text: &str) -> Tokens {
    let mut t = Tokens::default();
    tokenize_into(text, &mut t);
    t
}

/// How a two-byte character of a document is tokenised: a separator (`len` 0xff), or a word
/// character folded to the `len` UTF-8 bytes `bytes` (0 for a dropped one).
#[derive(Debug, Clone, Copy)]
struct Class {
    len: u8,
    bytes: [u8; 7],
}

const SEP: u8 = 0xff;

/// Per byte: the lowercase form of an ASCII letter or digit, 0 for every other byte (ASCII
/// separators and all bytes of multi-byte characters), so that one lookup both classifies and
/// folds an ASCII byte.
const ASCII_LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        if (b as u8).is_ascii_alphanumeric() {
            t[b] = (b as u8).to_ascii_lowercase();
        }
        b += 1;
    }
    t
};

/// [`Class`] of every two-byte UTF-8 character (U+0080..U+07FF: Latin-1, Latin Extended, Greek,
/// Cyrillic, ...), indexed by code point - 0x80; computed once from [`is_word_char`] and
/// [`fold_char`], so the table agrees with them by construction.
fn two_byte_classes() -> &'static [Class] {
    static TABLE: std::sync::OnceLock<Vec<Class>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0x80u32..0x800)
            .map(|u| {
                let c = char::from_u32(u).expect("no surrogates below U+0800");
                let mut class = Class {
                    len: SEP,
                    bytes: [0; 7],
                };
                if is_word_char(c) {
                    let mut f = String::new();
                    fold_char(c, &mut f);
                    assert!(f.len() <= 7, "a short fold");
                    class.len = f.len() as u8;
                    class.bytes[..f.len()].copy_from_slice(f.as_bytes());
                }
                class
            })
            .collect()
    })
}

/// Grows `norm` to at least `need` bytes (see the invariant in [`tokenize_into`]).
#[inline]
fn room(norm: &mut Vec<u8>, need: usize) {
    if norm.len() < need {
        norm.resize(need, 0);
    }
}

/// [`tokenize`] into `t`, reusing its buffers (the matcher keeps one per thread of work).
///
/// Kept as one function on purpose (over the ~80-line guideline): it is the per-byte hot loop of
/// matching, and the skip and fold loops share the cursor `i`, the write index `w` and the
/// `norm` capacity invariant below; split into helpers they would pass and return that state
/// per token and check it across calls, which costs speed.
pub fn tokenize_into(text: &str, t: &mut Tokens) {
    t.norm_start.clear();
    t.norm_end.clear();
    t.orig.clear();
    let classes = two_byte_classes();
    let bytes = text.as_bytes();
    let n = bytes.len();
    // `norm` is an output buffer written by index at `w` and cut to `w` at the end, so the hot
    // paths need no capacity check per byte. Invariant: `norm.len() >= w + (n - i) + 1`, room
    // for the rest of the text folded byte for byte plus a separator. ASCII bytes and two-byte
    // characters fold to at most as many bytes, a separator space stands for at least one
    // skipped byte, and the rare folds that grow the text call `room` first.
    let norm = &mut t.norm;
    norm.clear();
    norm.resize(n + 1, 0);
    let mut w = 0;
    let mut i = 0;
    while i < n {
        // Skip separators; ASCII bytes are classified without decoding, two-byte characters
        // through the table, longer ones are decoded.
        let b = bytes[i];
        if b < 0x80 {
            if ASCII_LOWER[b as usize] == 0 {
                i += 1;
                continue;
            }
        } else if b < 0xe0 {
            // A two-byte sequence (a valid `str` has no other lead bytes below 0xe0).
            let u = (((b & 0x1f) as usize) << 6) | (bytes[i + 1] & 0x3f) as usize;
            if classes[u - 0x80].len == SEP {
                i += 2;
                continue;
            }
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            if !is_word_char(c) {
                i += c.len_utf8();
                continue;
            }
        }
        // A token starts at `i`: fold its characters until a separator.
        let start = i;
        if w > 0 {
            norm[w] = b' ';
            w += 1;
        }
        let norm_start = w;
        while i < n {
            let b = bytes[i];
            if b < 0x80 {
                // A run of ASCII letters and digits, classified and lowercased in one pass (the
                // invariant makes `dst` at least as long as `src`).
                let src = &bytes[i..];
                let dst = &mut norm[w..];
                let mut k = 0;
                for (d, &s) in dst.iter_mut().zip(src) {
                    let l = ASCII_LOWER[s as usize];
                    if l == 0 {
                        break;
                    }
                    *d = l;
                    k += 1;
                }
                if k == 0 {
                    break;
                }
                i += k;
                w += k;
            } else if b < 0xe0 {
                let u = (((b & 0x1f) as usize) << 6) | (bytes[i + 1] & 0x3f) as usize;
                let class = &classes[u - 0x80];
                match class.len {
                    2 => {
                        norm[w..w + 2].copy_from_slice(&class.bytes[..2]);
                        w += 2;
                    }
                    SEP => break,
                    l => {
                        let l = l as usize;
                        room(norm, w + l + (n - i - 2) + 1);
                        norm[w..w + l].copy_from_slice(&class.bytes[..l]);
                        w += l;
                    }
                }
                i += 2;
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                if !is_word_char(c) {
                    break;
                }
                let mut buf = [0u8; 16];
                let mut k = 0;
                fold_with(c, |f| k += f.encode_utf8(&mut buf[k..]).len());
                i += c.len_utf8();
                room(norm, w + k + (n - i) + 1);
                norm[w..w + k].copy_from_slice(&buf[..k]);
                w += k;
            }
        }
        if w > norm_start {
            t.norm_start.push(norm_start as u32);
            t.norm_end.push(w as u32);
            t.orig.push((start as u32, i as u32));
        } else if norm_start > 0 {
            // Only dropped characters: undo the separator we wrote.
            w = norm_start - 1;
        }
    }
    norm.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        let t = tokenize(s);
        (0..t.len()).map(|i| t.token(i).to_string()).collect()
    }

    #[test]
    fn folds_case_umlauts_eszett_yo_soft_hyphen() {
        assert_eq!(
            toks("Marschflugkörper STRASSE Straße"),
            ["marschflugkorper", "strasse", "strasse"]
        );
        assert_eq!(toks("Ракета, ЁЛКА ёлка"), ["ракета", "елка", "елка"]);
        assert_eq!(
            toks("Kurz\u{ad}strecken\u{ad}raketen"),
            ["kurzstreckenraketen"]
        );
        // decomposed ö and ё
        assert_eq!(toks("Ko\u{308}rper е\u{308}"), ["korper", "е"]);
        // French accents kept
        assert_eq!(toks("L'armée tiré"), ["l", "armée", "tiré"]);
    }

    #[test]
    fn splits_hyphens_and_apostrophes_and_keeps_offsets() {
        let text = "N. Korea test-fired «Hwasong-18»; d’armes";
        let t = tokenize(text);
        let words: Vec<&str> = t
            .orig
            .iter()
            .map(|&(s, e)| &text[s as usize..e as usize])
            .collect();
        assert_eq!(
            words,
            ["N", "Korea", "test", "fired", "Hwasong", "18", "d", "armes"]
        );
        assert_eq!(t.norm, b"n korea test fired hwasong 18 d armes");
        for i in 0..t.len() {
            assert_eq!(t.token_at(t.norm_start[i] as usize), i);
            assert_eq!(t.token_at(t.norm_end[i] as usize - 1), i);
        }
    }

    #[test]
    fn fast_paths_agree_with_unicode_tables() {
        for u in 0x80u32..0x500 {
            let Some(c) = char::from_u32(u) else { continue };
            let slow_word = c.is_alphanumeric() || is_dropped(c) || (0x300..=0x36f).contains(&u);
            assert_eq!(is_word_char(c), slow_word, "U+{u:04X}");
            if matches!(c, 'ß' | 'ä' | 'Ä' | 'ö' | 'Ö' | 'ü' | 'Ü' | 'ё' | 'Ё') || is_dropped(c)
            {
                continue;
            }
            let mut got = String::new();
            fold_char(c, &mut got);
            assert_eq!(got, c.to_lowercase().collect::<String>(), "U+{u:04X}");
        }
    }

    /// The char-by-char definition the table-driven tokeniser must agree with.
    fn reference(text: &str) -> (String, Vec<(u32, u32)>) {
        let (mut norm, mut orig) = (String::new(), Vec::new());
        let mut cur: Option<(usize, String)> = None;
        let mut end = |cur: &mut Option<(usize, String)>, e: usize| {
            if let Some((s, w)) = cur.take()
                && !w.is_empty()
            {
                if !norm.is_empty() {
                    norm.push(' ');
                }
                norm.push_str(&w);
                orig.push((s as u32, e as u32));
            }
        };
        for (i, c) in text.char_indices() {
            if is_word_char(c) {
                fold_char(c, &mut cur.get_or_insert_with(|| (i, String::new())).1);
            } else {
                end(&mut cur, i);
            }
        }
        end(&mut cur, text.len());
        (norm, orig)
    }

    #[test]
    fn tokenizer_agrees_with_the_char_by_char_definition() {
        let mut text = String::new();
        for u in (0x20u32..0x800).chain(0x1e00..0x1f00).chain(0x2000..0x2070) {
            let Some(c) = char::from_u32(u) else { continue };
            text.push(c);
            text.push(if u % 3 == 0 { ' ' } else { 'Q' });
            if u % 7 == 0 {
                text.push_str("ПРИВЕТ Straße \u{ad}\u{ad} ЁЖ");
            }
        }
        let t = tokenize(&text);
        let (norm, orig) = reference(&text);
        assert_eq!(t.norm, norm.as_bytes());
        assert_eq!(t.orig, orig);
        for i in 0..t.len() {
            assert!(!t.token(i).is_empty() && !t.token(i).contains(' '));
        }
    }

    #[test]
    fn a_token_of_only_dropped_characters_vanishes() {
        let t = tokenize("a \u{ad} b");
        assert_eq!(t.norm, b"a b");
        assert_eq!(t.len(), 2);
        assert!(tokenize("  ,; ").is_empty());
    }
}
