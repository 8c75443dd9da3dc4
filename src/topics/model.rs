//! The learned edge of a topic: a logistic regression over binary features of the folded title
//! and text, read from a small `feature<TAB>weight` file (`contrib/topics/<id>.model.tsv`, written by
//! `benches/topic-models.py train`, which computes the same features in Python).
//!
//! Features, on the tokens of [`super::normalize`] (the matcher's own tokens, so no second pass
//! over the text), each counted once per document whatever the field:
//! - `w:TOKEN` every token; `b:TOKEN NEXT` every pair of neighbours within one field;
//! - `p:PREFIX` and `s:SUFFIX`: the first and last 5 characters of a token longer than 5
//!   (inflections, German compound heads);
//! - `t:PREFIX`: the first 5 characters (or all) of every title token.
//!
//! `score = 1 / (1 + exp(-(bias + Σ weights present)))`. A topic with a model matches when
//! (its query, exclude included, matches AND score ≥ `low`) OR score ≥ `high`: the queries stay
//! the strong base, the model drops their weakest matches and adds confident misses.
//! All the models of a topic set share one feature table, so each document is looked up once.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::normalize::{Tokens, same_bytes};

/// Characters of the prefix and suffix features.
const AFFIX: usize = 5;

/// One topic's model as read from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub low: f32,
    pub high: f32,
    pub bias: f32,
    /// `(feature, weight)` as written, e.g. `("w:missile", 1.2)`.
    pub weights: Vec<(String, f32)>,
}

impl Model {
    /// Parses a model file: `low`, `high`, `bias` and `kind:feature` lines, each `name<TAB>number`;
    /// `#` comments and blank lines skipped. Errors name the line.
    pub fn parse(text: &str) -> Result<Model, String> {
        let (mut low, mut high, mut bias) = (None, None, None);
        let mut weights = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("line {}: {why}", n + 1);
            let (name, value) = line
                .split_once('\t')
                .ok_or_else(|| bad("expected NAME<TAB>NUMBER"))?;
            let v: f32 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f32| v.is_finite())
                .ok_or_else(|| bad(&format!("not a number: {value:?}")))?;
            match name {
                "low" => low = Some(v),
                "high" => high = Some(v),
                "bias" => bias = Some(v),
                _ if matches!(name.get(..2), Some("w:" | "b:" | "p:" | "s:" | "t:"))
                    && name.len() > 2 =>
                {
                    weights.push((name.to_string(), v))
                }
                _ => return Err(bad(&format!("unknown feature kind: {name:?}"))),
            }
        }
        let need = |v: Option<f32>, k: &str| v.ok_or_else(|| format!("no {k} line"));
        let m = Model {
            low: need(low, "low")?,
            high: need(high, "high")?,
            bias: need(bias, "bias")?,
            weights,
        };
        if !(0.0..=1.01).contains(&m.low) || !(0.0..=1.01).contains(&m.high) {
            return Err("low and high are probabilities (0 to 1)".into());
        }
        Ok(m)
    }

    /// Whether a document with `score` matches, given whether the query matched it.
    pub fn decides(&self, query: bool, score: f32) -> bool {
        (query && score >= self.low) || score >= self.high
    }
}

/// The features of all models of a topic set, interned once (see the module doc).
///
/// A document's features are looked up by a 64-bit key made from a hash of each token's bytes
/// ([`text_hash`], computed once per token and shared by its word, pair and title features; see
/// [`key`] and [`pair_key`]): no string is built per document. A small bit filter turns most
/// misses away before the map, and a hit is checked against the feature's text, so a hash
/// collision can never weigh a feature the document lacks.
#[derive(Debug, Default)]
pub(crate) struct Features {
    /// Key of a feature → its id (the first feature of that key, see `clash`): open addressing
    /// from the key's low bits, linear probing, at most half full; `EMPTY` ids are free slots.
    slots: Vec<Slot>,
    /// The rare features whose key another feature already took: `kind:text` → id.
    clash: FxHashMap<Box<[u8]>, u32>,
    /// Bit `key % FILTER_BITS` set for every feature's key.
    filter: Vec<u64>,
    /// Per feature id: its text, and `(model, weight)` of every model that weighs it.
    names: Vec<Box<str>>,
    weights: Vec<Vec<(u32, f32)>>,
    models: Vec<Model>,
}

/// A slot of [`Features::slots`].
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u64,
    id: u32,
}

const EMPTY: u32 = u32::MAX;

/// Bits of [`Features::filter`] (16 KiB: stays in the first-level cache).
const FILTER_BITS: u64 = 1 << 17;

/// The hash of a token's (or an affix's) bytes.
#[inline]
fn text_hash(text: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(text);
    h.finish()
}

/// The lookup key of a feature of `kind` (`w`, `p`, `s`, `t`) whose text hashes to `h`.
#[inline]
fn key(kind: u8, h: u64) -> u64 {
    let mut k = FxHasher::with_seed(kind as usize);
    k.write_u64(h);
    k.finish()
}

/// The lookup key of the pair feature (`b`) of two tokens hashing to `a` and `b`.
#[inline]
fn pair_key(a: u64, b: u64) -> u64 {
    let mut k = FxHasher::with_seed(b'b' as usize);
    k.write_u64(a);
    k.write_u64(b);
    k.finish()
}

/// The byte where character `n` (from 0) of `tok` starts, if it has more than `n` characters.
#[inline]
fn char_start(tok: &[u8], n: usize) -> Option<usize> {
    if tok.len() > n && tok[..=n].is_ascii() {
        return Some(n);
    }
    let mut seen = 0;
    for (i, &b) in tok.iter().enumerate() {
        // Not a UTF-8 continuation byte (0b10xx_xxxx).
        if (b as i8) >= -0x40 {
            if seen == n {
                return Some(i);
            }
            seen += 1;
        }
    }
    None
}

/// The byte where the last `n` characters of `tok` start (0 if it has fewer).
#[inline]
fn last_chars(tok: &[u8], n: usize) -> usize {
    if tok.len() >= n && tok[tok.len() - n..].is_ascii() {
        return tok.len() - n;
    }
    let mut seen = 0;
    for i in (0..tok.len()).rev() {
        if (tok[i] as i8) >= -0x40 {
            seen += 1;
            if seen == n {
                return i;
            }
        }
    }
    0
}

/// A feature found in a document: its id and the token positions it covers.
pub(crate) type Found = (u32, u32, u32);

/// The model features of one document (see [`Features::collect`]), with the buffers that find
/// them, kept between documents.
#[derive(Debug, Default)]
pub(crate) struct DocFeatures {
    /// Each feature present once, with its first position, by id.
    pub(crate) found: Vec<Found>,
    /// Per feature id: `stamp` once the feature was found in this document.
    seen: Vec<u32>,
    stamp: u32,
}

impl DocFeatures {
    /// Starts a document over `n` features.
    fn begin(&mut self, n: usize) {
        self.found.clear();
        if self.seen.len() != n {
            self.seen = vec![0; n];
            self.stamp = 0;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.fill(0);
            self.stamp = 1;
        }
    }

    /// Records feature `id` at `pos..=end` unless already found.
    #[inline]
    fn add(&mut self, id: u32, pos: u32, end: u32) {
        let seen = &mut self.seen[id as usize];
        if *seen != self.stamp {
            *seen = self.stamp;
            self.found.push((id, pos, end));
        }
    }
}

impl Features {
    /// Adds a model; returns its index.
    pub(crate) fn add(&mut self, m: &Model) -> u32 {
        let mi = self.models.len() as u32;
        if self.filter.is_empty() {
            self.filter = vec![0; (FILTER_BITS / 64) as usize];
        }
        for (name, w) in &m.weights {
            let id = self.intern(name);
            self.weights[id as usize].push((mi, *w));
        }
        self.models.push(m.clone());
        mi
    }

    /// The id of feature `name` (`kind:text`), added if new.
    fn intern(&mut self, name: &str) -> u32 {
        let (kind, text) = (name.as_bytes()[0], &name[2..]);
        let k = if kind == b'b' {
            // Tokens hold no space: the pair's two tokens are either side of its one space.
            let (a, b) = text.split_once(' ').unwrap_or((text, ""));
            pair_key(text_hash(a.as_bytes()), text_hash(b.as_bytes()))
        } else {
            key(kind, text_hash(text.as_bytes()))
        };
        let next = self.names.len() as u32;
        let id = match self.slot(k) {
            Ok(at) if *self.names[self.slots[at].id as usize] == *name => {
                return self.slots[at].id;
            }
            Ok(_) => *self.clash.entry(name.as_bytes().into()).or_insert(next),
            Err(at) => {
                self.slots[at] = Slot { key: k, id: next };
                next
            }
        };
        if id == next {
            self.names.push(name.into());
            self.weights.push(Vec::new());
            self.filter[((k % FILTER_BITS) / 64) as usize] |= 1 << (k % 64);
        }
        id
    }

    /// The slot holding key `k` (`Ok`), or the free slot where it would go (`Err`). Grows the
    /// table when adding would fill more than half of it.
    fn slot(&mut self, k: u64) -> Result<usize, usize> {
        if self.slots.len() < 2 * (self.names.len() + 1) {
            let n = (4 * (self.names.len() + 1)).next_power_of_two().max(64);
            let old = std::mem::replace(&mut self.slots, vec![Slot { key: 0, id: EMPTY }; n]);
            for s in old.into_iter().filter(|s| s.id != EMPTY) {
                let at = self.probe(s.key).expect_err("keys are distinct");
                self.slots[at] = s;
            }
        }
        self.probe(k)
    }

    /// See [`Features::slot`], without growing.
    #[inline]
    fn probe(&self, k: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut at = k as usize & mask;
        loop {
            let s = self.slots[at];
            if s.id == EMPTY {
                return Err(at);
            }
            if s.key == k {
                return Ok(at);
            }
            at = (at + 1) & mask;
        }
    }

    /// The id of the feature of `kind`, key `k` and text `a` (a pair: `a b`), if a model
    /// weighs it. The filter is checked here, inlined into the caller; only the keys it lets
    /// through pay a call.
    #[inline(always)]
    fn find(&self, kind: u8, k: u64, a: &[u8], b: Option<&[u8]>) -> Option<u32> {
        if self.filter[((k % FILTER_BITS) / 64) as usize] & (1 << (k % 64)) == 0 {
            return None;
        }
        self.find_slot(kind, k, a, b)
    }

    /// [`Features::find`] past the filter.
    #[inline(never)]
    fn find_slot(&self, kind: u8, k: u64, a: &[u8], b: Option<&[u8]>) -> Option<u32> {
        let is = |name: &[u8]| {
            name[0] == kind
                && match b {
                    None => name.len() == 2 + a.len() && same_bytes(&name[2..], a),
                    Some(b) => {
                        name.len() == 3 + a.len() + b.len()
                            && same_bytes(&name[2..2 + a.len()], a)
                            && name[2 + a.len()] == b' '
                            && same_bytes(&name[3 + a.len()..], b)
                    }
                }
        };
        let id = self.probe(k).ok().map(|at| self.slots[at].id);
        match id {
            Some(id) if is(self.names[id as usize].as_bytes()) => Some(id),
            Some(_) if !self.clash.is_empty() => {
                let mut name = vec![kind, b':'];
                name.extend_from_slice(a);
                if let Some(b) = b {
                    name.push(b' ');
                    name.extend_from_slice(b);
                }
                self.clash.get(name.as_slice()).copied()
            }
            _ => None,
        }
    }

    pub(crate) fn model(&self, mi: u32) -> &Model {
        &self.models[mi as usize]
    }

    /// The features of one document present in any model, each once with its first position,
    /// in `doc.found` by id. Positions: title tokens from 0, text tokens from `text_base`.
    pub(crate) fn collect(
        &self,
        title: &Tokens,
        text: &Tokens,
        text_base: u32,
        doc: &mut DocFeatures,
    ) {
        if self.names.is_empty() {
            doc.found.clear();
            return;
        }
        doc.begin(self.names.len());
        for (t, base, is_title) in [(title, 0, true), (text, text_base, false)] {
            let mut prev: Option<(&[u8], u64)> = None;
            for i in 0..t.len() {
                let tok = &t.norm[t.norm_start[i] as usize..t.norm_end[i] as usize];
                let pos = base + i as u32;
                let h = text_hash(tok);
                if let Some(id) = self.find(b'w', key(b'w', h), tok, None) {
                    doc.add(id, pos, pos);
                }
                if let Some((p, ph)) = prev
                    && let Some(id) = self.find(b'b', pair_key(ph, h), p, Some(tok))
                {
                    doc.add(id, pos - 1, pos);
                }
                prev = Some((tok, h));
                let cut = char_start(tok, AFFIX);
                let head = match cut {
                    Some(cut) => {
                        let head = &tok[..cut];
                        let hh = text_hash(head);
                        if let Some(id) = self.find(b'p', key(b'p', hh), head, None) {
                            doc.add(id, pos, pos);
                        }
                        let tail = &tok[last_chars(tok, AFFIX)..];
                        if let Some(id) = self.find(b's', key(b's', text_hash(tail)), tail, None) {
                            doc.add(id, pos, pos);
                        }
                        (head, hh)
                    }
                    None => (tok, h),
                };
                if is_title && let Some(id) = self.find(b't', key(b't', head.1), head.0, None) {
                    doc.add(id, pos, pos);
                }
            }
        }
        // Ids are distinct: by id alone is the same order, with cheaper comparisons.
        doc.found.sort_unstable_by_key(|f| f.0);
    }

    /// The score of model `mi` over the features `found` (see [`Features::collect`]).
    pub(crate) fn score(&self, mi: u32, found: &[Found]) -> f32 {
        let mut z = self.models[mi as usize].bias;
        for &(id, _, _) in found {
            for &(m, w) in &self.weights[id as usize] {
                if m == mi {
                    z += w;
                }
            }
        }
        1.0 / (1.0 + (-z).exp())
    }

    /// The `n` found features that raise model `mi`'s score most, strongest first: each written
    /// as a query term (see `as_term`) with its positions.
    pub(crate) fn strongest(&self, mi: u32, found: &[Found], n: usize) -> Vec<(String, u32, u32)> {
        let mut v: Vec<(f32, &Found)> = found
            .iter()
            .filter_map(|f| {
                let w = self.weights[f.0 as usize].iter().find(|(m, _)| *m == mi)?.1;
                (w > 0.0).then_some((w, f))
            })
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        v.iter()
            .take(n)
            .map(|(_, f)| (as_term(&self.names[f.0 as usize]), f.1, f.2))
            .collect()
    }
}

/// A feature as the query term that would find it: `w:x` → `x`, `b:x y` → `"x y"`, `p:x` →
/// `x*`, `s:x` → `*x`, `t:x` → `title:x*`.
fn as_term(name: &str) -> String {
    let (kind, t) = name.split_at(2);
    match kind {
        "w:" => t.to_string(),
        "b:" => format!("\"{t}\""),
        "p:" => format!("{t}*"),
        "s:" => format!("*{t}"),
        _ => format!("title:{t}*"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::normalize::tokenize;

    const FILE: &str = "# a model\nlow\t0.2\nhigh\t0.9\nbias\t-2\nw:missile\t1.5\nb:test fired\t1\n\
                        p:raket\t0.5\ns:akete\t0.25\nt:launc\t0.75\n";

    #[test]
    fn parses_and_refuses_with_the_line() {
        let m = Model::parse(FILE).unwrap();
        assert_eq!(
            (m.low, m.high, m.bias, m.weights.len()),
            (0.2, 0.9, -2.0, 5)
        );
        assert!(
            Model::parse("low\t0.2\nhigh\t0.9\n")
                .unwrap_err()
                .contains("no bias")
        );
        let e = Model::parse("low\t0.2\nx:y\t1\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(Model::parse("low\tNaN\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn features_are_counted_once_in_either_field() {
        let mut f = Features::default();
        let mi = f.add(&Model::parse(FILE).unwrap());
        let title = tokenize("Launch: Missile test-fired");
        let text = tokenize("The missile was test-fired; Raketen und Langstreckenrakete.");
        let mut doc = DocFeatures::default();
        f.collect(&title, &text, 1000, &mut doc);
        let found = &doc.found;
        // w:missile once (title), b:test fired once, p:raket (raketen), s:akete (…rakete),
        // t:launc (launch); no p:/s: for "launch" itself (6 letters: p:launc is not weighed).
        let z: f32 = -2.0 + 1.5 + 1.0 + 0.5 + 0.25 + 0.75;
        let want = 1.0 / (1.0 + (-z).exp());
        assert!((f.score(mi, found) - want).abs() < 1e-6);
        let top = f.strongest(mi, found, 2);
        assert_eq!(top[0], ("missile".to_string(), 1, 1));
        assert_eq!(top[1], ("\"test fired\"".to_string(), 2, 3));
    }

    #[test]
    fn affixes_count_characters_and_pairs_keep_their_order() {
        let mut f = Features::default();
        let file = "low\t0.2\nhigh\t0.9\nbias\t0\np:ракет\t1\ns:етами\t2\nt:удар\t4\n\
                    b:fired test\t8\nb:test\t16\nw:ракет\t32\n";
        f.add(&Model::parse(file).unwrap());
        let found = |title: &str, text: &str| {
            let mut doc = DocFeatures::default();
            f.collect(&tokenize(title), &tokenize(text), 1000, &mut doc);
            let z: f32 = doc
                .found
                .iter()
                .map(|&(id, ..)| f.weights[id as usize][0].1)
                .sum();
            (z, doc.found.len())
        };
        // Five Cyrillic letters are ten bytes: `ракетами` has both affixes, `ракет` (five
        // letters) neither but is the word; the title's `удар` is its own title prefix.
        assert_eq!(found("Удар", "ракетами ракет"), (1.0 + 2.0 + 4.0 + 32.0, 4));
        // A pair is two neighbouring tokens in order within one field (title and text do not
        // join); `b:test` (no second token) is never a document's pair.
        assert_eq!(found("it fired", "test fired"), (0.0, 0));
        assert_eq!(found("", "test, fired"), (0.0, 0));
        assert_eq!(found("", "it fired, test."), (8.0, 1));
    }

    #[test]
    fn the_rule_is_query_and_low_or_high() {
        let m = Model::parse(FILE).unwrap();
        assert!(m.decides(true, 0.3) && !m.decides(true, 0.1));
        assert!(m.decides(false, 0.95) && !m.decides(false, 0.5));
    }
}
