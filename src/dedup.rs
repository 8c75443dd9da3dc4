//! Dedup, the pure part: identity keys and fingerprints. The store holds the indexes and answers
//! lookups (`store::Store` uses the bands computed here). Pure: no I/O, not async.
//! (Issue 3 refines the fingerprints; this file fixes the interface.)

use xxhash_rust::xxh3::xxh3_128;

use crate::model::Article;

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

/// Hash of the normalised title + text (hex xxh3-128).
pub fn content_hash(title: &str, text: &str) -> String {
    let mut norm = String::with_capacity(title.len() + text.len() + 1);
    for w in title
        .split_whitespace()
        .chain(std::iter::once("\u{1}"))
        .chain(text.split_whitespace())
    {
        norm.push_str(&w.to_lowercase());
        norm.push(' ');
    }
    format!("{:032x}", xxh3_128(norm.as_bytes()))
}

/// Fills the article's `content_hash` and `simhash`.
pub fn fingerprint(article: &mut Article) {
    article.content_hash = content_hash(&article.title, &article.text);
    article.simhash = simhash(&article.text);
}

/// 64-bit SimHash over word 3-shingles of the text.
pub fn simhash(text: &str) -> u64 {
    let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
    if words.is_empty() {
        return 0;
    }
    let mut acc = [0i32; 64];
    let n = if words.len() >= 3 { words.len() - 2 } else { 1 };
    for i in 0..n {
        let sh = words[i..(i + 3).min(words.len())].join(" ");
        let h = xxhash_rust::xxh3::xxh3_64(sh.as_bytes());
        for (b, a) in acc.iter_mut().enumerate() {
            if h >> b & 1 == 1 { *a += 1 } else { *a -= 1 }
        }
    }
    acc.iter()
        .enumerate()
        .fold(0u64, |s, (b, &a)| if a > 0 { s | 1 << b } else { s })
}

/// The four 16-bit bands of a SimHash: two fingerprints within Hamming distance 3 share at least one.
pub fn bands(h: u64) -> [i64; 4] {
    [
        (h & 0xffff) as i64,
        (h >> 16 & 0xffff) as i64,
        (h >> 32 & 0xffff) as i64,
        (h >> 48 & 0xffff) as i64,
    ]
}

pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}
