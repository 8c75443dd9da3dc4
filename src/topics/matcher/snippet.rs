//! The reported match of a topic: its terms as written and a snippet, a passage around the
//! densest cluster of hits with each hit marked `[[like this]]` (text that would read as a mark is
//! split).

use super::super::normalize::Tokens;
use super::super::{Doc, TopicMatch};
use super::eval::Hit;
use super::{Compiled, TEXT_BASE};

/// Bytes of context before the first marked word of a snippet, and the snippet's target length.
const SNIPPET_BEFORE: usize = 80;
const SNIPPET_LEN: usize = 280;

/// The match of topic `c` from its hits `found` (sorted and deduplicated in place: the caller
/// clears the buffer before the next topic, so no copy is made).
pub(super) fn build_match(
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

/// `score 0.93`: the term that reports a model's score.
pub(super) fn score_term(score: f32) -> String {
    format!("score {score:.2}")
}

/// The match of topic `c` made by its model alone: the words that weighed most (as
/// `model::Features::strongest` names them, with their token positions) marked in the snippet,
/// then the score.
pub(super) fn build_model_match(
    c: &Compiled,
    words: Vec<(String, u32, u32)>,
    score: f32,
    doc: &Doc,
    title: &Tokens,
    text: &Tokens,
) -> TopicMatch {
    let mut hits: Vec<Hit> = Vec::with_capacity(words.len());
    let mut terms = Vec::with_capacity(words.len() + 1);
    for (label, (term, s, e)) in words.into_iter().enumerate() {
        hits.push(Hit {
            s,
            e,
            label: label as u32,
        });
        terms.push(term);
    }
    hits.sort_unstable();
    terms.push(score_term(score));
    TopicMatch {
        topic: c.id.clone(),
        terms,
        snippet: snippet(&hits, doc, title, text),
    }
}

/// Hits as byte spans in a field's original text: (start, end, label), sorted.
type Spans = Vec<(usize, usize, u32)>;

/// Byte spans in the original field of the hits that lie in that field.
fn spans(hits: &[Hit], t: &Tokens, base: u32, title: bool) -> Spans {
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
    let labels = hits.iter().map(|h| h.label as usize + 1).max().unwrap_or(0);
    let Some((fi, i)) = densest_window(&fields, labels) else {
        let t: String = doc.title.chars().take(SNIPPET_LEN).collect();
        return clean_piece(&t);
    };
    let (src, sp) = (&fields[fi].0, &fields[fi].1);
    let (start, end) = passage(src, sp, i);
    marked(src, sp, start, end)
}

/// The field and span index starting the window with the most distinct terms (title first on
/// ties); `labels` bounds the hits' labels. `None` if no hit lies in a field.
fn densest_window(fields: &[(&str, Spans); 2], labels: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None; // (score, field, span index)
    // The window of span `i` is `sp[i..j]`: at most 32 spans, starting less than
    // `SNIPPET_LEN - SNIPPET_BEFORE` bytes after span `i`. Its end `j` never moves back as `i`
    // grows (the spans are sorted), so the windows slide: each span is added and removed once,
    // its label counted in `count`, and `distinct` is the number of labels with a count.
    let mut count: Vec<u32> = vec![0; labels];
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
    best.map(|(_, fi, i)| (fi, i))
}

/// The byte range of `src` shown around span `i` of `sp`: from a word boundary shortly before
/// it, about `SNIPPET_LEN` long, never cutting a marked word.
fn passage(src: &str, sp: &[(usize, usize, u32)], i: usize) -> (usize, usize) {
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
    (start, end)
}

/// `src[start..end]` cleaned, the spans in it marked (overlapping ones merged), `…` where text
/// was cut.
fn marked(src: &str, sp: &[(usize, usize, u32)], start: usize, end: usize) -> String {
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
pub(super) fn clean_piece(s: &str) -> String {
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
