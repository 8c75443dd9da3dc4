//! Dedup, the pure part: identity keys, fingerprints and the near-duplicate verdict. The store
//! holds the indexes and answers lookups (`store::articles` uses the keys computed here). Pure: no
//! I/O, not async.
//!
//! **Identity.** Every item a feed carries has one key: `g:feed:guid`, else `l:feed:canonical link`
//! when the link names one article (not a site's front page), else `h:feed:content hash`. It is
//! stored whether the item became an article (`articles.identity`) or a sighting
//! (`sightings.item`), unique in the schema, so a re-polled item is recognised in one lookup.
//!
//! **The text a fingerprint sees (its core).** The body's lines (paragraphs) of at least
//! `MIN_LINE_WORDS` words, as lowercase words split on anything that is not a letter or digit (so
//! straight, typographic and angle quotes, apostrophes and dashes all vanish alike), with the wire
//! edits undone: a `[CITY ](Agency) - ` dateline at the start of one of the first lines is cut, and a
//! line that is all parentheses (`(Adds background in paragraphs 3-4)`) is dropped. Short lines
//! (nav bars, share prompts, "Related:", bylines) are out by length; lines that recur in several
//! items of the same fetch (a feed's own header and footer) are left out by `fingerprint_feed`
//! when the item keeps at least half of its words (else it is the same story twice, and keeps
//! them). The title is never used: `UPDATE 1-` prefixes and `| Outlet`
//! suffixes cannot move anything.
//!
//! **Candidates: MinHash over word 3-shingles of the core.** For each of `BANDS` hash functions
//! the article stores the smallest shingle hash (one indexed column per function). A lookup probes
//! each column with the `PROBES` smallest values of the new text. An original's minimum is found
//! whenever it is among the new text's few smallest, which holds whenever the original's minimum
//! shingle survives in the copy — with probability its share of shingles the copy kept (the
//! containment), not the Jaccard similarity. So boilerplate *added* around a copy (a header, a
//! footer, a "Related:" list) can take a copy's minimum but cannot hide the original's: a
//! prefix or suffix of boilerplate cannot move the lookup. Cut or edited text misses one
//! function with probability ≈ its share of lost shingles; all four must miss.
//!
//! **Verdict (`Verdict::of`), on the two cores.** `full` = Jaccard similarity of the shingle sets.
//! Then the lines the two texts share *at their start and their end* (outlet nav, footer, share
//! lines) are set aside; if what remains of both is still a real part of each text (at least
//! `MIDDLE_SHARE` of its words), that remainder is the story, and `body` = its Jaccard
//! similarity; otherwise (one text is the other plus or minus whole lines) `body` = `full`.
//! The score is `min(full, body)`: a copy keeps its body (edited copies score 0.6–1.0), two
//! different stories wrapped in the same long outlet footer score ≈ 0 on their bodies. An item is
//! a near-duplicate when the score reaches `MIN_SIMILARITY` (`SHORT_MIN_SIMILARITY` for a core of
//! fewer than `NEAR_DUP_MIN_WORDS` words; none below `SHORT_DUP_MIN_WORDS`: too few shingles to
//! say anything).
//!
//! Cost: each text is read once, byte by byte (ASCII split and lowercased without decoding);
//! `fingerprint_feed` cuts the feed's lines out of that core instead of reading the text again;
//! shingle sets are compared as sorted vectors; a core hashes its shingles once and keeps its
//! whole set, so a text verified against several candidates is hashed and sorted once.
//!
//! Invariants: deterministic across runs and platforms (xxh3 and fixed seeds, no seeded hasher);
//! an empty text has no keys (`Fingerprint::default`).

use std::cell::OnceCell;

use rustc_hash::{FxHashMap, FxHashSet};
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use crate::model::Article;

/// Hash functions, one stored (indexed) key each.
pub const BANDS: usize = 4;
/// Smallest values of each function probed on lookup.
pub const PROBES: usize = 3;
/// Lines shorter than this (bylines, captions, share prompts, nav bars) are not part of the core.
pub const MIN_LINE_WORDS: usize = 8;
/// Words per shingle.
pub const SHINGLE: usize = 3;
/// Fewest core words for any near-duplicate decision.
pub const SHORT_DUP_MIN_WORDS: usize = 10;
/// Below this many core words, a near-duplicate needs `SHORT_MIN_SIMILARITY`.
pub const NEAR_DUP_MIN_WORDS: usize = 25;
/// Score (see the module header) from which a candidate is the same story.
pub const MIN_SIMILARITY: f64 = 0.4;
pub const SHORT_MIN_SIMILARITY: f64 = 0.8;
/// Share of a text's words the lines between the shared start and end must keep to be compared on
/// their own.
pub const MIDDLE_SHARE: f64 = 0.15;
/// Lines recurring in at least this many items of one fetch are the feed's boilerplate.
const FEED_LINE_ITEMS: usize = 2;

const SEEDS: [u64; BANDS] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x85eb_ca77_c2b2_ae63,
];

/// The near-duplicate fingerprint of an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Per hash function, the `PROBES` smallest shingle hashes of the core, ascending;
    /// `u64::MAX` where the core has fewer shingles.
    pub mins: [[u64; PROBES]; BANDS],
    /// Words in the core.
    pub words: usize,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            mins: [[u64::MAX; PROBES]; BANDS],
            words: 0,
        }
    }
}

impl Fingerprint {
    /// The stored keys: each function's minimum (`-1` for an empty text).
    pub fn bands(&self) -> [i64; BANDS] {
        std::array::from_fn(|i| self.mins[i][0] as i64)
    }

    /// The values to probe band `i` with: the function's smallest values, none for an empty text.
    pub fn probes(&self, i: usize) -> impl Iterator<Item = i64> + '_ {
        self.mins[i]
            .iter()
            .filter(|&&v| v != u64::MAX)
            .map(|&v| v as i64)
    }
}

/// The identity key of an item in a feed: `g:feed:guid`, else `l:feed:canonical link` when the
/// link names one article, else `h:feed:content hash`. Unique in the schema.
pub fn identity_key(feed_id: i64, article: &Article) -> String {
    if let Some(g) = &article.guid {
        return format!("g:{feed_id}:{g}");
    }
    if let Some(l) = &article.canonical_link
        && specific_link(l)
    {
        return format!("l:{feed_id}:{l}");
    }
    format!("h:{feed_id}:{}", article.content_hash)
}

/// Whether a canonical link is specific enough to identify one article: a site's front page (no
/// path, no query) is the link of every item in some feeds.
pub fn specific_link(l: &str) -> bool {
    if let Some((_, rest)) = crate::clean::url::split_canonical(l) {
        let (path, query) = rest
            .split_once('?')
            .map_or((rest, None), |(p, q)| (p, Some(q)));
        return !path.trim_matches('/').is_empty() || query.is_some();
    }
    match url::Url::parse(l) {
        Ok(u) => !u.path().trim_matches('/').is_empty() || u.query().is_some(),
        Err(_) => !l.is_empty(),
    }
}

/// Hash of the normalised title + text (hex xxh3-128): the words, lowercased, each followed by a
/// space, with `\u{1}` between title and text.
pub fn content_hash(title: &str, text: &str) -> String {
    let mut norm = Vec::with_capacity(title.len() + text.len() + 4);
    push_words_lower(&mut norm, title);
    norm.extend_from_slice("\u{1} ".as_bytes());
    push_words_lower(&mut norm, text);
    format!("{:032x}", xxh3_128(&norm))
}

/// Appends each word of `s` (as `split_whitespace` splits) lowercased and followed by a space.
fn push_words_lower(out: &mut Vec<u8>, s: &str) {
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let words = Words {
        ascii: |b| !space(b),
        wide: |c: char| !c.is_whitespace(),
    };
    words.push(out, s, |_| {}, |out, _| out.push(b' '));
}

/// Which characters make words: `ascii` for ASCII bytes, `wide` for the others.
struct Words<A, W> {
    ascii: A,
    wide: W,
}

impl<A: Fn(u8) -> bool, W: Fn(char) -> bool> Words<A, W> {
    /// Appends the words of `s` (maximal runs of word characters) lowercased to `out`, calling
    /// `start(out)` before and `end(out, from)` after each (`from`: where it starts in `out`).
    /// One byte at a time: ASCII is copied lowercased as it is read, only other characters are
    /// decoded, and a word that holds any is lowercased whole (as `str::to_lowercase` does, a
    /// final sigma included).
    fn push(
        &self,
        out: &mut Vec<u8>,
        s: &str,
        mut start: impl FnMut(&mut Vec<u8>),
        mut end: impl FnMut(&mut Vec<u8>, usize),
    ) {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if !(self.ascii)(b) {
                    i += 1;
                    continue;
                }
            } else if let (n, false) = self.decode(s, i) {
                i += n;
                continue;
            }
            start(out);
            let (first, from, mut ascii) = (i, out.len(), true);
            while i < bytes.len() {
                let b = bytes[i];
                if b < 0x80 {
                    if !(self.ascii)(b) {
                        break;
                    }
                    out.push(b.to_ascii_lowercase());
                    i += 1;
                } else {
                    match self.decode(s, i) {
                        (_, false) => break,
                        (n, true) => {
                            ascii = false;
                            i += n;
                        }
                    }
                }
            }
            if !ascii {
                out.truncate(from);
                out.extend_from_slice(s[first..i].to_lowercase().as_bytes());
            }
            end(out, from);
        }
    }

    /// The length of the (non-ASCII) char at `i` and whether it is a word character.
    #[inline(never)]
    fn decode(&self, s: &str, i: usize) -> (usize, bool) {
        let c = s[i..].chars().next().expect("char boundary");
        (c.len_utf8(), (self.wide)(c))
    }
}

/// Fills the article's `content_hash` and `fingerprint`, on its own (no feed boilerplate known).
pub fn fingerprint(article: &mut Article) {
    article.content_hash = content_hash(&article.title, &article.text);
    article.fingerprint = Core::of(&article.text).fingerprint();
}

/// Fills `content_hash` and `fingerprint` of the items of one fetch, leaving out of each core the
/// lines that recur in several of them (the feed's own header and footer). Each text is read once.
pub fn fingerprint_feed(articles: &mut [Article]) {
    let cores: Vec<Core> = articles
        .iter()
        .map(|a| Core::lines_of(&a.text, MIN_LINE_WORDS))
        .collect();
    let hashes: Vec<Vec<u64>> = cores.iter().map(Core::line_hashes).collect();
    let mut items_per_line: FxHashMap<u64, usize> = FxHashMap::default();
    let mut seen = FxHashSet::default();
    for h in &hashes {
        seen.clear();
        for &x in h {
            if seen.insert(x) {
                *items_per_line.entry(x).or_default() += 1;
            }
        }
    }
    let boilerplate: FxHashSet<u64> = items_per_line
        .into_iter()
        .filter(|&(_, n)| n >= FEED_LINE_ITEMS)
        .map(|(h, _)| h)
        .collect();
    for ((a, core), h) in articles.iter_mut().zip(cores).zip(&hashes) {
        a.content_hash = content_hash(&a.title, &a.text);
        let core = core.without(h, &boilerplate);
        a.fingerprint = if core.spans.is_empty() {
            // only short lines: take them all
            Core::lines_of(&a.text, 1).fingerprint()
        } else {
            core.fingerprint()
        };
    }
}

/// The core of a text (see the module header): its words lowercased in one buffer separated by
/// single spaces (so a shingle is a slice of it), and where each kept line starts and ends.
pub struct Core {
    /// UTF-8: whole words and single spaces.
    buf: Vec<u8>,
    /// (start, end) of each word in `buf`.
    spans: Vec<(u32, u32)>,
    /// Word index ranges of the kept lines.
    lines: Vec<(usize, usize)>,
    /// The hash of the shingle starting at each word (see `shingles`), once a verdict needs them.
    at: OnceCell<Vec<u64>>,
    /// The distinct shingle hashes of the whole core, sorted, once a verdict needs them.
    set: OnceCell<Vec<u64>>,
}

impl Core {
    /// The core of `text` on its own: its lines of `MIN_LINE_WORDS` words or more, or all its
    /// lines when none is that long.
    pub fn of(text: &str) -> Core {
        let c = Core::lines_of(text, MIN_LINE_WORDS);
        if c.spans.is_empty() {
            Core::lines_of(text, 1)
        } else {
            c
        }
    }

    /// The lines of `text` of at least `min_words` words, wire notes and datelines cut. One pass
    /// over the bytes: ASCII is split and lowercased in place, only other characters are decoded.
    fn lines_of(text: &str, min_words: usize) -> Core {
        let mut c = Core {
            buf: Vec::with_capacity(text.len()),
            spans: Vec::with_capacity(text.len() / 5 + 1),
            lines: Vec::new(),
            at: OnceCell::new(),
            set: OnceCell::new(),
        };
        for (n, line) in text
            .split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            if line.starts_with('(') && line.ends_with(')') {
                continue; // a wire note: "(Adds background in paragraphs 3-4)"
            }
            let line = if n < 3 { strip_dateline(line) } else { line };
            let (buf_len, first) = (c.buf.len(), c.spans.len());
            c.push_words(line);
            if c.spans.len() - first >= min_words {
                c.lines.push((first, c.spans.len()));
            } else {
                c.buf.truncate(buf_len);
                c.spans.truncate(first);
            }
        }
        c
    }

    /// Appends the words of `line` (maximal runs of letters and digits), lowercased.
    fn push_words(&mut self, line: &str) {
        let words = Words {
            ascii: |b: u8| b.is_ascii_alphanumeric(),
            wide: char::is_alphanumeric,
        };
        let spans = &mut self.spans;
        words.push(
            &mut self.buf,
            line,
            |buf| {
                if !buf.is_empty() {
                    buf.push(b' ');
                }
            },
            |buf, from| spans.push((from as u32, buf.len() as u32)),
        );
    }

    /// The core without the lines whose hash (`hashes`, one per line) is in `skip`, unless the
    /// text would keep fewer than half its words or fewer than `MIN_LINE_WORDS`: an item that is
    /// mostly lines other items of its fetch also carry (the same story twice) keeps them.
    fn without(self, hashes: &[u64], skip: &FxHashSet<u64>) -> Core {
        if skip.is_empty() || !hashes.iter().any(|h| skip.contains(h)) {
            return self;
        }
        let kept = || {
            self.lines
                .iter()
                .zip(hashes)
                .filter(|(_, h)| !skip.contains(*h))
                .map(|(&l, _)| l)
        };
        let words: usize = kept().map(|(f, t)| t - f).sum();
        if 2 * words < self.spans.len() || words < MIN_LINE_WORDS {
            return self;
        }
        let mut c = Core {
            buf: Vec::with_capacity(self.buf.len()),
            spans: Vec::with_capacity(words),
            lines: Vec::new(),
            at: OnceCell::new(),
            set: OnceCell::new(),
        };
        for (f, t) in kept() {
            if !c.buf.is_empty() {
                c.buf.push(b' ');
            }
            let (from, first) = (self.spans[f].0, c.spans.len());
            let shift = c.buf.len() as u32;
            c.buf
                .extend_from_slice(&self.buf[from as usize..self.spans[t - 1].1 as usize]);
            c.spans.extend(
                self.spans[f..t]
                    .iter()
                    .map(|&(s, e)| (s - from + shift, e - from + shift)),
            );
            c.lines.push((first, c.spans.len()));
        }
        c
    }

    /// Hash of the words `from..to` (as they stand in the buffer, space-separated).
    fn hash_words(&self, from: usize, to: usize) -> u64 {
        if from >= to {
            return 0;
        }
        let (s, e) = (self.spans[from].0 as usize, self.spans[to - 1].1 as usize);
        xxh3_64(&self.buf[s..e])
    }

    fn line_hashes(&self) -> Vec<u64> {
        self.lines
            .iter()
            .map(|&(f, t)| self.hash_words(f, t))
            .collect()
    }

    pub fn words(&self) -> usize {
        self.spans.len()
    }

    /// The shingle hashes of the words `from..to` (one shingle for fewer than `SHINGLE` words).
    fn shingles(&self, from: usize, to: usize) -> impl Iterator<Item = u64> + '_ {
        let n = (to - from).saturating_sub(SHINGLE - 1).max(1);
        (0..n)
            .map(move |i| from + i)
            .filter(move |&i| i < to)
            .map(move |i| self.hash_words(i, (i + SHINGLE).min(to)))
    }

    /// The distinct shingle hashes of the words `from..to`, sorted. A range of `SHINGLE` words or
    /// more takes its shingles from the core's (each hashed once per core); the whole core's set
    /// is kept, so a text compared with several candidates is hashed and sorted once.
    fn shingle_set(&self, from: usize, to: usize) -> Vec<u64> {
        if to - from < SHINGLE {
            let mut v: Vec<u64> = self.shingles(from, to).collect();
            v.sort_unstable();
            v.dedup();
            return v;
        }
        let at = self
            .at
            .get_or_init(|| self.shingles(0, self.spans.len()).collect());
        let mut v = at[from..=to - SHINGLE].to_vec();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The distinct shingle hashes of the whole core, sorted.
    fn full_set(&self) -> &[u64] {
        self.set
            .get_or_init(|| self.shingle_set(0, self.spans.len()))
    }

    /// MinHash keys of the whole core.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut f = Fingerprint {
            words: self.spans.len(),
            ..Default::default()
        };
        if self.spans.is_empty() {
            return f;
        }
        for h in self.shingles(0, self.spans.len()) {
            for (i, mins) in f.mins.iter_mut().enumerate() {
                let v = mix(h ^ SEEDS[i]);
                if v >= mins[PROBES - 1] || mins.contains(&v) {
                    continue;
                }
                // insert in order, dropping the largest
                let mut k = PROBES - 1;
                while k > 0 && mins[k - 1] > v {
                    mins[k] = mins[k - 1];
                    k -= 1;
                }
                mins[k] = v;
            }
        }
        f
    }
}

/// splitmix64's finaliser: one shingle hash becomes `BANDS` independent ones.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Cuts a wire dateline off the start of a line: `LONDON (Global Wire) - `, `(Agency) — `,
/// `PARIS, Jan 5 (Agency) - ` (at most 50 characters before the parenthesis, at most 40 inside it).
fn strip_dateline(line: &str) -> &str {
    let Some(open) = line.find('(') else {
        return line;
    };
    let before = &line[..open];
    if open > 50 || before.contains([')', '.', '!', '?', ':']) {
        return line;
    }
    // a place in capitals, or nothing, before the agency
    let first = before.split([' ', ',']).next().unwrap_or("");
    if !before.trim().is_empty()
        && (first.chars().count() < 2 || first.chars().any(|c| c.is_lowercase()))
    {
        return line;
    }
    let Some(close) = line[open..].find(')').map(|c| open + c) else {
        return line;
    };
    if close - open > 40 {
        return line;
    }
    let rest = line[close + 1..].trim_start();
    match rest.strip_prefix(['-', '–', '—']) {
        Some(after) if after.starts_with(char::is_whitespace) => after.trim_start(),
        _ => line,
    }
}

/// How two texts compare (see the module header).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Jaccard similarity of the two cores' shingle sets.
    pub full: f64,
    /// The same, of the lines between the lines the two texts share at their start and end, when
    /// those are a real part of both texts; else `full`.
    pub body: f64,
}

impl Verdict {
    /// Compares a new text with a stored candidate's text (both as their cores).
    pub fn of(a: &Core, b: &Core) -> Verdict {
        let full = jaccard(a.full_set(), b.full_set());
        fn line(c: &Core, (f, t): (usize, usize)) -> &[u8] {
            &c.buf[c.spans[f].0 as usize..c.spans[t - 1].1 as usize]
        }
        let (la, lb) = (&a.lines, &b.lines);
        let n = la.len().min(lb.len());
        let mut head = 0;
        while head < n && line(a, la[head]) == line(b, lb[head]) {
            head += 1;
        }
        let mut tail = 0;
        while tail < n - head
            && line(a, la[la.len() - 1 - tail]) == line(b, lb[lb.len() - 1 - tail])
        {
            tail += 1;
        }
        let middle = |c: &Core, l: &[(usize, usize)]| -> Option<(usize, usize)> {
            let inner = &l[head..l.len() - tail];
            let (f, t) = (inner.first()?.0, inner.last()?.1);
            let share = (t - f) as f64 / c.words().max(1) as f64;
            (share >= MIDDLE_SHARE && t - f >= SHINGLE).then_some((f, t))
        };
        let body = match (middle(a, la), middle(b, lb)) {
            (Some((af, at)), Some((bf, bt))) if head + tail > 0 => {
                jaccard(&a.shingle_set(af, at), &b.shingle_set(bf, bt))
            }
            _ => full,
        };
        Verdict { full, body }
    }

    pub fn score(&self) -> f64 {
        self.full.min(self.body)
    }

    /// Whether a text of `words` core words and a candidate with this verdict are one story.
    pub fn same_story(&self, words: usize) -> bool {
        if words < SHORT_DUP_MIN_WORDS {
            return false;
        }
        let min = if words < NEAR_DUP_MIN_WORDS {
            SHORT_MIN_SIMILARITY
        } else {
            MIN_SIMILARITY
        };
        self.score() >= min
    }
}

/// Jaccard similarity of two sorted sets.
fn jaccard(x: &[u64], y: &[u64]) -> f64 {
    if x.is_empty() && y.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (x.len() + y.len() - inter) as f64
}

/// The verdict on two texts (each as its core, no feed boilerplate known).
pub fn compare(a: &str, b: &str) -> Verdict {
    Verdict::of(&Core::of(a), &Core::of(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "Der nordkoreanische Staatschef Kim Jong Un wurde am Mittwochmorgen vom russischen Präsidenten Wladimir Putin begrüßt. Die beiden Staats- und Regierungschefs wollten über die Lieferung von Munition sprechen.\n\nKims Besuch findet statt, während Russland versucht, Artilleriemunition von Nordkorea für seine Invasion in der Ukraine zu kaufen, sagte ein westlicher Beamter.\n\nDer Gipfel begann nur wenige Stunden, nachdem Pjöngjang zwei ballistische Kurzstreckenraketen abgefeuert hatte.";

    fn fp(t: &str) -> Fingerprint {
        Core::of(t).fingerprint()
    }

    #[test]
    fn dateline_quotes_and_wire_note_do_not_change_the_core() {
        let copy = format!(
            "(Ergänzt Hintergrund in Absatz 3)\n\nBERLIN (Global Wire) - {}",
            BODY.replace(['„', '“'], "\"")
        );
        assert_eq!(fp(BODY), fp(&copy));
        assert_eq!(strip_dateline("PARIS, Jan 5 (Agency) — Text"), "Text");
        assert_eq!(strip_dateline("(Agency) - Text"), "Text");
        for not in [
            "Die Partei (SPD) - so hieß es - lehnte ab.",
            "EIN Satz. Dann (X) - mehr",
            "LONDON (Reuters) -kein Abstand",
        ] {
            assert_eq!(strip_dateline(not), not);
        }
    }

    #[test]
    fn added_boilerplate_keeps_a_copy_findable() {
        let copy = format!(
            "Startseite | Nachrichten | Welt | Wirtschaft | Sport | Kultur | Meinung | Abo\n\n{BODY}\n\nDieser Artikel erschien zuerst bei Example News. Er wird hier im Rahmen einer Partnerschaft veröffentlicht."
        );
        let (a, b) = (fp(BODY), fp(&copy));
        // the original's minimum of each function is among the copy's probes for most functions
        let hits = (0..BANDS)
            .filter(|&i| b.probes(i).any(|p| p == a.bands()[i]))
            .count();
        assert!(hits >= 3, "{hits}");
        assert!(compare(BODY, &copy).same_story(a.words));
    }

    #[test]
    fn other_story_is_far() {
        let other = "Nordkorea hat nach Angaben des südkoreanischen Militärs erneut Raketen getestet. Die Geschosse flogen rund 600 Kilometer weit und stürzten ins Meer, teilte der Generalstab in Seoul mit. Japan protestierte scharf gegen den Test.";
        assert!(compare(BODY, other).score() < 0.1);
        let (a, b) = (fp(BODY), fp(other));
        assert!((0..BANDS).all(|i| a.bands()[i] != b.bands()[i]));
    }

    #[test]
    fn a_shared_outlet_footer_is_set_aside() {
        let f = "This article first appeared on Example Wire and is republished here under a content sharing agreement with our partners.\n\nExample Wire is an independent newsroom funded by its readers, sign up for our free newsletter today.";
        let x = format!(
            "Kim arrived by armoured train at the cosmodrome for talks with Putin on Wednesday.\n\n{f}"
        );
        let y = format!(
            "Seoul said the two missiles flew about six hundred kilometres before falling into the sea.\n\n{f}"
        );
        let v = compare(&x, &y);
        assert!(v.full > 0.3 && v.body < 0.1, "{v:?}");
        assert!(!v.same_story(Core::of(&y).words()));
        assert!(compare(BODY, &format!("{BODY}\n\n{f}")).same_story(40));
    }

    #[test]
    fn feed_lines_leave_the_core() {
        let header = "Example Daily | Nachrichten aus Bayern, Deutschland und der Welt seit 1950";
        let footer = "Example Daily is an independent newsroom funded by its readers and partners.";
        let mut items: Vec<Article> = [
            BODY,
            "Ein ganz anderer Text über die Wahl in Bayern mit vielen Wörtern darin.",
        ]
        .iter()
        .map(|t| Article {
            text: format!("{header}\n\n{t}\n\n{footer}"),
            ..Default::default()
        })
        .collect();
        fingerprint_feed(&mut items);
        assert_eq!(items[0].fingerprint, fp(BODY));
        // the other item would keep fewer than half its words: it keeps them all
        assert_eq!(items[1].fingerprint, fp(&items[1].text));
        // an item that is nothing but recurring lines keeps them
        let mut twice = vec![
            Article {
                text: BODY.into(),
                ..Default::default()
            };
            2
        ];
        fingerprint_feed(&mut twice);
        assert_eq!(twice[0].fingerprint, fp(BODY));
    }

    #[test]
    fn content_hash_words_are_split_like_split_whitespace() {
        for t in [
            "",
            "  Ünïcödé\u{a0}Wörds\tand\u{85}NEL  ΣΊΣΥΦΟΣ ΟΔΟΣ\u{3000}x ZÜRICH ABCΣ ",
            "one\u{b}two\u{c}three\r\nfour",
        ] {
            let mut fast = Vec::new();
            push_words_lower(&mut fast, t);
            let slow: String = t
                .split_whitespace()
                .map(|w| w.to_lowercase() + " ")
                .collect();
            assert_eq!(fast, slow.as_bytes(), "{t:?}");
        }
    }

    #[test]
    fn core_words_are_split_like_the_char_iterator() {
        for t in [
            "ΣΊΣΥΦΟΣ ΟΔΟΣ, „Straße“ — l’État «Élysée» naïve Ünïcödé x²y ٣٤ 東京都 can't",
            "Mixed ASCII-and-Ümlaut words: ÄRGER/Öl\u{a0}über\tALL ZÜRICH ABCΣ",
        ] {
            let c = Core::lines_of(t, 1);
            let slow: Vec<String> = t
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            assert_eq!(c.buf, slow.join(" ").as_bytes(), "{t:?}");
            assert_eq!(c.words(), slow.len());
        }
    }

    #[test]
    fn empty_text_has_no_keys() {
        assert_eq!(fp(""), Fingerprint::default());
        assert_eq!(fp("").probes(0).count(), 0);
        assert_eq!(fp("one two three four").probes(0).count(), 2);
    }
}
