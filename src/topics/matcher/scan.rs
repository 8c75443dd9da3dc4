//! The per-document scan: the (token pattern, position) pairs of one field's tokens, from the
//! tries walked over every token and the infix automaton scanned over the folded strings
//! (overlapping): together exactly the (token pattern, token) pairs whose core sits in the token
//! as its anchor demands. What a token yields depends only on its bytes, so each distinct token
//! of a field is walked (and, without the infix gate, scanned) once and its repeats reuse the
//! result (`WalkMemo`). Also the per-document buffers (`Scratch`) the engine pools.

use crate::topics::model::DocFeatures;
use aho_corasick::Input;

use super::super::normalize::{Tokens, same_bytes};
use super::eval::Hit;
use super::{Engine, WHOLE_TOKEN};

/// Buffers of one document's match, kept between documents so matching does not allocate.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    pub(super) title: Tokens,
    pub(super) text: Tokens,
    /// (token pattern, position) hits in the order `scan` finds them.
    pub(super) hits: Vec<(u32, u32)>,
    /// The token patterns with hits, in order of their first hit.
    pub(super) touched: Vec<u32>,
    /// `hits` grouped by token pattern (`tp`), each group sorted by position and distinct.
    pub(super) sorted: Vec<(u32, u32)>,
    pub(super) cands: Vec<u32>,
    /// One bit per topic, all clear between documents.
    pub(super) cand_bits: Vec<u64>,
    /// Per token pattern: `stamp` if it has hits in this document (then `lo..hi` is its slice of
    /// `sorted`); one entry holds both, so a touched pattern costs one cache line.
    pub(super) tp: Vec<TpState>,
    pub(super) stamp: u32,
    pub(super) pool: Vec<Vec<Hit>>,
    pub(super) flags: Vec<bool>,
    pub(super) memo: WalkMemo,
    /// The same for the infix automaton, when it scans every token (no `infix_gate`).
    pub(super) infix_memo: WalkMemo,
    /// The model features of the document, collected once for all topics with a model.
    pub(super) feats: DocFeatures,
}

/// A memo of the trie walks of one field: the token patterns the tries find in a token depend
/// only on its bytes, and a document repeats most of its words, so each distinct token of a field
/// is walked once and its repeats copy the result.
///
/// Hand-rolled open addressing (linear probing, at most half full) keyed by the token's bytes in
/// the field's folded text: a `HashMap` would hash and allocate per entry. Entries of an earlier
/// field are told apart by `stamp`, so the table is not cleared between fields.
#[derive(Debug, Default)]
pub(super) struct WalkMemo {
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
        let fits = self.slots.len() >= want;
        restamp(&mut self.slots, &mut self.stamp, want, fits);
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

impl Scratch {
    /// Groups `hits` by token pattern into `sorted` (`tp` says where each of the `patterns`
    /// pattern's group is, `touched` which have one) with a counting sort: `scan` emits each
    /// pattern's hits in position order already (title before text, tokens in order, automaton
    /// matches by end), so each group comes out sorted, with repeats (overlapping infix matches in
    /// one token) adjacent, and those are dropped.
    pub(super) fn group_hits(&mut self, patterns: usize) {
        let fits = self.tp.len() == patterns;
        let stamp = restamp(&mut self.tp, &mut self.stamp, patterns, fits);
        let touched = &mut self.touched;
        touched.clear();
        for &(tp, _) in self.hits.iter() {
            let st = &mut self.tp[tp as usize];
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
            let st = &mut self.tp[tp as usize];
            let n = st.hi;
            st.lo = off;
            st.hi = off;
            off += n;
        }
        let sorted = &mut self.sorted;
        sorted.clear();
        sorted.resize(self.hits.len(), (0, 0));
        for &h in self.hits.iter() {
            let st = &mut self.tp[h.0 as usize];
            sorted[st.hi as usize] = h;
            st.hi += 1;
        }
        for &tp in touched.iter() {
            let TpState { lo, hi, .. } = self.tp[tp as usize];
            let mut w = lo as usize + 1;
            for k in lo as usize + 1..hi as usize {
                debug_assert!(sorted[k].1 >= sorted[w - 1].1, "hits in position order");
                if sorted[k] != sorted[w - 1] {
                    sorted[w] = sorted[k];
                    w += 1;
                }
            }
            self.tp[tp as usize].hi = w as u32;
        }
    }
}

/// Starts a new use of a table whose entries are told apart by the stamp of the use that wrote
/// them, so it is not cleared between uses: a table that does not `fit` is made anew with `len`
/// entries, and one whose stamp wraps is cleared. The new use's stamp (never 0, the stamp of an
/// entry never written).
fn restamp<T: Clone + Default>(table: &mut Vec<T>, stamp: &mut u32, len: usize, fits: bool) -> u32 {
    if !fits {
        *table = vec![T::default(); len];
        *stamp = 0;
    }
    *stamp = stamp.wrapping_add(1);
    if *stamp == 0 {
        table.fill(T::default());
        *stamp = 1;
    }
    *stamp
}

/// See `Scratch::tp`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TpState {
    pub(super) stamp: u32,
    pub(super) lo: u32,
    pub(super) hi: u32,
}

impl Engine {
    /// Appends the (token pattern, position) hits of the tokens of `t` to `hits`: per token the
    /// forward trie's, then the backward trie's (walked once per distinct token, see
    /// [`WalkMemo`]); then those of the infix automaton.
    pub(super) fn scan(
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
}
