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

use super::normalize::Tokens;

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
/// A document's features are looked up by a 64-bit hash of their kind and text ([`key`]), hashed
/// straight from the token bytes (no string is built per document); a small bit filter turns
/// most misses away before the map, and a hit is checked against the feature's text, so a hash
/// collision can never weigh a feature the document lacks.
#[derive(Debug, Default)]
pub(crate) struct Features {
    /// [`key`] of a feature → its id (the first feature of that key, see `clash`).
    ids: FxHashMap<u64, u32>,
    /// The rare features whose key another feature already took: text → id.
    clash: FxHashMap<Box<str>, u32>,
    /// Bit `key % FILTER_BITS` set for every feature's key.
    filter: Vec<u64>,
    /// Per feature id: its text, and `(model, weight)` of every model that weighs it.
    names: Vec<Box<str>>,
    weights: Vec<Vec<(u32, f32)>>,
    models: Vec<Model>,
}

/// Bits of [`Features::filter`] (16 KiB: stays in the first-level cache).
const FILTER_BITS: u64 = 1 << 17;

/// The lookup key of a feature: its kind byte (`w`, `b`, …) then its text, FxHash-ed.
fn key(kind: u8, text: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write_u8(kind);
    h.write(text);
    h.finish()
}

/// A feature found in a document: its id and the token positions it covers.
pub(crate) type Found = (u32, u32, u32);

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
        let k = key(name.as_bytes()[0], &name.as_bytes()[2..]);
        let next = self.names.len() as u32;
        let id = match self.ids.get(&k) {
            Some(&id) if *self.names[id as usize] == *name => return id,
            Some(_) => *self.clash.entry(name.into()).or_insert(next),
            None => *self.ids.entry(k).or_insert(next),
        };
        if id == next {
            self.names.push(name.into());
            self.weights.push(Vec::new());
            self.filter[((k % FILTER_BITS) / 64) as usize] |= 1 << (k % 64);
        }
        id
    }

    /// The id of the feature of `kind` and `text`, if a model weighs it.
    #[inline]
    fn find(&self, kind: u8, text: &[u8]) -> Option<u32> {
        let k = key(kind, text);
        if self.filter[((k % FILTER_BITS) / 64) as usize] & (1 << (k % 64)) == 0 {
            return None;
        }
        let is = |id: u32| {
            let n = self.names[id as usize].as_bytes();
            n[0] == kind && &n[2..] == text
        };
        match self.ids.get(&k) {
            Some(&id) if is(id) => Some(id),
            Some(_) if !self.clash.is_empty() => {
                let mut name = vec![kind, b':'];
                name.extend_from_slice(text);
                let name = std::str::from_utf8(&name).ok()?;
                self.clash.get(name).copied()
            }
            _ => None,
        }
    }

    pub(crate) fn model(&self, mi: u32) -> &Model {
        &self.models[mi as usize]
    }

    /// The features of one document present in any model, each once with its first position
    /// (`found` is cleared first). Positions: title tokens from 0, text tokens from `text_base`.
    pub(crate) fn collect(
        &self,
        title: &Tokens,
        text: &Tokens,
        text_base: u32,
        found: &mut Vec<Found>,
    ) {
        found.clear();
        if self.names.is_empty() {
            return;
        }
        for (t, base, is_title) in [(title, 0, true), (text, text_base, false)] {
            for i in 0..t.len() {
                let tok = t.token(i);
                let pos = base + i as u32;
                let mut look = |kind: u8, s: &str, end: u32| {
                    if let Some(id) = self.find(kind, s.as_bytes()) {
                        found.push((id, pos, end));
                    }
                };
                look(b'w', tok, pos);
                if i + 1 < t.len() {
                    let s = t.norm_start[i] as usize;
                    let e = t.norm_end[i + 1] as usize;
                    let pair = std::str::from_utf8(&t.norm[s..e]).expect("whole characters");
                    look(b'b', pair, pos + 1);
                }
                let cut = tok.char_indices().nth(AFFIX).map(|(b, _)| b);
                if let Some(cut) = cut {
                    look(b'p', &tok[..cut], pos);
                    let from = tok
                        .char_indices()
                        .rev()
                        .nth(AFFIX - 1)
                        .map_or(0, |(b, _)| b);
                    look(b's', &tok[from..], pos);
                }
                if is_title {
                    look(b't', &tok[..cut.unwrap_or(tok.len())], pos);
                }
            }
        }
        // Each feature once, at its first position.
        found.sort_unstable();
        found.dedup_by_key(|f| f.0);
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
        let mut found = Vec::new();
        f.collect(&title, &text, 1000, &mut found);
        // w:missile once (title), b:test fired once, p:raket (raketen), s:akete (…rakete),
        // t:launc (launch); no p:/s: for "launch" itself (6 letters: p:launc is not weighed).
        let z: f32 = -2.0 + 1.5 + 1.0 + 0.5 + 0.25 + 0.75;
        let want = 1.0 / (1.0 + (-z).exp());
        assert!((f.score(mi, &found) - want).abs() < 1e-6);
        let top = f.strongest(mi, &found, 2);
        assert_eq!(top[0], ("missile".to_string(), 1, 1));
        assert_eq!(top[1], ("\"test fired\"".to_string(), 2, 3));
    }

    #[test]
    fn the_rule_is_query_and_low_or_high() {
        let m = Model::parse(FILE).unwrap();
        assert!(m.decides(true, 0.3) && !m.decides(true, 0.1));
        assert!(m.decides(false, 0.95) && !m.decides(false, 0.5));
    }
}
