//! Byte tries over folded cores: `word` and `word*` token patterns in the forward trie, walked
//! from each token's start; `*word` in the backward trie (cores reversed), walked from each
//! token's end.

/// A byte trie over folded cores, walked from one end of a token; each node lists the token
/// patterns whose core ends there.
///
/// Hand-rolled rather than an anchored `aho_corasick` search per token: that pays a search setup
/// for each of a document's hundreds of tokens, while most walks here stop after a byte or two.
/// Nodes are numbered breadth-first, so the few levels most walks touch are contiguous (cache
/// friendly with tens of thousands of patterns) and a node's children are consecutive nodes: the
/// root's children are a dense table, other nodes' are found by their bytes in `labels`.
#[derive(Debug, Default)]
pub(super) struct Trie {
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
    pub(super) fn build<K: AsRef<[u8]> + Ord>(mut keys: Vec<(K, u32)>) -> Trie {
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

    pub(super) fn is_empty(&self) -> bool {
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
    pub(super) fn walk(
        &self,
        bytes: impl ExactSizeIterator<Item = u8>,
        mut f: impl FnMut(&[u32], bool),
    ) {
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
