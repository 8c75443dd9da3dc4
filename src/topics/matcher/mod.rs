//! The compiled matcher: every term of every topic indexed once, then per-topic verification on
//! token positions. [`Engine`] is the door: compiled once per topic set, then `match_doc` per
//! document (pure).
//!
//! - `compile`: topics resolved to `Node` trees over interned leaves and token patterns;
//!   triggers and prefilter clauses chosen; the index built.
//! - `trie` (forward and backward byte tries) and `infix` (the Aho-Corasick automaton of `*word*`
//!   cores): where each token pattern is looked up.
//! - `scan`: one field's (token pattern, position) hits, memoised per distinct token, and the
//!   pooled per-document buffers.
//! - `eval`: a candidate topic's tree evaluated on token positions.
//! - `snippet`: the reported match: terms, and a passage with the hits marked.
//!
//! Match (per document, pure): tokenise title and text (`normalize`), scan both fields, collect
//! candidate topics from the triggers that fired and evaluate each candidate's tree. Title tokens
//! have positions `0..`, text tokens `TEXT_BASE..`, so proximity and phrases never cross fields.
//! Per-document buffers are pooled in the engine, so a warm match allocates only its results.

use std::sync::Mutex;

use aho_corasick::AhoCorasick;

use super::model::{DocFeatures, Features, Found};
use super::normalize::{self, Tokens};
use super::query::{Anchor, Field};
use super::{Doc, TopicMatch};

mod compile;
mod eval;
mod infix;
mod scan;
mod snippet;
#[cfg(test)]
mod tests;
mod trie;

use eval::Eval;
use infix::Infix;
use scan::{Scratch, TpState};
use snippet::{build_match, build_model_match, score_term};
use trie::Trie;

/// Position of the first text token; title tokens are below it.
const TEXT_BASE: u32 = 1 << 24;
/// Marks a forward trie entry of an `Exact` token pattern: it counts only if the walk consumed the
/// whole token (so the walk needs no lookup of the anchor).
const WHOLE_TOKEN: u32 = 1 << 31;

#[derive(Debug, Clone)]
enum Node {
    /// `first` (the first token pattern) and `span` (token count - 1) are copies from the leaf,
    /// so that a leaf without hits is rejected without reading the leaf.
    Leaf {
        leaf: u32,
        label: u32,
        first: u32,
        span: u32,
    },
    And(Vec<Node>),
    /// The alternatives, and per alternative the first token pattern of a leaf (`NOT_LEAF` for
    /// other nodes): leaves without hits are skipped in a tight loop over this array.
    Or(Vec<Node>, Vec<u32>),
    Not(Box<Node>),
    Near {
        left: Box<Node>,
        right: Box<Node>,
        n: u32,
        ordered: bool,
    },
    Field(Field, Box<Node>),
    Lang(String),
    Site(String),
}

#[derive(Debug)]
struct Compiled {
    id: String,
    expr: Node,
    exclude: Option<Node>,
    /// The terms as written; `Node::Leaf::label` indexes this.
    labels: Vec<String>,
    /// The topic's model in `Engine::features`.
    model: Option<u32>,
}

/// `Node::Or`'s mark for an alternative that is not a leaf.
const NOT_LEAF: u32 = u32::MAX;

/// All enabled topics compiled together (see the module doc).
#[derive(Debug, Default)]
pub struct Engine {
    topics: Vec<Compiled>,
    /// The models of the topics that have one, their features interned together.
    features: Features,
    /// Topics with a model: always candidates (the model may match without the query).
    modelled: Vec<u32>,
    /// `word` and `word*` token patterns, walked from each token's first byte.
    forward: Trie,
    /// `*word` token patterns (cores reversed), walked from each token's last byte.
    backward: Trie,
    /// The cores of `*word*` token patterns, scanned over the folded text.
    infix: Option<Infix>,
    /// Per `infix` pattern: the `*word*` token patterns with that core.
    infix_tokpats: Vec<Vec<u32>>,
    /// For few infix cores: the same cores, leftmost-first, whose search runs a vectorised
    /// prefilter; only the tokens it finds a core in are scanned with `infix` (overlapping).
    infix_gate: Option<AhoCorasick>,
    /// Distinct folded cores of all token patterns.
    core_count: usize,
    /// Per token pattern: its anchor.
    anchors: Vec<Anchor>,
    /// Per leaf: its token patterns, consecutive.
    leaves: Vec<Vec<u32>>,
    /// Per token pattern `tp`: the topics it makes candidates,
    /// `trigger_tps[trigger_ends[tp]..trigger_ends[tp + 1]]`.
    trigger_ends: Vec<u32>,
    trigger_tps: Vec<u32>,
    /// Topics that are always candidates.
    always: Vec<u32>,
    /// Per topic: its prefilter clauses, a range of `pre_ends`.
    pre: Vec<(u32, u32)>,
    /// End of each prefilter clause in `pre_tps` (a clause starts where the previous one ends).
    pre_ends: Vec<u32>,
    /// Token patterns of the prefilter clauses.
    pre_tps: Vec<u32>,
    /// Per-document buffers, reused (one taken per `match_doc` call in flight).
    scratch: Mutex<Vec<Scratch>>,
}

impl Engine {
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn topic_ids(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|t| t.id.as_str())
    }

    /// Number of distinct folded cores (for benchmarks and `topics list`).
    pub fn pattern_count(&self) -> usize {
        self.core_count
    }

    pub fn match_doc(&self, doc: &Doc) -> Vec<TopicMatch> {
        if self.anchors.is_empty() {
            return self.match_without_terms(doc);
        }
        let mut sc = self
            .scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let out = self.match_with(doc, &mut sc);
        self.scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sc);
        out
    }

    fn match_with(&self, doc: &Doc, sc: &mut Scratch) -> Vec<TopicMatch> {
        normalize::tokenize_into(doc.title, &mut sc.title);
        normalize::tokenize_into(doc.text, &mut sc.text);
        let hits = &mut sc.hits;
        hits.clear();
        self.scan(&sc.title, 0, hits, &mut sc.memo, &mut sc.infix_memo);
        self.scan(&sc.text, TEXT_BASE, hits, &mut sc.memo, &mut sc.infix_memo);
        self.candidates(sc);
        if sc.cands.is_empty() {
            return Vec::new();
        }
        let mut ev = Eval {
            engine: self,
            hits: &sc.sorted,
            tp: &sc.tp,
            stamp: sc.stamp,
            pool: &mut sc.pool,
            flags: std::mem::take(&mut sc.flags),
            lang: doc.lang.map(primary_lang),
            site: doc.site.map(|s| s.trim_end_matches('.').to_lowercase()),
        };
        let mut out = Vec::new();
        let mut found = ev.take();
        let mut scratch = ev.take();
        let mut feats_ready = false;
        for &ti in sc.cands.iter() {
            let c = &self.topics[ti as usize];
            found.clear();
            let query = ev.prefilter(ti)
                && ev.eval(&c.expr, None, &mut found)
                && !c.exclude.as_ref().is_some_and(|x| {
                    scratch.clear();
                    ev.eval(x, None, &mut scratch)
                });
            let Some(mi) = c.model else {
                if query {
                    out.push(build_match(c, &mut found, doc, &sc.title, &sc.text));
                }
                continue;
            };
            if !feats_ready {
                self.features
                    .collect(&sc.title, &sc.text, TEXT_BASE, &mut sc.feats);
                feats_ready = true;
            }
            let m = self.decide(
                c,
                mi,
                query,
                &mut found,
                &sc.feats.found,
                doc,
                (&sc.title, &sc.text),
            );
            out.extend(m);
        }
        ev.give(found);
        ev.give(scratch);
        sc.flags = std::mem::take(&mut ev.flags);
        out
    }

    /// The candidate topics of a scanned document (`sc.hits`), in `sc.cands` in config order:
    /// the hits grouped by token pattern (`Scratch::group_hits`), then the topics their triggers
    /// name, with those always candidates.
    fn candidates(&self, sc: &mut Scratch) {
        sc.group_hits(self.anchors.len());
        // Candidate topics as bits (distinct and in config order when read back).
        let words = self.topics.len().div_ceil(64);
        if sc.cand_bits.len() != words {
            sc.cand_bits = vec![0; words];
        }
        let bits = &mut sc.cand_bits;
        for &ti in self.always.iter().chain(&self.modelled) {
            bits[ti as usize / 64] |= 1 << (ti % 64);
        }
        for &tp in &sc.touched {
            let t = tp as usize;
            for &ti in
                &self.trigger_tps[self.trigger_ends[t] as usize..self.trigger_ends[t + 1] as usize]
            {
                bits[ti as usize / 64] |= 1 << (ti % 64);
            }
        }
        let cands = &mut sc.cands;
        cands.clear();
        for (w, word) in bits.iter_mut().enumerate() {
            let mut x = std::mem::take(word);
            while x != 0 {
                cands.push((w * 64) as u32 + x.trailing_zeros());
                x &= x - 1;
            }
        }
    }

    /// The match of topic `c` with model `mi`, given whether its query matched (with the hits
    /// `found`) and the document's model features: see `model` for the rule.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        c: &Compiled,
        mi: u32,
        query: bool,
        found: &mut Vec<eval::Hit>,
        feats: &[Found],
        doc: &Doc,
        (title, text): (&Tokens, &Tokens),
    ) -> Option<TopicMatch> {
        let score = self.features.score(mi, feats);
        if !self.features.model(mi).decides(query, score) {
            return None;
        }
        Some(if query {
            let mut m = build_match(c, found, doc, title, text);
            m.terms.push(score_term(score));
            m
        } else {
            let words = self.features.strongest(mi, feats, 3);
            build_model_match(c, words, score, doc, title, text)
        })
    }

    /// Topics made only of `lang:`/`site:`/`NOT` when no topic has a term at all.
    fn match_without_terms(&self, doc: &Doc) -> Vec<TopicMatch> {
        let mut pool = Vec::new();
        let mut ev = Eval {
            engine: self,
            hits: &[],
            tp: &[],
            stamp: 1,
            pool: &mut pool,
            flags: Vec::new(),
            lang: doc.lang.map(primary_lang),
            site: doc.site.map(|s| s.trim_end_matches('.').to_lowercase()),
        };
        let empty = Tokens::default();
        let mut out = Vec::new();
        // Models still read the words (rare: topics with a model but no term).
        let (title, text) = (
            normalize::tokenize(doc.title),
            normalize::tokenize(doc.text),
        );
        let mut feats = DocFeatures::default();
        self.features.collect(&title, &text, TEXT_BASE, &mut feats);
        let feats = &feats.found;
        for c in &self.topics {
            let mut found = Vec::new();
            let query = ev.eval(&c.expr, None, &mut found)
                && !c
                    .exclude
                    .as_ref()
                    .is_some_and(|x| ev.eval(x, None, &mut Vec::new()));
            match c.model {
                Some(mi) => {
                    out.extend(self.decide(c, mi, query, &mut found, feats, doc, (&title, &text)))
                }
                None if query => out.push(build_match(c, &mut found, doc, &empty, &empty)),
                None => {}
            }
        }
        out
    }
}

/// `de-AT` → `de`.
fn primary_lang(l: &str) -> String {
    l.split(['-', '_'])
        .next()
        .unwrap_or("")
        .trim()
        .to_lowercase()
}
