//! The compiled matcher: every term of every topic indexed once, then per-topic verification on
//! token positions.
//!
//! Compile (when the topic set changes): each topic's query, exclude and groups are parsed and
//! resolved to a tree whose leaves are interned *leaves* (a term or phrase: a sequence of token
//! patterns). A token pattern (folded core + anchor) is indexed where its anchor is cheapest to
//! check: `word` and `word*` in a forward byte trie walked from each token's start, `*word` in a
//! backward trie walked from each token's end, `*word*` cores in one Aho-Corasick automaton (a DFA
//! while small). Each topic registers *trigger* token patterns, chosen the Lucene-Monitor way: OR
//! takes all children's triggers, AND/NEAR the smallest child set, a leaf its longest core; a
//! topic whose query cannot be reduced (e.g. a bare `lang:de` or `NOT x`) is always a candidate.
//!
//! Match (per document, pure): tokenise title and text (`normalize`), walk the tries over every
//! token and scan the folded strings with the infix automaton (overlapping): together exactly the
//! (token pattern, token) pairs whose core sits in the token as its anchor demands. What a token
//! yields depends only on its bytes, so each distinct token of a field is walked (and, without the
//! infix gate, scanned) once and its repeats reuse the result (`WalkMemo`). Collect
//! candidate topics from the triggers that fired and evaluate each candidate's tree. Title tokens
//! have positions `0..`, text tokens `TEXT_BASE..`, so proximity and phrases never cross fields.
//! `NEAR/n` allows at most `n` tokens between two non-overlapping hits, in either order; `ONEAR/n`
//! requires the left hit to end before the right one starts. Per-document buffers are pooled in
//! the engine, so a warm match allocates only its results.

use std::sync::Mutex;

use aho_corasick::automaton::Automaton;
use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind};
use rustc_hash::FxHashMap as HashMap;

use super::normalize::{self, Tokens};
use super::query::{self, Anchor, Ast, Field, Term, TokPat};
use super::{Doc, TopicConfig, TopicError, TopicMatch};

/// Position of the first text token; title tokens are below it.
const TEXT_BASE: u32 = 1 << 24;
/// Bytes of context before the first marked word of a snippet, and the snippet's target length.
const SNIPPET_BEFORE: usize = 80;
const SNIPPET_LEN: usize = 280;
/// Marks a forward trie entry of an `Exact` token pattern: it counts only if the walk consumed the
/// whole token (so the walk needs no lookup of the anchor).
const WHOLE_TOKEN: u32 = 1 << 31;
/// Infix pattern sets up to this size are compiled to a DFA.
const DFA_MAX_PATTERNS: usize = 3_000;
/// Infix pattern sets up to this size are searched with a prefilter first (`Engine::infix_gate`).
const INFIX_GATE_MAX_PATTERNS: usize = 64;

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
}

/// All enabled topics compiled together (see the module doc).
#[derive(Debug, Default)]
pub struct Engine {
    topics: Vec<Compiled>,
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

/// Buffers of one document's match, kept between documents so matching does not allocate.
#[derive(Debug, Default)]
struct Scratch {
    title: Tokens,
    text: Tokens,
    /// (token pattern, position) hits in the order `scan` finds them.
    hits: Vec<(u32, u32)>,
    /// The token patterns with hits, in order of their first hit.
    touched: Vec<u32>,
    /// `hits` grouped by token pattern (`tp`), each group sorted by position and distinct.
    sorted: Vec<(u32, u32)>,
    cands: Vec<u32>,
    /// One bit per topic, all clear between documents.
    cand_bits: Vec<u64>,
    /// Per token pattern: `stamp` if it has hits in this document (then `lo..hi` is its slice of
    /// `sorted`); one entry holds both, so a touched pattern costs one cache line.
    tp: Vec<TpState>,
    stamp: u32,
    pool: Vec<Vec<Hit>>,
    flags: Vec<bool>,
    memo: WalkMemo,
    /// The same for the infix automaton, when it scans every token (no `infix_gate`).
    infix_memo: WalkMemo,
}

/// A memo of the trie walks of one field: the token patterns the tries find in a token depend
/// only on its bytes, and a document repeats most of its words, so each distinct token of a field
/// is walked once and its repeats copy the result.
///
/// Hand-rolled open addressing (linear probing, at most half full) keyed by the token's bytes in
/// the field's folded text: a `HashMap` would hash and allocate per entry. Entries of an earlier
/// field are told apart by `stamp`, so the table is not cleared between fields.
#[derive(Debug, Default)]
struct WalkMemo {
    slots: Vec<MemoSlot>,
    stamp: u32,
    /// The token patterns each distinct token hits, in walk order (forward, then backward).
    tps: Vec<u32>,
}

/// The [`WalkMemo`] hash of a token (never empty): its length and its first and last (up to)
/// eight bytes, mixed by a multiplication, whose high half is returned. Cheaper than hashing every
/// byte, and enough to spread a document's distinct words; equal keys are confirmed by comparing
/// the bytes.
#[inline]
fn tok_hash(tok: &[u8]) -> u64 {
    let n = tok.len();
    let (a, b) = if n >= 8 {
        (
            u64::from_le_bytes(tok[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(tok[n - 8..].try_into().expect("8 bytes")),
        )
    } else if n >= 4 {
        (
            u32::from_le_bytes(tok[..4].try_into().expect("4 bytes")) as u64,
            u32::from_le_bytes(tok[n - 4..].try_into().expect("4 bytes")) as u64,
        )
    } else {
        (
            tok[0] as u64 | (tok[n / 2] as u64) << 8 | (tok[n - 1] as u64) << 16,
            0,
        )
    };
    let x = (a ^ b.rotate_left(29) ^ (n as u64) << 56).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x >> 32
}

impl WalkMemo {
    /// Starts the memo of a field of `tokens` tokens.
    fn begin(&mut self, tokens: usize) {
        let want = (tokens * 2).next_power_of_two().max(64);
        if self.slots.len() < want {
            self.slots = vec![MemoSlot::default(); want];
            self.stamp = 0;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slots.fill(MemoSlot::default());
            self.stamp = 1;
        }
        self.tps.clear();
    }

    /// The range of `tps` for the token `norm[s..e]`; `fill` appends the token patterns of a
    /// token not seen yet in this field.
    #[inline]
    fn lookup(
        &mut self,
        norm: &[u8],
        s: u32,
        e: u32,
        fill: impl FnOnce(&mut Vec<u32>),
    ) -> (usize, usize) {
        let tok = &norm[s as usize..e as usize];
        let mask = self.slots.len() - 1;
        let mut at = tok_hash(tok) as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.stamp != self.stamp {
                let lo = self.tps.len();
                fill(&mut self.tps);
                let hi = self.tps.len();
                self.slots[at] = MemoSlot {
                    stamp: self.stamp,
                    start: s,
                    len: e - s,
                    lo: lo as u32,
                    hi: hi as u32,
                };
                return (lo, hi);
            }
            if slot.len as usize == tok.len()
                && same_bytes(
                    &norm[slot.start as usize..(slot.start + slot.len) as usize],
                    tok,
                )
            {
                return (slot.lo as usize, slot.hi as usize);
            }
            at = (at + 1) & mask;
        }
    }
}

/// `a == b` for two slices of the same (non-zero) length, without a `memcmp` call for the short
/// ones most tokens are: two overlapping loads from each end cover up to 16 bytes.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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

/// One distinct token of a [`WalkMemo`]: its bytes are `norm[start..start + len]`, its token
/// patterns `tps[lo..hi]`; valid while `stamp` is the memo's.
#[derive(Debug, Clone, Copy, Default)]
struct MemoSlot {
    stamp: u32,
    start: u32,
    len: u32,
    lo: u32,
    hi: u32,
}

/// See `Scratch::tp`.
#[derive(Debug, Clone, Copy, Default)]
struct TpState {
    stamp: u32,
    lo: u32,
    hi: u32,
}

/// A byte trie over folded cores, walked from one end of a token; each node lists the token
/// patterns whose core ends there.
///
/// Hand-rolled rather than an anchored `aho_corasick` search per token: that pays a search setup
/// for each of a document's hundreds of tokens, while most walks here stop after a byte or two.
/// Nodes are numbered breadth-first, so the few levels most walks touch are contiguous (cache
/// friendly with tens of thousands of patterns) and a node's children are consecutive nodes: the
/// root's children are a dense table, other nodes' are found by their bytes in `labels`.
#[derive(Debug, Default)]
struct Trie {
    /// 256 entries (empty when the trie is); 0 means no child (node 0 is the root).
    root: Vec<u32>,
    nodes: Vec<TrieNode>,
    /// Per node: the byte on the edge into it.
    labels: Vec<u8>,
    terms: Vec<u32>,
    /// Per byte: its class, 1.. for the bytes that occur in keys, 0 for the others.
    class: Vec<u8>,
    /// Number of classes plus one: the row length of `dense`.
    row: usize,
    /// Per node with many children, a row indexed by class: 1 + the child's rank among the
    /// node's children, or 0 (no child). A branch-free lookup where a search over the labels
    /// would mispredict.
    dense: Vec<u8>,
    /// The transition table of the first `next_nodes` nodes (breadth-first numbering makes them
    /// the shallow nodes nearly every walk stays in): `next[n * row + class]` is the child of `n`
    /// by a byte of that class, with [`HAS_TERMS`] set if token patterns end there, or 0. One
    /// load per byte instead of a node read, a label search and a second node read; its size is
    /// capped by [`NEXT_TABLE_BYTES`], deeper nodes use `child`.
    next: Vec<u32>,
    next_nodes: usize,
}

/// Bound on the size of `Trie::next`: it holds the root and the first levels of tens of thousands
/// of patterns while staying in the L2 cache.
const NEXT_TABLE_BYTES: usize = 256 * 1024;
/// Marks a `Trie::next` entry whose node ends token patterns (node ids are far below 2^31).
const HAS_TERMS: u32 = 1 << 31;

/// Nodes with at least this many children get a `dense` row.
const DENSE_MIN_CHILDREN: u32 = 5;

#[derive(Debug, Clone, Copy, Default)]
struct TrieNode {
    /// The first child; the children are `first..first + count`, sorted by byte.
    first: u32,
    count: u16,
    /// Number of token patterns ending here: `terms[terms_lo..terms_lo + terms_n]`.
    terms_n: u16,
    terms_lo: u32,
    /// The node's row in `dense` (`u32::MAX` if none).
    dense: u32,
}

impl Trie {
    /// Builds the trie of `keys` (byte strings and the token pattern each one ends).
    fn build<K: AsRef<[u8]> + Ord>(mut keys: Vec<(K, u32)>) -> Trie {
        const NONE: u32 = u32::MAX;
        if keys.is_empty() {
            return Trie::default();
        }
        // With sorted keys, an existing child on a key's path is always the last child created
        // for that node: flat sibling lists, no per-node allocations.
        keys.sort_unstable();
        let mut byte: Vec<u8> = vec![0];
        let mut first_child: Vec<u32> = vec![NONE];
        let mut last_child: Vec<u32> = vec![NONE];
        let mut next_sibling: Vec<u32> = vec![NONE];
        let mut ends: Vec<(u32, u32)> = Vec::with_capacity(keys.len());
        for (key, tp) in &keys {
            let mut n = 0usize;
            for &b in key.as_ref() {
                let last = last_child[n];
                n = if last != NONE && byte[last as usize] == b {
                    last as usize
                } else {
                    let id = byte.len() as u32;
                    byte.push(b);
                    first_child.push(NONE);
                    last_child.push(NONE);
                    next_sibling.push(NONE);
                    if last == NONE {
                        first_child[n] = id;
                    } else {
                        next_sibling[last as usize] = id;
                    }
                    last_child[n] = id;
                    id as usize
                };
            }
            ends.push((n as u32, *tp));
        }
        // Breadth-first renumbering: `order[new] = old`, `new_id[old] = new`.
        let mut order: Vec<u32> = Vec::with_capacity(byte.len());
        let mut new_id: Vec<u32> = vec![0; byte.len()];
        order.push(0);
        let mut i = 0;
        while i < order.len() {
            let mut c = first_child[order[i] as usize];
            while c != NONE {
                new_id[c as usize] = order.len() as u32;
                order.push(c);
                c = next_sibling[c as usize];
            }
            i += 1;
        }
        for e in &mut ends {
            e.0 = new_id[e.0 as usize];
        }
        ends.sort_unstable();
        let mut t = Trie {
            root: vec![0; 256],
            nodes: Vec::with_capacity(order.len()),
            labels: order.iter().map(|&o| byte[o as usize]).collect(),
            terms: ends.iter().map(|e| e.1).collect(),
            ..Trie::default()
        };
        t.class = vec![0; 256];
        let mut classes = 0usize;
        for &b in &t.labels[1..] {
            if t.class[b as usize] == 0 {
                classes += 1;
                t.class[b as usize] = classes as u8;
            }
        }
        // UTF-8 never holds the bytes 0xc0, 0xc1 and 0xf5..: classes and ranks fit in a byte.
        assert!(classes < 250, "keys are UTF-8");
        t.row = classes + 1;
        let mut next_child = 1u32;
        let mut term = 0usize;
        let mut dense_rows = 0u32;
        for (new, &old) in order.iter().enumerate() {
            let mut count = 0u32;
            let mut c = first_child[old as usize];
            while c != NONE {
                count += 1;
                c = next_sibling[c as usize];
            }
            let t0 = term;
            while term < ends.len() && ends[term].0 as usize == new {
                term += 1;
            }
            let dense = if count >= DENSE_MIN_CHILDREN && new != 0 {
                let at = t.dense.len();
                t.dense.resize(at + t.row, 0);
                let kids = &t.labels[next_child as usize..(next_child + count) as usize];
                for (rank, &b) in kids.iter().enumerate() {
                    t.dense[at + t.class[b as usize] as usize] = rank as u8 + 1;
                }
                dense_rows += 1;
                dense_rows - 1
            } else {
                u32::MAX
            };
            t.nodes.push(TrieNode {
                first: next_child,
                count: count as u16,
                terms_n: u16::try_from(term - t0).expect("few token patterns per core"),
                terms_lo: t0 as u32,
                dense,
            });
            next_child += count;
        }
        let mut c = first_child[0];
        while c != NONE {
            t.root[byte[c as usize] as usize] = new_id[c as usize];
            c = next_sibling[c as usize];
        }
        assert!(
            t.nodes.len() < HAS_TERMS as usize,
            "node ids fit in 31 bits"
        );
        t.next_nodes = (NEXT_TABLE_BYTES / (t.row * 4)).clamp(1, t.nodes.len());
        t.next = vec![0; t.next_nodes * t.row];
        for n in 0..t.next_nodes {
            let nd = t.nodes[n];
            for c in nd.first..nd.first + nd.count as u32 {
                let class = t.class[t.labels[c as usize] as usize] as usize;
                let ends = if t.nodes[c as usize].terms_n != 0 {
                    HAS_TERMS
                } else {
                    0
                };
                t.next[n * t.row + class] = c | ends;
            }
        }
        t
    }

    fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    #[inline]
    fn child(&self, n: u32, b: u8) -> Option<u32> {
        if n == 0 {
            let c = self.root[b as usize];
            return (c != 0).then_some(c);
        }
        let nd = self.nodes[n as usize];
        if nd.dense != u32::MAX {
            let rank = self.dense[nd.dense as usize * self.row + self.class[b as usize] as usize];
            return (rank != 0).then(|| nd.first + rank as u32 - 1);
        }
        let ls = &self.labels[nd.first as usize..nd.first as usize + nd.count as usize];
        let i = if ls.len() <= 8 {
            ls.iter().position(|&l| l == b)
        } else {
            ls.binary_search(&b).ok()
        };
        i.map(|i| nd.first + i as u32)
    }

    /// Walks `bytes`; calls `f(token patterns, whole key consumed)` at each node with patterns.
    #[inline]
    fn walk(&self, bytes: impl ExactSizeIterator<Item = u8>, mut f: impl FnMut(&[u32], bool)) {
        let len = bytes.len();
        let mut n = 0;
        for (i, b) in bytes.enumerate() {
            let ends = if (n as usize) < self.next_nodes {
                let x = self.next[n as usize * self.row + self.class[b as usize] as usize];
                if x == 0 {
                    return;
                }
                n = x & !HAS_TERMS;
                x & HAS_TERMS != 0
            } else {
                let Some(c) = self.child(n, b) else {
                    return;
                };
                n = c;
                self.nodes[n as usize].terms_n != 0
            };
            if ends {
                let nd = self.nodes[n as usize];
                let lo = nd.terms_lo as usize;
                f(&self.terms[lo..lo + nd.terms_n as usize], i + 1 == len);
            }
        }
    }
}

/// The automaton of the `*word*` cores.
#[derive(Debug)]
enum Infix {
    Dfa(aho_corasick::dfa::DFA),
    Nfa(aho_corasick::nfa::contiguous::NFA),
}

impl Infix {
    /// Calls `f(end, pattern)` for every occurrence of every core in `hay` (overlapping), in
    /// order of the end, the patterns ending at one byte in the automaton's order: what
    /// `find_overlapping_iter` reports, without its per-match iterator state.
    #[inline]
    fn scan(&self, hay: &[u8], f: impl FnMut(usize, usize)) {
        match self {
            Infix::Dfa(a) => infix_scan(a, hay, f),
            Infix::Nfa(a) => infix_scan(a, hay, f),
        }
    }
}

fn infix_scan<A: Automaton>(aut: &A, hay: &[u8], mut f: impl FnMut(usize, usize)) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else {
        return;
    };
    for (at, &b) in hay.iter().enumerate() {
        sid = aut.next_state(Anchored::No, sid, b);
        if aut.is_special(sid) {
            if aut.is_dead(sid) {
                return;
            }
            if aut.is_match(sid) {
                for k in 0..aut.match_len(sid) {
                    f(at + 1, aut.match_pattern(sid, k).as_usize());
                }
            }
        }
    }
}

/// A hit in the evaluation: token positions `s..=e` of a term with label `label`.
///
/// Ordered by `(s, e, label)`, as a derived `Ord` would, but through one `u128` key: the
/// comparison is branch-free, which makes the sorts of hit lists (NEAR operands, a match's hits)
/// cheaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    s: u32,
    e: u32,
    label: u32,
}

impl Hit {
    #[inline]
    fn key(&self) -> u128 {
        (self.s as u128) << 64 | (self.e as u128) << 32 | self.label as u128
    }
}

impl Ord for Hit {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Hit {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }

    /// Sorting asks "is less": on the keys, with no three-way result.
    #[inline]
    fn lt(&self, other: &Self) -> bool {
        self.key() < other.key()
    }
}

#[derive(Default)]
struct Interner {
    /// (core index, anchor) → token pattern.
    tokpats: HashMap<(u32, Anchor), u32>,
    cores: HashMap<String, u32>,
    /// Per token pattern: the index of its core in `core_list`.
    tp_core: Vec<u32>,
    core_list: Vec<String>,
    anchors: Vec<Anchor>,
    core_len: Vec<usize>,
    leaves: HashMap<Vec<u32>, u32>,
    leaf_list: Vec<Vec<u32>>,
}

impl Interner {
    fn tokpat(&mut self, tp: &TokPat) -> u32 {
        let core = match self.cores.get(tp.core.as_str()) {
            Some(&p) => p,
            None => {
                let p = self.core_list.len() as u32;
                self.core_list.push(tp.core.clone());
                self.cores.insert(tp.core.clone(), p);
                p
            }
        };
        if let Some(&id) = self.tokpats.get(&(core, tp.anchor)) {
            return id;
        }
        let id = self.anchors.len() as u32;
        self.anchors.push(tp.anchor);
        self.core_len.push(tp.core.len());
        self.tp_core.push(core);
        self.tokpats.insert((core, tp.anchor), id);
        id
    }

    fn leaf(&mut self, t: &Term) -> u32 {
        let parts: Vec<u32> = t.parts.iter().map(|p| self.tokpat(p)).collect();
        if let Some(&id) = self.leaves.get(&parts) {
            return id;
        }
        let id = self.leaf_list.len() as u32;
        self.leaf_list.push(parts.clone());
        self.leaves.insert(parts, id);
        id
    }
}

/// Resolves one topic's parsed trees into nodes (groups expanded, terms interned).
struct Resolver<'a> {
    topic: &'a TopicConfig,
    interner: &'a mut Interner,
    labels: Vec<String>,
    label_ids: HashMap<String, u32>,
    groups: HashMap<String, Node>,
}

impl Resolver<'_> {
    fn label(&mut self, text: &str) -> u32 {
        if let Some(&l) = self.label_ids.get(text) {
            return l;
        }
        let l = self.labels.len() as u32;
        self.labels.push(text.to_string());
        self.label_ids.insert(text.to_string(), l);
        l
    }

    fn term(&mut self, t: &Term) -> Node {
        let leaf = self.interner.leaf(t);
        let label = self.label(&t.text);
        let parts = &self.interner.leaf_list[leaf as usize];
        Node::Leaf {
            leaf,
            label,
            first: parts[0],
            span: parts.len() as u32 - 1,
        }
    }

    fn error(&self, field: &str, source: &str, position: usize, message: String) -> TopicError {
        TopicError {
            topic: self.topic.id.clone(),
            field: field.to_string(),
            position,
            message,
            source: source.to_string(),
        }
    }

    fn group(
        &mut self,
        name: &str,
        field: &str,
        source: &str,
        pos: usize,
    ) -> Result<Node, TopicError> {
        if let Some(n) = self.groups.get(name) {
            return Ok(n.clone());
        }
        let Some(entries) = self.topic.groups.get(name) else {
            let known: Vec<&str> = self.topic.groups.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "this topic has no [topic.groups]".to_string()
            } else {
                format!("known groups: {}", known.join(", "))
            };
            return Err(self.error(
                field,
                source,
                pos,
                format!("unknown group @{name} ({hint})"),
            ));
        };
        if entries.is_empty() {
            return Err(self.error(field, source, pos, format!("group @{name} is empty")));
        }
        let mut alts = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let t = query::parse_group_entry(e).map_err(|pe| {
                self.error(&format!("groups.{name}[{i}]"), e, pe.position, pe.message)
            })?;
            alts.push(self.term(&t));
        }
        let node = if alts.len() == 1 {
            alts.pop().expect("one")
        } else {
            or(alts)
        };
        self.groups.insert(name.to_string(), node.clone());
        Ok(node)
    }

    fn resolve(&mut self, a: &Ast, field: &str, source: &str) -> Result<Node, TopicError> {
        Ok(match a {
            Ast::Term(t) => self.term(t),
            Ast::Group(g, pos) => self.group(g, field, source, *pos)?,
            Ast::And(v) => Node::And(
                v.iter()
                    .map(|x| self.resolve(x, field, source))
                    .collect::<Result<_, _>>()?,
            ),
            Ast::Or(v) => or(v
                .iter()
                .map(|x| self.resolve(x, field, source))
                .collect::<Result<_, _>>()?),
            Ast::Not(x) => Node::Not(Box::new(self.resolve(x, field, source)?)),
            Ast::Near {
                left,
                right,
                n,
                ordered,
            } => Node::Near {
                left: Box::new(self.resolve(left, field, source)?),
                right: Box::new(self.resolve(right, field, source)?),
                n: *n,
                ordered: *ordered,
            },
            Ast::Field(f, x) => Node::Field(*f, Box::new(self.resolve(x, field, source)?)),
            Ast::Lang(l) => Node::Lang(l.clone()),
            Ast::Site(s) => Node::Site(s.clone()),
        })
    }

    fn parse(&mut self, field: &str, source: &str) -> Result<Node, TopicError> {
        let ast =
            query::parse(source).map_err(|e| self.error(field, source, e.position, e.message))?;
        self.resolve(&ast, field, source)
    }
}

/// `Node::Or`'s mark for an alternative that is not a leaf.
const NOT_LEAF: u32 = u32::MAX;

fn or(v: Vec<Node>) -> Node {
    let firsts = v
        .iter()
        .map(|x| match x {
            Node::Leaf { first, .. } => *first,
            _ => NOT_LEAF,
        })
        .collect();
    Node::Or(v, firsts)
}

/// Longest prefilter clause kept, and most clauses per topic.
const PRE_MAX_CLAUSE: usize = 16;
const PRE_MAX_CLAUSES: usize = 4;

/// Sets of token patterns each of which must have a hit (at least one pattern of each set) for
/// `n` to be true: a necessary condition, checked before evaluating a candidate's tree.
fn clauses(n: &Node, leaves: &[Vec<u32>]) -> Vec<Vec<u32>> {
    match n {
        Node::Leaf { leaf, .. } => leaves[*leaf as usize].iter().map(|&tp| vec![tp]).collect(),
        Node::And(v) => v.iter().flat_map(|x| clauses(x, leaves)).collect(),
        Node::Near { left, right, .. } => {
            let mut c = clauses(left, leaves);
            c.extend(clauses(right, leaves));
            c
        }
        Node::Field(_, x) => clauses(x, leaves),
        Node::Or(v, _) => {
            // One child is true, so its smallest clause holds: the union of those clauses does.
            let mut union = Vec::new();
            for x in v {
                match clauses(x, leaves).into_iter().min_by_key(Vec::len) {
                    Some(c) => union.extend(c),
                    None => return Vec::new(),
                }
            }
            union.sort_unstable();
            union.dedup();
            vec![union]
        }
        Node::Not(_) | Node::Lang(_) | Node::Site(_) => Vec::new(),
    }
}

/// The leaves one of which must be present for `n` to be true; `None` if no such set exists.
fn required(n: &Node) -> Option<Vec<u32>> {
    match n {
        Node::Leaf { leaf, .. } => Some(vec![*leaf]),
        Node::Or(v, _) => {
            let mut all = Vec::new();
            for x in v {
                all.extend(required(x)?);
            }
            Some(all)
        }
        Node::And(v) => v.iter().filter_map(required).min_by_key(Vec::len),
        Node::Near { left, right, .. } => [required(left), required(right)]
            .into_iter()
            .flatten()
            .min_by_key(Vec::len),
        Node::Field(_, x) => required(x),
        Node::Not(_) | Node::Lang(_) | Node::Site(_) => None,
    }
}

impl Engine {
    pub fn compile(topics: &[TopicConfig]) -> Result<Engine, TopicError> {
        let mut interner = Interner::default();
        let mut compiled = Vec::new();
        let mut enabled = Vec::new();
        for t in topics {
            let mut r = Resolver {
                topic: t,
                interner: &mut interner,
                labels: Vec::new(),
                label_ids: HashMap::default(),
                groups: HashMap::default(),
            };
            let expr = r.parse("query", &t.query)?;
            let exclude = match t.exclude.as_deref() {
                Some(x) if !x.trim().is_empty() => Some(r.parse("exclude", x)?),
                _ => None,
            };
            // Groups nobody references are still checked.
            for (name, entries) in &t.groups {
                if !r.groups.contains_key(name) {
                    for (i, e) in entries.iter().enumerate() {
                        query::parse_group_entry(e).map_err(|pe| {
                            r.error(&format!("groups.{name}[{i}]"), e, pe.position, pe.message)
                        })?;
                    }
                }
            }
            let labels = r.labels;
            if t.enabled {
                enabled.push(compiled.len());
                compiled.push(Compiled {
                    id: t.id.clone(),
                    expr,
                    exclude,
                    labels,
                });
            }
        }
        let mut trigger: Vec<Vec<u32>> = vec![Vec::new(); interner.anchors.len()];
        let mut always = Vec::new();
        for (ti, c) in compiled.iter().enumerate() {
            match required(&c.expr) {
                Some(leaves) => {
                    for l in leaves {
                        let parts = &interner.leaf_list[l as usize];
                        let best = parts
                            .iter()
                            .copied()
                            .max_by_key(|&tp| interner.core_len[tp as usize])
                            .expect("a leaf has parts");
                        let v = &mut trigger[best as usize];
                        if v.last() != Some(&(ti as u32)) {
                            v.push(ti as u32);
                        }
                    }
                }
                None => always.push(ti as u32),
            }
        }
        let mut trigger_ends = Vec::with_capacity(trigger.len() + 1);
        let mut trigger_tps = Vec::new();
        trigger_ends.push(0);
        for mut v in trigger {
            v.sort_unstable();
            v.dedup();
            trigger_tps.extend(v);
            trigger_ends.push(trigger_tps.len() as u32);
        }
        let mut pre = Vec::with_capacity(compiled.len());
        let mut pre_ends = Vec::new();
        let mut pre_tps = Vec::new();
        for c in &compiled {
            let mut cl = clauses(&c.expr, &interner.leaf_list);
            cl.retain(|x| x.len() <= PRE_MAX_CLAUSE);
            for x in &mut cl {
                x.sort_unstable();
                x.dedup();
            }
            cl.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            cl.dedup();
            cl.truncate(PRE_MAX_CLAUSES);
            let from = pre_ends.len() as u32;
            for x in cl {
                pre_tps.extend(x);
                pre_ends.push(pre_tps.len() as u32);
            }
            pre.push((from, pre_ends.len() as u32));
        }
        // Each token pattern goes where its anchor can be checked cheapest: `word`/`word*` in the
        // forward trie, `*word` in the backward one, `*word*` in the automaton.
        let mut fwd_keys = Vec::new();
        let mut bwd_keys = Vec::new();
        let mut infix_of_core: HashMap<u32, u32> = HashMap::default();
        let mut infix_cores: Vec<&str> = Vec::new();
        let mut infix_tokpats: Vec<Vec<u32>> = Vec::new();
        for (tp, (&anchor, &core)) in interner.anchors.iter().zip(&interner.tp_core).enumerate() {
            let text = &interner.core_list[core as usize];
            match anchor {
                Anchor::Exact => fwd_keys.push((text.as_bytes(), tp as u32 | WHOLE_TOKEN)),
                Anchor::Prefix => fwd_keys.push((text.as_bytes(), tp as u32)),
                Anchor::Suffix => {
                    bwd_keys.push((text.bytes().rev().collect::<Vec<u8>>(), tp as u32))
                }
                Anchor::Infix => {
                    let p = *infix_of_core.entry(core).or_insert_with(|| {
                        infix_cores.push(text);
                        infix_tokpats.push(Vec::new());
                        infix_cores.len() as u32 - 1
                    });
                    infix_tokpats[p as usize].push(tp as u32);
                }
            }
        }
        let infix_error = |e: aho_corasick::BuildError| TopicError {
            topic: String::new(),
            field: "query".into(),
            position: 0,
            message: format!("cannot build the term automaton: {e}"),
            source: String::new(),
        };
        // A DFA scans fastest; past a few thousand patterns its build time and memory grow too
        // much, and a contiguous NFA is used. Neither needs a prefilter: `infix_scan` drives
        // the automaton itself.
        let infix = if infix_cores.is_empty() {
            None
        } else if infix_cores.len() <= DFA_MAX_PATTERNS {
            Some(Infix::Dfa(
                aho_corasick::dfa::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&infix_cores)
                    .map_err(infix_error)?,
            ))
        } else {
            Some(Infix::Nfa(
                aho_corasick::nfa::contiguous::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&infix_cores)
                    .map_err(infix_error)?,
            ))
        };
        // A leftmost search reports a match in every token holding a core (resuming after the
        // token of each match): it is only worth it while its prefilter is a packed (SIMD) one.
        let infix_gate = if (1..=INFIX_GATE_MAX_PATTERNS).contains(&infix_cores.len()) {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(&infix_cores)
                .ok()
        } else {
            None
        };
        Ok(Engine {
            infix_gate,
            topics: compiled,
            forward: Trie::build(fwd_keys),
            backward: Trie::build(bwd_keys),
            infix,
            infix_tokpats,
            core_count: interner.core_list.len(),
            anchors: interner.anchors,
            leaves: interner.leaf_list,
            trigger_ends,
            trigger_tps,
            always,
            pre,
            pre_ends,
            pre_tps,
            scratch: Mutex::default(),
        })
    }

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

    /// Appends the (token pattern, position) hits of the tokens of `t` to `hits`: per token the
    /// forward trie's, then the backward trie's (walked once per distinct token, see
    /// [`WalkMemo`]); then those of the infix automaton.
    fn scan(
        &self,
        t: &Tokens,
        base: u32,
        hits: &mut Vec<(u32, u32)>,
        memo: &mut WalkMemo,
        infix_memo: &mut WalkMemo,
    ) {
        let norm = t.norm.as_slice();
        if !self.forward.is_empty() || !self.backward.is_empty() {
            memo.begin(t.len());
            for (i, (&s, &e)) in t.norm_start.iter().zip(&t.norm_end).enumerate() {
                let tok = &norm[s as usize..e as usize];
                let (lo, hi) = memo.lookup(norm, s, e, |tps| {
                    // A new token: walk it.
                    if !self.forward.is_empty() {
                        self.forward.walk(tok.iter().copied(), |found, whole| {
                            for &tp in found {
                                if whole || tp & WHOLE_TOKEN == 0 {
                                    tps.push(tp & !WHOLE_TOKEN);
                                }
                            }
                        });
                    }
                    if !self.backward.is_empty() {
                        self.backward.walk(tok.iter().rev().copied(), |found, _| {
                            tps.extend_from_slice(found)
                        });
                    }
                });
                let pos = base + i as u32;
                hits.extend(memo.tps[lo..hi].iter().map(|&tp| (tp, pos)));
            }
        }
        if let (Some(ac), Some(gate)) = (&self.infix, &self.infix_gate) {
            // The leftmost match from `at` lies in the first token from `at` holding a core (a
            // core never spans a separator); that token is scanned whole, then the next ones.
            let mut at = 0;
            let mut ti = 0;
            while let Some(m) = gate.find(Input::new(norm).span(at..norm.len())) {
                while (t.norm_end[ti] as usize) < m.end() {
                    ti += 1;
                }
                let (s, e) = (t.norm_start[ti] as usize, t.norm_end[ti] as usize);
                let pos = base + ti as u32;
                ac.scan(&norm[s..e], |_, p| {
                    hits.extend(self.infix_tokpats[p].iter().map(|&tp| (tp, pos)));
                });
                at = e;
                ti += 1;
            }
        } else if let Some(ac) = &self.infix {
            // Each distinct token scanned once (see `WalkMemo`). No core holds a separator, so
            // the automaton is in its start state at every token start: a token's matches do not
            // depend on the text around it, and token after token they are, in order, the
            // matches of a scan of the whole folded text.
            infix_memo.begin(t.len());
            for (i, (&s, &e)) in t.norm_start.iter().zip(&t.norm_end).enumerate() {
                let (lo, hi) = infix_memo.lookup(norm, s, e, |tps| {
                    ac.scan(&norm[s as usize..e as usize], |_, p| {
                        tps.extend_from_slice(&self.infix_tokpats[p])
                    });
                });
                let pos = base + i as u32;
                hits.extend(infix_memo.tps[lo..hi].iter().map(|&tp| (tp, pos)));
            }
        }
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
        // Candidate topics as bits (distinct and in config order when read back).
        let words = self.topics.len().div_ceil(64);
        if sc.cand_bits.len() != words {
            sc.cand_bits = vec![0; words];
        }
        let bits = &mut sc.cand_bits;
        for &ti in &self.always {
            bits[ti as usize / 64] |= 1 << (ti % 64);
        }
        if sc.tp.len() != self.anchors.len() {
            sc.tp = vec![TpState::default(); self.anchors.len()];
            sc.stamp = 0;
        }
        sc.stamp = sc.stamp.wrapping_add(1);
        if sc.stamp == 0 {
            sc.tp.fill(TpState::default());
            sc.stamp = 1;
        }
        // Group the hits by token pattern with a counting sort: `scan` emits each pattern's hits
        // in position order already (title before text, tokens in order, automaton matches by
        // end), so each group comes out sorted, with repeats (overlapping infix matches in one
        // token) adjacent.
        let stamp = sc.stamp;
        let touched = &mut sc.touched;
        touched.clear();
        for &(tp, _) in hits.iter() {
            let t = tp as usize;
            let st = &mut sc.tp[t];
            if st.stamp != stamp {
                *st = TpState {
                    stamp,
                    lo: 0,
                    hi: 0,
                };
                touched.push(tp);
            }
            st.hi += 1;
        }
        let mut off = 0u32;
        for &tp in touched.iter() {
            let st = &mut sc.tp[tp as usize];
            let n = st.hi;
            st.lo = off;
            st.hi = off;
            off += n;
        }
        let sorted = &mut sc.sorted;
        sorted.clear();
        sorted.resize(hits.len(), (0, 0));
        for &h in hits.iter() {
            let st = &mut sc.tp[h.0 as usize];
            sorted[st.hi as usize] = h;
            st.hi += 1;
        }
        for &tp in touched.iter() {
            let TpState { lo, hi, .. } = sc.tp[tp as usize];
            let mut w = lo as usize + 1;
            for k in lo as usize + 1..hi as usize {
                debug_assert!(sorted[k].1 >= sorted[w - 1].1, "hits in position order");
                if sorted[k] != sorted[w - 1] {
                    sorted[w] = sorted[k];
                    w += 1;
                }
            }
            sc.tp[tp as usize].hi = w as u32;
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
        if cands.is_empty() {
            return Vec::new();
        }
        let mut ev = Eval {
            engine: self,
            hits: sorted,
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
        for &ti in cands.iter() {
            let c = &self.topics[ti as usize];
            if !ev.prefilter(ti) {
                continue;
            }
            found.clear();
            if !ev.eval(&c.expr, None, &mut found) {
                continue;
            }
            if let Some(x) = &c.exclude {
                scratch.clear();
                if ev.eval(x, None, &mut scratch) {
                    continue;
                }
            }
            out.push(build_match(c, &mut found, doc, &sc.title, &sc.text));
        }
        ev.give(found);
        ev.give(scratch);
        sc.flags = std::mem::take(&mut ev.flags);
        out
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
        for c in &self.topics {
            let mut found = Vec::new();
            if ev.eval(&c.expr, None, &mut found)
                && !c
                    .exclude
                    .as_ref()
                    .is_some_and(|x| ev.eval(x, None, &mut Vec::new()))
            {
                out.push(build_match(c, &mut found, doc, &empty, &empty));
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

struct Eval<'a> {
    engine: &'a Engine,
    /// (token pattern, position) hits of the document, grouped by pattern (see `positions`).
    hits: &'a [(u32, u32)],
    /// See `Scratch`: where each token pattern's hits are.
    tp: &'a [TpState],
    stamp: u32,
    /// Spare hit buffers for NEAR operands and NOT.
    pool: &'a mut Vec<Vec<Hit>>,
    flags: Vec<bool>,
    lang: Option<String>,
    site: Option<String>,
}

impl<'a> Eval<'a> {
    /// The hits of token pattern `tp`, sorted by position.
    #[inline]
    fn positions(&self, tp: u32) -> &'a [(u32, u32)] {
        match self.tp.get(tp as usize) {
            Some(st) if st.stamp == self.stamp => &self.hits[st.lo as usize..st.hi as usize],
            _ => &[],
        }
    }

    /// Whether every prefilter clause of topic `ti` has a token pattern with hits.
    fn prefilter(&self, ti: u32) -> bool {
        let e = self.engine;
        let (from, to) = e.pre[ti as usize];
        let mut start = if from == 0 {
            0
        } else {
            e.pre_ends[from as usize - 1]
        };
        for &end in &e.pre_ends[from as usize..to as usize] {
            let clause = &e.pre_tps[start as usize..end as usize];
            if !clause
                .iter()
                .any(|&tp| self.tp[tp as usize].stamp == self.stamp)
            {
                return false;
            }
            start = end;
        }
        true
    }

    fn take(&mut self) -> Vec<Hit> {
        let mut v = self.pool.pop().unwrap_or_default();
        v.clear();
        v
    }

    fn give(&mut self, v: Vec<Hit>) {
        self.pool.push(v);
    }

    /// A term: its hits (restricted to `field`) appended to `out`.
    #[inline]
    fn leaf(
        &self,
        (leaf, label, first, span): (u32, u32, u32, u32),
        field: Option<Field>,
        out: &mut Vec<Hit>,
    ) -> bool {
        // Occurrences of the first token pattern, then the rest of a phrase checked by
        // binary search on the following positions (no per-document cache needed).
        let mut firsts = self.positions(first);
        match field {
            None => {}
            Some(Field::Title) => {
                firsts = &firsts[..firsts.partition_point(|h| h.1 < TEXT_BASE)];
            }
            Some(Field::Text) => {
                firsts = &firsts[firsts.partition_point(|h| h.1 < TEXT_BASE)..];
            }
        }
        if firsts.is_empty() {
            return false;
        }
        let before = out.len();
        let parts = &self.engine.leaves[leaf as usize];
        for &(_, s) in firsts {
            let ok = parts[1..].iter().enumerate().all(|(j, &tp)| {
                let want = s + 1 + j as u32;
                self.positions(tp).binary_search(&(tp, want)).is_ok()
            });
            if ok {
                out.push(Hit {
                    s,
                    e: s + span,
                    label,
                });
            }
        }
        out.len() > before
    }

    /// `left NEAR/n right` (`ordered`: ONEAR): the hits of either side that have a partner
    /// within reach appended to `out`. Out of line, so that `eval` stays small for the leaves.
    #[inline(never)]
    fn near(
        &mut self,
        (left, right, n, ordered): (&Node, &Node, u32, bool),
        field: Option<Field>,
        out: &mut Vec<Hit>,
    ) -> bool {
        let mut l = self.take();
        let mut r = self.take();
        if !self.eval(left, field, &mut l) || !self.eval(right, field, &mut r) {
            self.give(l);
            self.give(r);
            return false;
        }
        let close = |a: &Hit, b: &Hit| -> bool {
            if a.e < b.s {
                b.s - a.e - 1 <= n
            } else if !ordered && b.e < a.s {
                a.s - b.e - 1 <= n
            } else {
                false
            }
        };
        // Right hits sorted by start: for each left hit only the right hits whose start
        // lies within reach (binary search) are compared.
        r.sort_unstable();
        let widest = r.iter().map(|b| b.e - b.s).max().unwrap_or(0);
        let mut used_r = std::mem::take(&mut self.flags);
        used_r.clear();
        used_r.resize(r.len(), false);
        let mut any = false;
        for a in &l {
            let lo_s = if ordered {
                a.e + 1
            } else {
                a.s.saturating_sub(n + 1 + widest)
            };
            let hi_s = a.e.saturating_add(n + 1);
            let lo = r.partition_point(|b| b.s < lo_s);
            let mut a_used = false;
            for (j, b) in r.iter().enumerate().skip(lo) {
                if b.s > hi_s {
                    break;
                }
                if close(a, b) {
                    used_r[j] = true;
                    a_used = true;
                }
            }
            if a_used {
                out.push(*a);
                any = true;
            }
        }
        out.extend(r.iter().zip(&used_r).filter(|(_, u)| **u).map(|(h, _)| *h));
        self.flags = used_r;
        self.give(l);
        self.give(r);
        any
    }

    fn eval(&mut self, n: &Node, field: Option<Field>, out: &mut Vec<Hit>) -> bool {
        match n {
            &Node::Leaf {
                leaf,
                label,
                first,
                span,
            } => self.leaf((leaf, label, first, span), field, out),
            Node::And(v) => {
                let before = out.len();
                for x in v {
                    if !self.eval(x, field, out) {
                        out.truncate(before);
                        return false;
                    }
                }
                true
            }
            Node::Or(v, firsts) => {
                let mut any = false;
                for (x, &f) in v.iter().zip(firsts) {
                    if f != NOT_LEAF
                        && self.tp.get(f as usize).map(|st| st.stamp) != Some(self.stamp)
                    {
                        continue;
                    }
                    any |= match *x {
                        // Most alternatives are terms: no recursive call for them.
                        Node::Leaf {
                            leaf,
                            label,
                            first,
                            span,
                        } => self.leaf((leaf, label, first, span), field, out),
                        _ => self.eval(x, field, out),
                    };
                }
                any
            }
            Node::Not(x) => {
                let mut tmp = self.take();
                let hit = self.eval(x, field, &mut tmp);
                self.give(tmp);
                !hit
            }
            Node::Near {
                left,
                right,
                n,
                ordered,
            } => self.near((left, right, *n, *ordered), field, out),
            Node::Field(f, x) => self.eval(x, Some(*f), out),
            Node::Lang(l) => self.lang.as_deref() == Some(l.as_str()),
            Node::Site(s) => self.site.as_deref().is_some_and(|h| {
                h.trim_start_matches("www.") == s
                    || (h.len() > s.len()
                        && h.ends_with(s.as_str())
                        && h.as_bytes()[h.len() - s.len() - 1] == b'.')
            }),
        }
    }
}

/// The match of topic `c` from its hits `found` (sorted and deduplicated in place: the caller
/// clears the buffer before the next topic, so no copy is made).
fn build_match(
    c: &Compiled,
    found: &mut Vec<Hit>,
    doc: &Doc,
    title: &Tokens,
    text: &Tokens,
) -> TopicMatch {
    found.sort_unstable();
    found.dedup();
    let hits: &[Hit] = found;
    // A topic's labels are distinct texts, so distinct ids are distinct terms.
    let mut seen: Vec<u32> = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    for h in hits {
        if !seen.contains(&h.label) {
            seen.push(h.label);
            terms.push(c.labels[h.label as usize].clone());
        }
    }
    TopicMatch {
        topic: c.id.clone(),
        terms,
        snippet: snippet(hits, doc, title, text),
    }
}

/// Byte spans in the original field of the hits that lie in that field.
fn spans(hits: &[Hit], t: &Tokens, base: u32, title: bool) -> Vec<(usize, usize, u32)> {
    let mut v: Vec<(usize, usize, u32)> = Vec::with_capacity(hits.len());
    v.extend(
        hits.iter()
            .filter(|h| (h.s < TEXT_BASE) == title)
            .filter_map(|h| {
                let s = (h.s - base) as usize;
                let e = (h.e - base) as usize;
                Some((
                    t.orig.get(s)?.0 as usize,
                    t.orig.get(e)?.1 as usize,
                    h.label,
                ))
            }),
    );
    v.sort_unstable();
    v
}

/// A passage around the densest cluster of hits, with each hit marked `[[like this]]`.
fn snippet(hits: &[Hit], doc: &Doc, title: &Tokens, text: &Tokens) -> String {
    let fields = [
        (doc.title, spans(hits, title, 0, true)),
        (doc.text, spans(hits, text, TEXT_BASE, false)),
    ];
    // The window with the most distinct terms wins; title first on ties.
    let mut best: Option<(usize, usize, usize)> = None; // (score, field, span index)
    // The window of span `i` is `sp[i..j]`: at most 32 spans, starting less than
    // `SNIPPET_LEN - SNIPPET_BEFORE` bytes after span `i`. Its end `j` never moves back as `i`
    // grows (the spans are sorted), so the windows slide: each span is added and removed once,
    // its label counted in `count`, and `distinct` is the number of labels with a count.
    let mut count: Vec<u32> = vec![0; hits.iter().map(|h| h.label as usize + 1).max().unwrap_or(0)];
    for (fi, (_, sp)) in fields.iter().enumerate() {
        let mut j = 0;
        let mut distinct = 0;
        // Dense documents: the first 64 hits of a field are enough to find a good window.
        for i in 0..sp.len().min(64) {
            if i > 0 {
                // Span `i - 1` started the previous window, so it is in it.
                let l = sp[i - 1].2 as usize;
                count[l] -= 1;
                if count[l] == 0 {
                    distinct -= 1;
                }
            }
            let limit = sp[i].0 + SNIPPET_LEN - SNIPPET_BEFORE;
            while j < sp.len() && j < i + 32 && sp[j].0 < limit {
                let l = sp[j].2 as usize;
                if count[l] == 0 {
                    distinct += 1;
                }
                count[l] += 1;
                j += 1;
            }
            if best.is_none_or(|b| distinct > b.0) {
                best = Some((distinct, fi, i));
            }
        }
        count.fill(0);
    }
    let Some((_, fi, i)) = best else {
        let t: String = doc.title.chars().take(SNIPPET_LEN).collect();
        return clean_piece(&t);
    };
    let (src, sp) = (&fields[fi].0, &fields[fi].1);
    let anchor = sp[i].0;
    let mut start = floor_char(src, anchor.saturating_sub(SNIPPET_BEFORE));
    if start > 0 {
        // Start at a word boundary.
        if let Some(ws) = src[start..anchor].find(char::is_whitespace) {
            start += ws + 1;
        }
    }
    let mut end = floor_char(src, (start + SNIPPET_LEN).min(src.len()));
    // Never cut a marked word.
    let cut = end;
    if let Some(m) = sp
        .iter()
        .filter(|s| s.0 < cut && s.1 > cut)
        .map(|s| s.1)
        .max()
    {
        end = m;
    }
    if end < src.len()
        && let Some(ws) = src[anchor.max(start)..end].rfind(char::is_whitespace)
        && anchor.max(start) + ws > sp[i].1
    {
        end = anchor.max(start) + ws;
    }
    let mut out = String::with_capacity(end - start + 16);
    if start > 0 {
        out.push('…');
    }
    let mut pos = start;
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for &(s, e, _) in sp.iter().filter(|s| s.0 >= start && s.1 <= end) {
        match marks.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => marks.push((s, e)),
        }
    }
    for (s, e) in marks {
        push_clean(&mut out, &src[pos..s]);
        out.push_str("[[");
        push_clean(&mut out, &src[s..e]);
        out.push_str("]]");
        pos = e;
    }
    push_clean(&mut out, &src[pos..end]);
    if end < src.len() {
        out.push('…');
    }
    // Only spaces are left as whitespace: trim them in place.
    out.truncate(out.trim_end().len());
    let lead = out.len() - out.trim_start().len();
    out.drain(..lead);
    out
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Whitespace folded to single spaces; brackets that would read as marks are split.
fn clean_piece(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_clean(&mut out, s);
    out
}

/// Appends [`clean_piece`]`(s)` to `out` (allocating only when brackets must be split).
///
/// Runs between blanks (whitespace and control characters) are copied as slices; only characters
/// of three or more bytes are decoded (the blank ones below U+0800 are U+0080..U+00A0).
fn push_clean(out: &mut String, s: &str) {
    /// Bytes that are neither blank nor a bracket nor start a character that may be blank:
    /// printable ASCII but `[` `]`, continuation bytes, and lead bytes of U+00C0..U+07FF.
    const PLAIN: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = matches!(b, 0x21..=0x7e | 0x80..=0xbf | 0xc3..=0xdf) && b != 0x5b && b != 0x5d;
            b += 1;
        }
        t
    };
    let from = out.len();
    let bytes = s.as_bytes();
    let mut space = false;
    let mut brackets = false;
    let mut run = 0;
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        let b = bytes[i];
        // Most bytes are copied as they are: skip them, and a single space between two such
        // bytes (which the run keeps, as the folding would).
        if PLAIN[b as usize] || (b == b' ' && i > run && i + 1 < n && PLAIN[bytes[i + 1] as usize])
        {
            i += 1;
            continue;
        }
        let (len, blank) = match b {
            0..=0x7f => (1, b <= b' ' || b == 0x7f),
            0xc2 => (2, bytes[i + 1] <= 0xa0),
            0xc3..=0xdf => (2, false),
            _ => {
                let c = s[i..].chars().next().unwrap_or(' ');
                (c.len_utf8(), c.is_whitespace() || c.is_control())
            }
        };
        if blank {
            if i > run {
                if space {
                    out.push(' ');
                }
                out.push_str(&s[run..i]);
            }
            space = true;
            run = i + len;
        } else if b == b'[' || b == b']' {
            brackets = true;
        }
        i += len;
    }
    if bytes.len() > run {
        if space {
            out.push(' ');
            space = false;
        }
        out.push_str(&s[run..]);
    }
    if space {
        out.push(' ');
    }
    if brackets {
        let piece = &out[from..];
        if piece.contains("[[") || piece.contains("]]") {
            let split = piece.replace("[[", "[ [").replace("]]", "] ]");
            out.truncate(from);
            out.push_str(&split);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Matcher, Severity};
    use super::*;

    fn topic(
        id: &str,
        query: &str,
        exclude: Option<&str>,
        groups: &[(&str, &[&str])],
    ) -> TopicConfig {
        TopicConfig {
            id: id.into(),
            description: None,
            query: query.into(),
            exclude: exclude.map(str::to_string),
            severity: Severity::Medium,
            sinks: Vec::new(),
            groups: groups
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect::<BTreeMap<_, _>>(),
            enabled: true,
            rate_limit: None,
            digest: None,
        }
    }

    fn doc<'a>(title: &'a str, text: &'a str) -> Doc<'a> {
        Doc {
            title,
            text,
            lang: None,
            site: None,
        }
    }

    /// Whether `query` matches a document whose text is `text`.
    fn hit(query: &str, text: &str) -> bool {
        let m = Matcher::compile(&[topic("t", query, None, &[])]).unwrap_or_else(|e| panic!("{e}"));
        !m.match_doc(&doc("", text)).is_empty()
    }

    #[test]
    fn term_kinds_against_tokens() {
        assert!(hit("icbm", "North Korea fired an ICBM."));
        assert!(!hit("icbm", "The icbms were moved."));
        assert!(hit("launch*", "It launched two."));
        assert!(!hit("launch*", "Relaunched today."));
        assert!(hit("*raketen", "zwei Kurzstreckenraketen"));
        assert!(!hit("*raketen", "Raketenabwehr gekauft"));
        assert!(hit("*waffenliefer*", "neue Waffenlieferungen"));
        assert!(hit("*waffenliefer*", "Waffenlieferung"));
        assert!(!hit("*waffenliefer*", "Waffen werden geliefert"));
        assert!(hit("ракет*", "запустила ракету"));
        assert!(hit("ракет*", "две ракеты"));
        assert!(hit("\"поставок оружи*\"", "из-за поставок оружия США"));
        assert!(hit("marschflugkörper*", "MARSCHFLUGKORPER"));
        assert!(hit("strasse", "Straße"));
        assert!(hit("елка", "Ёлка"));
    }

    #[test]
    fn phrases_across_hyphens_and_pieces() {
        assert!(hit("\"test fire*\"", "Iran test-fired a missile"));
        assert!(hit("test-fire*", "Iran test-fired a missile"));
        assert!(hit("test-fire*", "Iran test fires a missile"));
        assert!(hit("fired", "Iran test-fired a missile"));
        assert!(hit("\"arms deal*\"", "a new arms deals package"));
        assert!(!hit("\"arms deal*\"", "arms for a deal"));
        assert!(hit("\"vente* d armes\"", "les ventes d'armes"));
        assert!(hit("\"пуск* ракет*\"", "пуск ракеты"));
        assert!(hit("kurz\u{ad}strecken*", "Kurzstreckenraketen"));
        assert!(hit(
            "kurzstreckenraketen",
            "Kurz\u{ad}strecken\u{ad}raketen"
        ));
    }

    #[test]
    fn near_and_onear_distances() {
        // NEAR/n: at most n tokens between, either order.
        assert!(hit("fired NEAR/2 missile", "fired two ballistic missile"));
        assert!(!hit("fired NEAR/1 missile", "fired two ballistic missile"));
        assert!(hit("fired NEAR/0 missile", "missile fired"));
        assert!(hit("fired NEAR/2 missile", "missile was not fired"));
        assert!(!hit("fired NEAR/1 missile", "missile was not fired"));
        // ONEAR/n: left before right.
        assert!(hit("fired ONEAR/2 missile", "fired a missile"));
        assert!(!hit("fired ONEAR/5 missile", "missile was fired"));
        // Never across title and text.
        let m = Matcher::compile(&[topic("t", "fired NEAR/3 missile", None, &[])]).unwrap();
        assert!(m.match_doc(&doc("Missile", "fired")).is_empty());
        // A token does not pair with itself.
        assert!(!hit("arms NEAR/3 arms*", "arms"));
        assert!(hit("arms NEAR/3 arms*", "arms and arms"));
        // Groups and phrases as operands.
        let m = Matcher::compile(&[topic(
            "t",
            "@launch NEAR/4 @missile",
            None,
            &[
                ("launch", &["abgefeuert", "запуст*"]),
                ("missile", &["*raketen", "\"ballistic missile*\""]),
            ],
        )])
        .unwrap();
        assert!(
            !m.match_doc(&doc(
                "",
                "Pjöngjang hat zwei ballistische Kurzstreckenraketen abgefeuert"
            ))
            .is_empty()
        );
        assert!(
            !m.match_doc(&doc("", "КНДР запустила ballistic missiles"))
                .is_empty()
        );
        assert!(
            m.match_doc(&doc(
                "",
                "abgefeuert wurden gestern viele Schüsse, aber keine Kurzstreckenraketen"
            ))
            .is_empty()
        );
    }

    #[test]
    fn fields_lang_site_and_not() {
        let m = Matcher::compile(&[
            topic("title", "title:missile*", None, &[]),
            topic("text", "text:missile*", None, &[]),
            topic("de", "lang:de AND *raketen", None, &[]),
            topic("site", "site:example.com AND missile*", None, &[]),
            topic("not", "missile* AND NOT defen*", None, &[]),
        ])
        .unwrap();
        let ids = |d: &Doc| {
            m.match_doc(d)
                .into_iter()
                .map(|t| t.topic)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&doc("Missiles", "nothing")), ["title", "not"]);
        assert_eq!(ids(&doc("nothing", "missile defence")), ["text"]);
        let mut d = doc("Kurzstreckenraketen", "");
        assert!(ids(&d).is_empty());
        d.lang = Some("de-DE");
        assert_eq!(ids(&d), ["de"]);
        let mut d = doc("", "a missile");
        d.site = Some("news.example.com");
        assert_eq!(ids(&d), ["text", "site", "not"]);
        d.site = Some("badexample.com");
        assert_eq!(ids(&d), ["text", "not"]);
    }

    #[test]
    fn exclusions() {
        let m = Matcher::compile(&[topic(
            "t",
            "launch* NEAR/5 rocket*",
            Some("firework* OR \"product launch*\""),
            &[],
        )])
        .unwrap();
        assert!(
            !m.match_doc(&doc("", "The rebels launched rockets at the town"))
                .is_empty()
        );
        assert!(
            m.match_doc(&doc(
                "New Year",
                "Fireworks: rockets launched over the harbour"
            ))
            .is_empty()
        );
    }

    #[test]
    fn terms_and_snippet_mark_the_matched_words() {
        let m = Matcher::compile(&[topic(
            "t",
            "@launch NEAR/6 @missile",
            None,
            &[
                ("launch", &["abgefeuert"]),
                ("missile", &["*raketen", "*rakete"]),
            ],
        )])
        .unwrap();
        let text = "Der Gipfel begann, nachdem Pjöngjang zwei ballistische Kurzstreckenraketen im Osten \
                    des Landes abgefeuert hatte. [[Nicht]] markieren.";
        let got = m.match_doc(&doc("Gipfel", text));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].terms, ["*raketen", "abgefeuert"]);
        assert!(
            got[0].snippet.contains("zwei ballistische [[Kurzstreckenraketen]] im Osten des Landes [[abgefeuert]] hatte."),
            "{}",
            got[0].snippet
        );
        assert!(got[0].snippet.contains("[ [Nicht] ]"), "{}", got[0].snippet);
        // A phrase is marked as one span; a long text is cut with an ellipsis.
        let m = Matcher::compile(&[topic("t", "\"arms deal*\"", None, &[])]).unwrap();
        let long = format!(
            "{} They signed an arms deal on Monday. {}",
            "word ".repeat(100),
            "tail ".repeat(100)
        );
        let s = &m.match_doc(&doc("", &long))[0].snippet;
        assert!(s.contains("[[arms deal]]"), "{s}");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.len() < 400, "{s}");
    }

    #[test]
    fn compile_errors_name_topic_field_and_position() {
        let e = Matcher::compile(&[topic("t", "a AND b OR c", None, &[])]).unwrap_err();
        assert_eq!(
            (e.topic.as_str(), e.field.as_str(), e.position),
            ("t", "query", 9)
        );
        let shown = e.to_string();
        assert!(
            shown.contains("\n    a AND b OR c\n            ^"),
            "{shown}"
        );
        let e =
            Matcher::compile(&[topic("t", "@nope OR x", None, &[("yes", &["y"])])]).unwrap_err();
        assert_eq!((e.field.as_str(), e.position), ("query", 1));
        assert!(
            e.message.contains("unknown group @nope") && e.message.contains("yes"),
            "{}",
            e.message
        );
        let e = Matcher::compile(&[topic("t", "x", Some("(y"), &[])]).unwrap_err();
        assert_eq!((e.field.as_str(), e.position), ("exclude", 1));
        let e =
            Matcher::compile(&[topic("t", "@g", None, &[("g", &["ok", "bad*word"])])]).unwrap_err();
        assert_eq!(e.field, "groups.g[1]");
        // Unused groups are checked too.
        let e = Matcher::compile(&[topic("t", "x", None, &[("g", &["\"open"])])]).unwrap_err();
        assert_eq!(e.field, "groups.g[0]");
    }

    #[test]
    fn many_topics_share_one_automaton() {
        let topics: Vec<TopicConfig> = (0..200)
            .map(|i| {
                topic(
                    &format!("t{i}"),
                    &format!("word{i} NEAR/3 (other{i}* OR *tail{i})"),
                    None,
                    &[],
                )
            })
            .collect();
        let m = Matcher::compile(&topics).unwrap();
        assert_eq!(m.len(), 200);
        let got = m.match_doc(&doc(
            "",
            "word17 and other17x, word18 alone, and word19 xtail19",
        ));
        let ids: Vec<_> = got.iter().map(|t| t.topic.as_str()).collect();
        assert_eq!(ids, ["t17", "t19"]);
    }

    /// `push_clean` (with its byte fast paths) against the char-by-char definition.
    #[test]
    fn push_clean_folds_blanks_like_the_definition() {
        fn reference(s: &str) -> String {
            let mut out = String::new();
            let mut blank = false;
            for c in s.chars() {
                if c.is_whitespace() || c.is_control() {
                    blank = true;
                } else {
                    if blank {
                        out.push(' ');
                        blank = false;
                    }
                    out.push(c);
                }
            }
            if blank {
                out.push(' ');
            }
            out.replace("[[", "[ [").replace("]]", "] ]")
        }
        for s in [
            "a b  c\td\u{85}e\u{a0}f\u{2003}g\u{3000}h",
            " lead and trail ",
            "x [[y]] z [a] ]]",
            "Straße über  ёлка\u{200b}x \u{7f}y\r\nz",
            "«quoted» — dash – a\u{2028}b",
            "",
            " ",
            "  \n ",
        ] {
            assert_eq!(clean_piece(s), reference(s), "{s:?}");
        }
    }

    /// The tries and the infix automaton find exactly the (token pattern, token) pairs the
    /// anchors define, checked against a direct comparison of every pattern with every token.
    #[test]
    fn scan_finds_exactly_the_anchored_occurrences() {
        let words = [
            "ab",
            "abc",
            "b",
            "bc",
            "c",
            "ca",
            "abca",
            "ракет",
            "ракета",
            "та",
            "a",
            "ü",
            "u",
        ];
        let mut terms = Vec::new();
        for w in words {
            terms.extend([
                w.to_string(),
                format!("{w}*"),
                format!("*{w}"),
                format!("*{w}*"),
            ]);
        }
        let query = terms.join(" OR ");
        let m = Matcher::compile(&[topic("t", &query, None, &[])]).unwrap();
        let e = &m.engine;
        let text = "abc abca cab bcab b ab aab ракета ракеты тараката Über uber a ca caca";
        let toks = normalize::tokenize(text);
        let mut got = Vec::new();
        e.scan(
            &toks,
            0,
            &mut got,
            &mut WalkMemo::default(),
            &mut WalkMemo::default(),
        );
        got.sort_unstable();
        got.dedup();
        let mut interner = Interner::default();
        let mut want = Vec::new();
        for t in &terms {
            let parts = query::parse_word(t).unwrap().parts;
            assert_eq!(parts.len(), 1);
            let tp = interner.tokpat(&parts[0]);
            let core = parts[0].core.as_str();
            for i in 0..toks.len() {
                let tok = toks.token(i);
                let ok = match parts[0].anchor {
                    Anchor::Exact => tok == core,
                    Anchor::Prefix => tok.starts_with(core),
                    Anchor::Suffix => tok.ends_with(core),
                    Anchor::Infix => tok.contains(core),
                };
                if ok {
                    want.push((tp, i as u32));
                }
            }
        }
        want.sort_unstable();
        want.dedup(); // `ü` and `u` fold to one core
        // Token pattern ids are interned in the same order by both.
        assert_eq!(got, want);
        assert!(got.len() > 40, "{}", got.len());
    }
}
