//! The compiled matcher: every term of every topic in one Aho-Corasick automaton, then per-topic
//! verification on token positions.
//!
//! Compile (when the topic set changes): each topic's query, exclude and groups are parsed and
//! resolved to a tree whose leaves are interned *leaves* (a term or phrase: a sequence of token
//! patterns). Each distinct folded core is one automaton pattern; a pattern maps to the token
//! patterns (core + anchor) that use it. Each topic registers *trigger* token patterns, chosen the
//! Lucene-Monitor way: OR takes all children's triggers, AND/NEAR the smallest child set, a leaf its
//! longest core; a topic whose query cannot be reduced (e.g. a bare `lang:de` or `NOT x`) is always
//! a candidate.
//!
//! Match (per document, pure): tokenise title and text (`normalize`), scan both folded strings
//! with the automaton (overlapping), keep the hits whose anchor fits the token, collect candidate
//! topics from the triggers that fired, and evaluate each candidate's tree. Title tokens have
//! positions `0..`, text tokens `TEXT_BASE..`, so proximity and phrases never cross fields.
//! `NEAR/n` allows at most `n` tokens between two non-overlapping hits, in either order; `ONEAR/n`
//! requires the left hit to end before the right one starts.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::normalize::{self, Tokens};
use super::query::{self, Anchor, Ast, Field, Term, TokPat};
use super::{Doc, TopicConfig, TopicError, TopicMatch};

/// Position of the first text token; title tokens are below it.
const TEXT_BASE: u32 = 1 << 24;
/// Bytes of context before the first marked word of a snippet, and the snippet's target length.
const SNIPPET_BEFORE: usize = 80;
const SNIPPET_LEN: usize = 280;

#[derive(Debug, Clone)]
enum Node {
    Leaf {
        leaf: u32,
        label: u32,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
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
    ac: Option<AhoCorasick>,
    /// Per automaton pattern: the token patterns with that core.
    pat_tokpats: Vec<Vec<u32>>,
    /// Per token pattern: its anchor.
    anchors: Vec<Anchor>,
    /// Per leaf: its token patterns, consecutive.
    leaves: Vec<Vec<u32>>,
    /// Per token pattern: topics it makes candidates.
    trigger: Vec<Vec<u32>>,
    /// Topics that are always candidates.
    always: Vec<u32>,
}

/// A hit in the evaluation: token positions `s..=e` of a term with label `label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    s: u32,
    e: u32,
    label: u32,
}

#[derive(Default)]
struct Interner {
    tokpats: HashMap<TokPat, u32>,
    cores: HashMap<String, u32>,
    pat_tokpats: Vec<Vec<u32>>,
    core_list: Vec<String>,
    anchors: Vec<Anchor>,
    core_len: Vec<usize>,
    leaves: HashMap<Vec<u32>, u32>,
    leaf_list: Vec<Vec<u32>>,
}

impl Interner {
    fn tokpat(&mut self, tp: &TokPat) -> u32 {
        if let Some(&id) = self.tokpats.get(tp) {
            return id;
        }
        let id = self.anchors.len() as u32;
        self.anchors.push(tp.anchor);
        self.core_len.push(tp.core.len());
        let pat = match self.cores.get(&tp.core) {
            Some(&p) => p,
            None => {
                let p = self.core_list.len() as u32;
                self.core_list.push(tp.core.clone());
                self.pat_tokpats.push(Vec::new());
                self.cores.insert(tp.core.clone(), p);
                p
            }
        };
        self.pat_tokpats[pat as usize].push(id);
        self.tokpats.insert(tp.clone(), id);
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
        Node::Leaf { leaf, label }
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
            Node::Or(alts)
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
            Ast::Or(v) => Node::Or(
                v.iter()
                    .map(|x| self.resolve(x, field, source))
                    .collect::<Result<_, _>>()?,
            ),
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

/// The leaves one of which must be present for `n` to be true; `None` if no such set exists.
fn required(n: &Node) -> Option<Vec<u32>> {
    match n {
        Node::Leaf { leaf, .. } => Some(vec![*leaf]),
        Node::Or(v) => {
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
                label_ids: HashMap::new(),
                groups: HashMap::new(),
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
        for v in &mut trigger {
            v.sort_unstable();
            v.dedup();
        }
        let ac = if interner.core_list.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&interner.core_list)
                    .map_err(|e| TopicError {
                        topic: String::new(),
                        field: "query".into(),
                        position: 0,
                        message: format!("cannot build the term automaton: {e}"),
                        source: String::new(),
                    })?,
            )
        };
        Ok(Engine {
            topics: compiled,
            ac,
            pat_tokpats: interner.pat_tokpats,
            anchors: interner.anchors,
            leaves: interner.leaf_list,
            trigger,
            always,
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

    /// Number of distinct automaton patterns (for benchmarks and `topics list`).
    pub fn pattern_count(&self) -> usize {
        self.pat_tokpats.len()
    }

    fn scan(&self, ac: &AhoCorasick, t: &Tokens, base: u32, hits: &mut Vec<(u32, u32)>) {
        for m in ac.find_overlapping_iter(t.norm.as_str()) {
            let ti = t.token_at(m.start());
            let ts = t.norm_start[ti] as usize;
            let te = t.norm_end[ti] as usize;
            let at_start = m.start() == ts;
            let at_end = m.end() == te;
            for &tp in &self.pat_tokpats[m.pattern().as_usize()] {
                let ok = match self.anchors[tp as usize] {
                    Anchor::Exact => at_start && at_end,
                    Anchor::Prefix => at_start,
                    Anchor::Suffix => at_end,
                    Anchor::Infix => true,
                };
                if ok {
                    hits.push((tp, base + ti as u32));
                }
            }
        }
    }

    pub fn match_doc(&self, doc: &Doc) -> Vec<TopicMatch> {
        let Some(ac) = &self.ac else {
            return self.match_without_terms(doc);
        };
        let title = normalize::tokenize(doc.title);
        let text = normalize::tokenize(doc.text);
        let mut hits = Vec::new();
        self.scan(ac, &title, 0, &mut hits);
        self.scan(ac, &text, TEXT_BASE, &mut hits);
        hits.sort_unstable();
        hits.dedup();
        let mut cands: Vec<u32> = self.always.clone();
        let mut last = u32::MAX;
        for &(tp, _) in &hits {
            if tp != last {
                cands.extend_from_slice(&self.trigger[tp as usize]);
                last = tp;
            }
        }
        if cands.is_empty() {
            return Vec::new();
        }
        cands.sort_unstable();
        cands.dedup();
        let mut ev = Eval {
            engine: self,
            hits: &hits,
            leaf_cache: HashMap::new(),
            lang: doc.lang.map(primary_lang),
            site: doc.site.map(|s| s.trim_end_matches('.').to_lowercase()),
        };
        let mut out = Vec::new();
        for ti in cands {
            let c = &self.topics[ti as usize];
            let mut found = Vec::new();
            if !ev.eval(&c.expr, None, &mut found) {
                continue;
            }
            if let Some(x) = &c.exclude
                && ev.eval(x, None, &mut Vec::new())
            {
                continue;
            }
            out.push(build_match(c, &found, doc, &title, &text));
        }
        out
    }

    /// Topics made only of `lang:`/`site:`/`NOT` when no topic has a term at all.
    fn match_without_terms(&self, doc: &Doc) -> Vec<TopicMatch> {
        let hits = Vec::new();
        let mut ev = Eval {
            engine: self,
            hits: &hits,
            leaf_cache: HashMap::new(),
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
                out.push(build_match(c, &found, doc, &empty, &empty));
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
    /// Sorted (token pattern, position) hits of the document.
    hits: &'a [(u32, u32)],
    leaf_cache: HashMap<u32, Vec<(u32, u32)>>,
    lang: Option<String>,
    site: Option<String>,
}

impl Eval<'_> {
    fn positions(&self, tp: u32) -> &[(u32, u32)] {
        let lo = self.hits.partition_point(|&(t, _)| t < tp);
        let hi = self.hits.partition_point(|&(t, _)| t <= tp);
        &self.hits[lo..hi]
    }

    /// Occurrences (first, last token position) of a leaf.
    fn leaf(&mut self, leaf: u32) -> &[(u32, u32)] {
        if !self.leaf_cache.contains_key(&leaf) {
            let parts = &self.engine.leaves[leaf as usize];
            let mut occ = Vec::new();
            for &(_, p) in self.positions(parts[0]) {
                let ok = parts[1..].iter().enumerate().all(|(j, &tp)| {
                    let want = p + 1 + j as u32;
                    self.positions(tp).binary_search(&(tp, want)).is_ok()
                });
                if ok {
                    occ.push((p, p + parts.len() as u32 - 1));
                }
            }
            self.leaf_cache.insert(leaf, occ);
        }
        &self.leaf_cache[&leaf]
    }

    fn eval(&mut self, n: &Node, field: Option<Field>, out: &mut Vec<Hit>) -> bool {
        match n {
            Node::Leaf { leaf, label } => {
                let label = *label;
                let before = out.len();
                for &(s, e) in self.leaf(*leaf) {
                    let in_field = match field {
                        None => true,
                        Some(Field::Title) => s < TEXT_BASE,
                        Some(Field::Text) => s >= TEXT_BASE,
                    };
                    if in_field {
                        out.push(Hit { s, e, label });
                    }
                }
                out.len() > before
            }
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
            Node::Or(v) => {
                let mut any = false;
                for x in v {
                    any |= self.eval(x, field, out);
                }
                any
            }
            Node::Not(x) => !self.eval(x, field, &mut Vec::new()),
            Node::Near {
                left,
                right,
                n,
                ordered,
            } => {
                let mut l = Vec::new();
                let mut r = Vec::new();
                if !self.eval(left, field, &mut l) || !self.eval(right, field, &mut r) {
                    return false;
                }
                let close = |a: &Hit, b: &Hit| -> bool {
                    if a.e < b.s {
                        b.s - a.e - 1 <= *n
                    } else if !*ordered && b.e < a.s {
                        a.s - b.e - 1 <= *n
                    } else {
                        false
                    }
                };
                let mut used_r = vec![false; r.len()];
                let mut any = false;
                for a in &l {
                    let mut a_used = false;
                    for (j, b) in r.iter().enumerate() {
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
                any
            }
            Node::Field(f, x) => self.eval(x, Some(*f), out),
            Node::Lang(l) => self.lang.as_deref() == Some(l.as_str()),
            Node::Site(s) => self.site.as_deref().is_some_and(|h| {
                h.trim_start_matches("www.") == s || h.ends_with(&format!(".{s}"))
            }),
        }
    }
}

fn build_match(
    c: &Compiled,
    found: &[Hit],
    doc: &Doc,
    title: &Tokens,
    text: &Tokens,
) -> TopicMatch {
    let mut hits = found.to_vec();
    hits.sort_unstable();
    hits.dedup();
    let mut terms: Vec<String> = Vec::new();
    for h in &hits {
        let l = &c.labels[h.label as usize];
        if !terms.contains(l) {
            terms.push(l.clone());
        }
    }
    TopicMatch {
        topic: c.id.clone(),
        terms,
        snippet: snippet(&hits, doc, title, text),
    }
}

/// Byte spans in the original field of the hits that lie in that field.
fn spans(hits: &[Hit], t: &Tokens, base: u32, title: bool) -> Vec<(usize, usize, u32)> {
    let mut v: Vec<(usize, usize, u32)> = hits
        .iter()
        .filter(|h| (h.s < TEXT_BASE) == title)
        .filter_map(|h| {
            let s = (h.s - base) as usize;
            let e = (h.e - base) as usize;
            Some((
                t.orig.get(s)?.0 as usize,
                t.orig.get(e)?.1 as usize,
                h.label,
            ))
        })
        .collect();
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
    for (fi, (_, sp)) in fields.iter().enumerate() {
        // Dense documents: the first 64 hits of a field are enough to find a good window.
        for i in 0..sp.len().min(64) {
            let mut labels: Vec<u32> = sp[i..]
                .iter()
                .take(32)
                .take_while(|x| x.0 < sp[i].0 + SNIPPET_LEN - SNIPPET_BEFORE)
                .map(|x| x.2)
                .collect();
            labels.sort_unstable();
            labels.dedup();
            if best.is_none_or(|b| labels.len() > b.0) {
                best = Some((labels.len(), fi, i));
            }
        }
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
    let mut out = String::new();
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
        out.push_str(&clean_piece(&src[pos..s]));
        out.push_str("[[");
        out.push_str(&clean_piece(&src[s..e]));
        out.push_str("]]");
        pos = e;
    }
    out.push_str(&clean_piece(&src[pos..end]));
    if end < src.len() {
        out.push('…');
    }
    out.trim().to_string()
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
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    if space {
        out.push(' ');
    }
    out.replace("[[", "[ [").replace("]]", "] ]")
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
}
