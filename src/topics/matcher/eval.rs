//! Verification on token positions: a candidate topic's tree evaluated over the document's hits.
//! `NEAR/n` allows at most `n` tokens between two non-overlapping hits, in either order; `ONEAR/n`
//! requires the left hit to end before the right one starts.

use super::super::query::Field;
use super::{Engine, NOT_LEAF, Node, TEXT_BASE, TpState};

/// A hit in the evaluation: token positions `s..=e` of a term with label `label`.
///
/// Ordered by `(s, e, label)`, as a derived `Ord` would, but through one `u128` key: the
/// comparison is branch-free, which makes the sorts of hit lists (NEAR operands, a match's hits)
/// cheaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hit {
    pub(super) s: u32,
    pub(super) e: u32,
    pub(super) label: u32,
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

pub(super) struct Eval<'a> {
    pub(super) engine: &'a Engine,
    /// (token pattern, position) hits of the document, grouped by pattern (see `positions`).
    pub(super) hits: &'a [(u32, u32)],
    /// See `Scratch`: where each token pattern's hits are.
    pub(super) tp: &'a [TpState],
    pub(super) stamp: u32,
    /// Spare hit buffers for NEAR operands and NOT.
    pub(super) pool: &'a mut Vec<Vec<Hit>>,
    pub(super) flags: Vec<bool>,
    pub(super) lang: Option<String>,
    pub(super) site: Option<String>,
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
    pub(super) fn prefilter(&self, ti: u32) -> bool {
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

    pub(super) fn take(&mut self) -> Vec<Hit> {
        let mut v = self.pool.pop().unwrap_or_default();
        v.clear();
        v
    }

    pub(super) fn give(&mut self, v: Vec<Hit>) {
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

    pub(super) fn eval(&mut self, n: &Node, field: Option<Field>, out: &mut Vec<Hit>) -> bool {
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
