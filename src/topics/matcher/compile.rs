//! Compile (when the topic set changes): each topic's query, exclude and groups are parsed and
//! resolved to a tree whose leaves are interned *leaves* (a term or phrase: a sequence of token
//! patterns). A token pattern (folded core + anchor) is indexed where its anchor is cheapest to
//! check: `word` and `word*` in a forward byte trie walked from each token's start, `*word` in a
//! backward trie walked from each token's end, `*word*` cores in one Aho-Corasick automaton (a DFA
//! while small). Each topic registers *trigger* token patterns, chosen the Lucene-Monitor way: OR
//! takes all children's triggers, AND/NEAR the smallest child set, a leaf its longest core; a
//! topic whose query cannot be reduced (e.g. a bare `lang:de` or `NOT x`) is always a candidate.

use std::sync::Mutex;

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap as HashMap;

use super::super::model::Features;
use super::super::query::{self, Anchor, Ast, Term, TokPat};
use super::super::{TopicConfig, TopicError};
use super::{Compiled, Engine, Infix, NOT_LEAF, Node, Trie, WHOLE_TOKEN};

/// Infix pattern sets up to this size are compiled to a DFA.
const DFA_MAX_PATTERNS: usize = 3_000;
/// Infix pattern sets up to this size are searched with a prefilter first (`Engine::infix_gate`).
const INFIX_GATE_MAX_PATTERNS: usize = 64;

#[derive(Default)]
pub(super) struct Interner {
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
    pub(super) fn tokpat(&mut self, tp: &TokPat) -> u32 {
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

/// Where each token pattern is checked (see `Engine::compile`).
struct Placement<'a> {
    /// `word` (marked [`WHOLE_TOKEN`]) and `word*` cores, for the forward trie.
    fwd_keys: Vec<(&'a [u8], u32)>,
    /// `*word` cores reversed, for the backward trie.
    bwd_keys: Vec<(Vec<u8>, u32)>,
    /// Distinct `*word*` cores, the automaton's patterns.
    infix_cores: Vec<&'a str>,
    /// Per infix core: its token patterns.
    infix_tokpats: Vec<Vec<u32>>,
}

impl Engine {
    pub fn compile(topics: &[TopicConfig]) -> Result<Engine, TopicError> {
        let mut interner = Interner::default();
        let mut features = Features::default();
        let mut compiled = Vec::new();
        for t in topics {
            // Disabled topics are still resolved: their errors are reported all the same.
            let (expr, exclude, labels) = resolve_topic(t, &mut interner)?;
            if t.enabled {
                compiled.push(Compiled {
                    id: t.id.clone(),
                    expr,
                    exclude,
                    labels,
                    model: t.learned.as_deref().map(|m| features.add(m)),
                });
            }
        }
        let (trigger_ends, trigger_tps, always) = triggers(&compiled, &interner);
        let (pre, pre_ends, pre_tps) = prefilter(&compiled, &interner.leaf_list);
        let placement = place(&interner);
        let infix = infix_automaton(&placement.infix_cores)?;
        let infix_gate = infix_gate(&placement.infix_cores);
        let modelled = (0..compiled.len() as u32)
            .filter(|&ti| compiled[ti as usize].model.is_some())
            .collect();
        Ok(Engine {
            features,
            modelled,
            infix_gate,
            topics: compiled,
            forward: Trie::build(placement.fwd_keys),
            backward: Trie::build(placement.bwd_keys),
            infix,
            infix_tokpats: placement.infix_tokpats,
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
}

/// One topic's query, exclude and labels, its terms interned; its groups all checked.
fn resolve_topic(
    t: &TopicConfig,
    interner: &mut Interner,
) -> Result<(Node, Option<Node>, Vec<String>), TopicError> {
    let mut r = Resolver {
        topic: t,
        interner,
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
    Ok((expr, exclude, r.labels))
}

/// Per token pattern, the topics it triggers (flattened: `trigger_ends`, `trigger_tps`), and the
/// topics that are always candidates.
fn triggers(compiled: &[Compiled], interner: &Interner) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
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
    (trigger_ends, trigger_tps, always)
}

/// Per topic, its prefilter clauses (`pre`: a range of `pre_ends`, each clause ending at its
/// entry in `pre_tps`): the shortest few, each short.
fn prefilter(compiled: &[Compiled], leaves: &[Vec<u32>]) -> (Vec<(u32, u32)>, Vec<u32>, Vec<u32>) {
    let mut pre = Vec::with_capacity(compiled.len());
    let mut pre_ends = Vec::new();
    let mut pre_tps = Vec::new();
    for c in compiled {
        let mut cl = clauses(&c.expr, leaves);
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
    (pre, pre_ends, pre_tps)
}

/// Each token pattern goes where its anchor can be checked cheapest: `word`/`word*` in the
/// forward trie, `*word` in the backward one, `*word*` in the automaton.
fn place(interner: &Interner) -> Placement<'_> {
    let mut p = Placement {
        fwd_keys: Vec::new(),
        bwd_keys: Vec::new(),
        infix_cores: Vec::new(),
        infix_tokpats: Vec::new(),
    };
    let mut infix_of_core: HashMap<u32, u32> = HashMap::default();
    for (tp, (&anchor, &core)) in interner.anchors.iter().zip(&interner.tp_core).enumerate() {
        let text = &interner.core_list[core as usize];
        match anchor {
            Anchor::Exact => p.fwd_keys.push((text.as_bytes(), tp as u32 | WHOLE_TOKEN)),
            Anchor::Prefix => p.fwd_keys.push((text.as_bytes(), tp as u32)),
            Anchor::Suffix => p
                .bwd_keys
                .push((text.bytes().rev().collect::<Vec<u8>>(), tp as u32)),
            Anchor::Infix => {
                let i = *infix_of_core.entry(core).or_insert_with(|| {
                    p.infix_cores.push(text);
                    p.infix_tokpats.push(Vec::new());
                    p.infix_cores.len() as u32 - 1
                });
                p.infix_tokpats[i as usize].push(tp as u32);
            }
        }
    }
    p
}

/// The automaton over the infix cores, `None` if there are none.
///
/// A DFA scans fastest; past a few thousand patterns its build time and memory grow too much,
/// and a contiguous NFA is used. Neither needs a prefilter: `infix_scan` drives the automaton
/// itself.
fn infix_automaton(infix_cores: &[&str]) -> Result<Option<Infix>, TopicError> {
    let infix_error = |e: aho_corasick::BuildError| TopicError {
        topic: String::new(),
        field: "query".into(),
        position: 0,
        message: format!("cannot build the term automaton: {e}"),
        source: String::new(),
    };
    Ok(if infix_cores.is_empty() {
        None
    } else if infix_cores.len() <= DFA_MAX_PATTERNS {
        Some(Infix::Dfa(
            aho_corasick::dfa::Builder::new()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(infix_cores)
                .map_err(infix_error)?,
        ))
    } else {
        Some(Infix::Nfa(
            aho_corasick::nfa::contiguous::Builder::new()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(infix_cores)
                .map_err(infix_error)?,
        ))
    })
}

/// The prefilter searcher over the infix cores (`Engine::infix_gate`), if worth it.
///
/// A leftmost search reports a match in every token holding a core (resuming after the token of
/// each match): it is only worth it while its prefilter is a packed (SIMD) one.
fn infix_gate(infix_cores: &[&str]) -> Option<AhoCorasick> {
    if (1..=INFIX_GATE_MAX_PATTERNS).contains(&infix_cores.len()) {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(infix_cores)
            .ok()
    } else {
        None
    }
}
