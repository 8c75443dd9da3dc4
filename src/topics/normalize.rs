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
    /// Folded tokens, joined by single spaces.
    pub norm: String,
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
        &self.norm[self.norm_start[i] as usize..self.norm_end[i] as usize]
    }

    /// The index of the token containing byte `at` of `norm` (at must not be a separator).
    pub fn token_at(&self, at: usize) -> usize {
        self.norm_start.partition_point(|&s| s as usize <= at) - 1
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

/// Appends the folded form of `c` to `out`.
#[inline]
pub fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ä' | 'Ä' => out.push('a'),
        'ö' | 'Ö' => out.push('o'),
        'ü' | 'Ü' => out.push('u'),
        'ё' | 'Ё' => out.push('е'),
        c if is_dropped(c) => {}
        // Fast paths for the common upper-case letters: Cyrillic А-Я, Ѐ-Џ and Latin-1 À-Þ.
        'А'..='Я' | 'À'..='Þ' if c != '×' => {
            out.push(char::from_u32(c as u32 + 0x20).expect("a letter"));
        }
        'Ѐ'..='Џ' => out.push(char::from_u32(c as u32 + 0x50).expect("a letter")),
        'а'..='я' | 'ß'..='ÿ' | 'ѐ'..='џ' => out.push(c),
        c => {
            for l in c.to_lowercase() {
                out.push(l);
            }
        }
    }
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

/// [`tokenize`] into `t`, reusing its buffers (the matcher keeps one per thread of work).
pub fn tokenize_into(text: &str, t: &mut Tokens) {
    t.norm.clear();
    t.norm_start.clear();
    t.norm_end.clear();
    t.orig.clear();
    t.norm.reserve(text.len() + 8);
    let mut start: Option<usize> = None;
    let mut norm_start = 0usize;
    let close = |t: &mut Tokens, s: usize, e: usize, ns: usize| {
        if t.norm.len() > ns {
            t.norm_start.push(ns as u32);
            t.norm_end.push(t.norm.len() as u32);
            t.orig.push((s as u32, e as u32));
        } else if ns > 0 {
            // Only dropped characters: undo the separator we pushed.
            t.norm.truncate(ns - 1);
        }
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // ASCII bytes are classified and folded without decoding a char.
        let b = bytes[i];
        let (word, c) = if b.is_ascii() {
            (b.is_ascii_alphanumeric(), b as char)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (is_word_char(c), c)
        };
        let len = c.len_utf8();
        if word {
            if start.is_none() {
                start = Some(i);
                if !t.norm.is_empty() {
                    t.norm.push(' ');
                }
                norm_start = t.norm.len();
            }
            if len == 1 {
                t.norm.push(b.to_ascii_lowercase() as char);
            } else {
                fold_char(c, &mut t.norm);
            }
        } else if let Some(s) = start.take() {
            close(t, s, i, norm_start);
        }
        i += len;
    }
    if let Some(s) = start {
        close(t, s, text.len(), norm_start);
    }
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
        assert_eq!(t.norm, "n korea test fired hwasong 18 d armes");
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

    #[test]
    fn a_token_of_only_dropped_characters_vanishes() {
        let t = tokenize("a \u{ad} b");
        assert_eq!(t.norm, "a b");
        assert_eq!(t.len(), 2);
        assert!(tokenize("  ,; ").is_empty());
    }
}
