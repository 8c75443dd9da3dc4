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

/// No node, in `Linked`.
const NONE: u32 = u32::MAX;

/// The trie as first built from sorted keys: nodes in creation order, with linked sibling lists.
struct Linked {
    /// Per node: the byte on the edge into it (0 for the root).
    byte: Vec<u8>,
    first_child: Vec<u32>,
    last_child: Vec<u32>,
    next_sibling: Vec<u32>,
    /// (node, token pattern) of each key's end.
    ends: Vec<(u32, u32)>,
}

impl Linked {
    /// With sorted keys, an existing child on a key's path is always the last child created for
    /// that node: flat sibling lists, no per-node allocations.
    fn build<K: AsRef<[u8]>>(sorted_keys: &[(K, u32)]) -> Linked {
        let mut l = Linked {
            byte: vec![0],
            first_child: vec![NONE],
            last_child: vec![NONE],
            next_sibling: vec![NONE],
            ends: Vec::with_capacity(sorted_keys.len()),
        };
        for (key, tp) in sorted_keys {
            let mut n = 0usize;
            for &b in key.as_ref() {
                let last = l.last_child[n];
                n = if last != NONE && l.byte[last as usize] == b {
                    last as usize
                } else {
                    l.add_child(n, last, b) as usize
                };
            }
            l.ends.push((n as u32, *tp));
        }
        l
    }

    /// Adds a child by byte `b` to node `n`, whose last child is `last`.
    fn add_child(&mut self, n: usize, last: u32, b: u8) -> u32 {
        let id = self.byte.len() as u32;
        self.byte.push(b);
        self.first_child.push(NONE);
        self.last_child.push(NONE);
        self.next_sibling.push(NONE);
        if last == NONE {
            self.first_child[n] = id;
        } else {
            self.next_sibling[last as usize] = id;
        }
        self.last_child[n] = id;
        id
    }

    /// The children of node `n`, in byte order.
    fn children(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(
            Some(self.first_child[n as usize]).filter(|&c| c != NONE),
            |&c| Some(self.next_sibling[c as usize]).filter(|&c| c != NONE),
        )
    }

    /// Breadth-first renumbering: `order[new] = old`, `new_id[old] = new`.
    fn breadth_first(&self) -> (Vec<u32>, Vec<u32>) {
        let mut order: Vec<u32> = Vec::with_capacity(self.byte.len());
        let mut new_id: Vec<u32> = vec![0; self.byte.len()];
        order.push(0);
        let mut i = 0;
        while i < order.len() {
            for c in self.children(order[i]) {
                new_id[c as usize] = order.len() as u32;
                order.push(c);
            }
            i += 1;
        }
        (order, new_id)
    }
}

impl Trie {
    /// Builds the trie of `keys` (byte strings and the token pattern each one ends).
    pub(super) fn build<K: AsRef<[u8]> + Ord>(mut keys: Vec<(K, u32)>) -> Trie {
        if keys.is_empty() {
            return Trie::default();
        }
        keys.sort_unstable();
        let mut linked = Linked::build(&keys);
        let (order, new_id) = linked.breadth_first();
        let mut ends = std::mem::take(&mut linked.ends);
        for e in &mut ends {
            e.0 = new_id[e.0 as usize];
        }
        ends.sort_unstable();
        let mut t = Trie {
            root: vec![0; 256],
            nodes: Vec::with_capacity(order.len()),
            labels: order.iter().map(|&o| linked.byte[o as usize]).collect(),
            terms: ends.iter().map(|e| e.1).collect(),
            ..Trie::default()
        };
        t.set_classes();
        t.add_nodes(&linked, &order, &ends);
        for c in linked.children(0) {
            t.root[linked.byte[c as usize] as usize] = new_id[c as usize];
        }
        assert!(
            t.nodes.len() < HAS_TERMS as usize,
            "node ids fit in 31 bits"
        );
        t.set_next();
        t
    }

    /// Numbers the bytes on the edges (`class`, `row`).
    fn set_classes(&mut self) {
        self.class = vec![0; 256];
        let mut classes = 0usize;
        for &b in &self.labels[1..] {
            if self.class[b as usize] == 0 {
                classes += 1;
                self.class[b as usize] = classes as u8;
            }
        }
        // UTF-8 never holds the bytes 0xc0, 0xc1 and 0xf5..: classes and ranks fit in a byte.
        assert!(classes < 250, "keys are UTF-8");
        self.row = classes + 1;
    }

    /// Lays out the nodes in breadth-first `order` (with their `dense` rows); `ends` are the
    /// (renumbered node, token pattern) pairs, sorted.
    fn add_nodes(&mut self, linked: &Linked, order: &[u32], ends: &[(u32, u32)]) {
        let mut next_child = 1u32;
        let mut term = 0usize;
        let mut dense_rows = 0u32;
        for (new, &old) in order.iter().enumerate() {
            let count = linked.children(old).count() as u32;
            let t0 = term;
            while term < ends.len() && ends[term].0 as usize == new {
                term += 1;
            }
            let dense = if count >= DENSE_MIN_CHILDREN && new != 0 {
                let at = self.dense.len();
                self.dense.resize(at + self.row, 0);
                let kids = &self.labels[next_child as usize..(next_child + count) as usize];
                for (rank, &b) in kids.iter().enumerate() {
                    self.dense[at + self.class[b as usize] as usize] = rank as u8 + 1;
                }
                dense_rows += 1;
                dense_rows - 1
            } else {
                u32::MAX
            };
            self.nodes.push(TrieNode {
                first: next_child,
                count: count as u16,
                terms_n: u16::try_from(term - t0).expect("few token patterns per core"),
                terms_lo: t0 as u32,
                dense,
            });
            next_child += count;
        }
    }

    /// Fills the transition table of the first nodes (`next`, `next_nodes`).
    fn set_next(&mut self) {
        self.next_nodes = (NEXT_TABLE_BYTES / (self.row * 4)).clamp(1, self.nodes.len());
        self.next = vec![0; self.next_nodes * self.row];
        for n in 0..self.next_nodes {
            let nd = self.nodes[n];
            for c in nd.first..nd.first + nd.count as u32 {
                let class = self.class[self.labels[c as usize] as usize] as usize;
                let ends = if self.nodes[c as usize].terms_n != 0 {
                    HAS_TERMS
                } else {
                    0
                };
                self.next[n * self.row + class] = c | ends;
            }
        }
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
