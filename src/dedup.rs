//! Dedup, the pure part: identity keys and fingerprints. The store holds the indexes and answers
//! lookups (`store::Store` uses the bands computed here). Pure: no I/O, not async.
//!
//! The near-duplicate fingerprint is a 64-bit SimHash over word 3-shingles of the *start of the
//! body*: the first `SIMHASH_WORDS` words of the lines (paragraphs) that have at least
//! `MIN_PARA_WORDS` words, lowercased, split on anything that is not a letter or digit. The title is left out, so a
//! copy whose title carries another site's suffix gets the same fingerprint; short paragraphs
//! (bylines, photo credits, "Share this") and everything after the first `SIMHASH_WORDS` words
//! (footers, "appeared first on", comment prompts) are left out, so syndicated copies of one text
//! land within a few bits of each other while different stories on the same event stay ~16+ bits
//! apart (measured on the topics dev set). Invariants: deterministic across runs and platforms
//! (xxh3, no seeded hasher); `simhash("") == 0`.

use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use crate::model::Article;

/// Words of the body's start that make the fingerprint.
pub const SIMHASH_WORDS: usize = 64;
/// Paragraphs shorter than this (bylines, captions, share prompts) do not count for the fingerprint.
pub const MIN_PARA_WORDS: usize = 8;
/// Words per shingle.
pub const SHINGLE: usize = 3;

/// The exact-identity key of an article in a feed: (feed, guid), else the canonical link, else a
/// hash of the normalised title and text. Unique in the schema.
pub fn identity_key(feed_id: i64, article: &Article) -> String {
    if let Some(g) = &article.guid {
        return format!("g:{feed_id}:{g}");
    }
    if let Some(l) = &article.canonical_link {
        return format!("l:{l}");
    }
    format!("h:{}", article.content_hash)
}

/// Hash of the normalised title + text (hex xxh3-128): the words, lowercased, each followed by a
/// space, with `\u{1}` between title and text.
pub fn content_hash(title: &str, text: &str) -> String {
    let mut norm = String::with_capacity(title.len() + text.len() + 2);
    push_words_lower(&mut norm, title);
    norm.push_str("\u{1} ");
    push_words_lower(&mut norm, text);
    format!("{:032x}", xxh3_128(norm.as_bytes()))
}

/// Appends each word of `s` (as `split_whitespace` splits) lowercased and followed by a space.
/// The same as the iterator version, scanning bytes and decoding only non-ASCII characters.
fn push_words_lower(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // The char at `i` and its length, when it is whitespace.
    let space_at = |i: usize| -> Option<usize> {
        let b = bytes[i];
        if b < 0x80 {
            matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r').then_some(1)
        } else {
            let c = s[i..].chars().next().expect("char boundary");
            c.is_whitespace().then(|| c.len_utf8())
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        if let Some(n) = space_at(i) {
            i += n;
            continue;
        }
        let start = i;
        while i < bytes.len() && space_at(i).is_none() {
            i += if bytes[i] < 0x80 {
                1
            } else {
                s[i..].chars().next().map_or(1, char::len_utf8)
            };
        }
        push_lower(out, &s[start..i]);
        out.push(' ');
    }
}

/// Appends `w.to_lowercase()` without allocating for ASCII words (the common case).
fn push_lower(out: &mut String, w: &str) {
    if w.is_ascii() {
        let start = out.len();
        out.push_str(w);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&w.to_lowercase());
    }
}

/// Fills the article's `content_hash`, `simhash` and `fingerprint_words`.
pub fn fingerprint(article: &mut Article) {
    article.content_hash = content_hash(&article.title, &article.text);
    let words = FingerprintWords::of(&article.text);
    article.simhash = words.simhash();
    article.fingerprint_words = words.len();
}

/// The fingerprint words of a text, lowercased, in one buffer separated by single spaces, so that
/// a shingle (consecutive words joined by a space) is a slice of the buffer.
struct FingerprintWords {
    buf: String,
    /// (start, end) of each word in `buf`.
    spans: Vec<(u32, u32)>,
}

impl FingerprintWords {
    fn of(text: &str) -> FingerprintWords {
        fn words(p: &str) -> impl Iterator<Item = &str> {
            p.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
        }
        let mut fw = FingerprintWords {
            buf: String::with_capacity(SIMHASH_WORDS * 8),
            spans: Vec::with_capacity(SIMHASH_WORDS),
        };
        let mut para: Vec<&str> = Vec::with_capacity(SIMHASH_WORDS);
        for p in text.split('\n') {
            let room = SIMHASH_WORDS - fw.spans.len();
            para.clear();
            para.extend(words(p).take(room.max(MIN_PARA_WORDS)));
            if para.len() < MIN_PARA_WORDS {
                continue;
            }
            for w in para.iter().take(room) {
                fw.push(w);
            }
            if fw.spans.len() == SIMHASH_WORDS {
                return fw;
            }
        }
        if fw.spans.is_empty() {
            // only short paragraphs: take them all
            for w in words(text).take(SIMHASH_WORDS) {
                fw.push(w);
            }
        }
        fw
    }

    fn push(&mut self, w: &str) {
        if !self.buf.is_empty() {
            self.buf.push(' ');
        }
        let start = self.buf.len() as u32;
        push_lower(&mut self.buf, w);
        self.spans.push((start, self.buf.len() as u32));
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    /// 64-bit SimHash over the word 3-shingles.
    fn simhash(&self) -> u64 {
        let words = self.spans.len();
        if words == 0 {
            return 0;
        }
        // Bit b of the SimHash is set when more than half of the shingle hashes have it set:
        // count the ones per bit, a byte of the hash at a time through a table of its 8 bits.
        const BITS: [[u32; 8]; 256] = {
            let mut t = [[0u32; 8]; 256];
            let mut v = 0;
            while v < 256 {
                let mut b = 0;
                while b < 8 {
                    t[v][b] = (v as u32 >> b) & 1;
                    b += 1;
                }
                v += 1;
            }
            t
        };
        let mut ones = [0u32; 64];
        let n = words.saturating_sub(SHINGLE - 1).max(1);
        for i in 0..n {
            let start = self.spans[i].0 as usize;
            let end = self.spans[(i + SHINGLE).min(words) - 1].1 as usize;
            let h = xxh3_64(&self.buf.as_bytes()[start..end]);
            for (k, chunk) in ones.chunks_exact_mut(8).enumerate() {
                let row = &BITS[(h >> (8 * k)) as usize & 0xff];
                for (o, r) in chunk.iter_mut().zip(row) {
                    *o += r;
                }
            }
        }
        ones.iter().enumerate().fold(
            0u64,
            |s, (b, &o)| if 2 * o as usize > n { s | 1 << b } else { s },
        )
    }
}

/// Jaccard similarity of the word 3-shingle sets of two texts (lines of at least
/// `MIN_PARA_WORDS` words, whole length). Verifies a SimHash candidate: a common footer on two
/// different short teasers can bring their SimHashes together, but not their shingle sets.
pub fn similarity(a: &str, b: &str) -> f64 {
    fn shingles(t: &str) -> std::collections::HashSet<u64> {
        let mut words: Vec<String> = Vec::new();
        let words_of = |p: &str| {
            p.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        };
        for line in t.split('\n') {
            let w = words_of(line);
            if w.len() >= MIN_PARA_WORDS {
                words.extend(w);
            }
        }
        if words.is_empty() {
            words = words_of(t);
        }
        let n = words.len().saturating_sub(SHINGLE - 1).max(1);
        (0..n)
            .filter(|&i| i < words.len())
            .map(|i| {
                xxh3_64(
                    words[i..(i + SHINGLE).min(words.len())]
                        .join(" ")
                        .as_bytes(),
                )
            })
            .collect()
    }
    let (x, y) = (shingles(a), shingles(b));
    if x.is_empty() && y.is_empty() {
        return 1.0;
    }
    let inter = x.intersection(&y).count();
    inter as f64 / (x.len() + y.len() - inter) as f64
}

/// 64-bit SimHash over word shingles of the start of the body.
pub fn simhash(text: &str) -> u64 {
    FingerprintWords::of(text).simhash()
}

/// The four 16-bit bands of a SimHash: two fingerprints within Hamming distance 3 share at least
/// one band exactly, and within distance 7 at least one band differs in at most one bit (the store
/// probes the 16 one-bit neighbours of each band for `max_distance` 4..=7).
pub fn bands(h: u64) -> [i64; 4] {
    [
        (h & 0xffff) as i64,
        (h >> 16 & 0xffff) as i64,
        (h >> 32 & 0xffff) as i64,
        (h >> 48 & 0xffff) as i64,
    ]
}

/// A band value and its 16 one-bit neighbours.
pub fn band_probes(band: i64) -> [i64; 17] {
    let mut p = [band; 17];
    for (bit, v) in p[1..].iter_mut().enumerate() {
        *v = band ^ (1 << bit);
    }
    p
}

pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "Der nordkoreanische Staatschef Kim Jong Un wurde am Mittwochmorgen vom russischen Präsidenten Wladimir Putin begrüßt. Die beiden Staats- und Regierungschefs wollten über die Lieferung von Munition sprechen.\n\nKims Besuch findet statt, während Russland versucht, Artilleriemunition von Nordkorea für seine Invasion in der Ukraine zu kaufen, sagte ein westlicher Beamter.\n\nDer Gipfel begann nur wenige Stunden, nachdem Pjöngjang zwei ballistische Kurzstreckenraketen abgefeuert hatte.";

    #[test]
    fn footer_byline_and_punctuation_do_not_move_the_fingerprint() {
        let h = simhash(BODY);
        let copy = format!(
            "Von unserem Korrespondenten\n\n{}\n\nDieser Artikel erschien zuerst bei Example News. Folgen Sie uns für mehr.",
            BODY.replace('„', "\"")
        );
        assert!(
            hamming(h, simhash(&copy)) <= 3,
            "{}",
            hamming(h, simhash(&copy))
        );
    }

    #[test]
    fn other_story_is_far() {
        let other = "Nordkorea hat nach Angaben des südkoreanischen Militärs erneut Raketen getestet. Die Geschosse flogen rund 600 Kilometer weit und stürzten ins Meer, teilte der Generalstab in Seoul mit. Japan protestierte scharf gegen den Test.";
        assert!(hamming(simhash(BODY), simhash(other)) > 10);
    }

    #[test]
    fn similarity_separates_teasers_with_a_common_footer() {
        let f = "This article was republished from Example Wire under a content sharing agreement with partners.";
        let x =
            format!("Kim arrived by armoured train at the cosmodrome for talks with Putin.\n\n{f}");
        let y = format!(
            "Seoul said the two missiles flew about six hundred kilometres before falling.\n\n{f}"
        );
        assert!(similarity(&x, &y) < 0.5);
        assert!(similarity(BODY, &format!("{BODY}\n\n{f}")) > 0.7);
    }

    #[test]
    fn content_hash_words_are_split_like_split_whitespace() {
        for t in [
            "",
            "  Ünïcödé\u{a0}Wörds\tand\u{85}NEL  ΣΊΣΥΦΟΣ ΟΔΟΣ\u{3000}x ",
            "one\u{b}two\u{c}three\r\nfour",
        ] {
            let mut fast = String::new();
            push_words_lower(&mut fast, t);
            let slow: String = t
                .split_whitespace()
                .map(|w| w.to_lowercase() + " ")
                .collect();
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn probes_cover_one_bit() {
        let p = band_probes(0b101);
        assert_eq!(p[0], 0b101);
        assert!(p.contains(&0b100) && p.contains(&(0b101 | 1 << 15)));
        assert_eq!(simhash(""), 0);
    }
}
