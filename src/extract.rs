//! Extract: an article page's HTML bytes → its title and main text (pure, no I/O, not async).
//!
//! Steps: decode the bytes (BOM, then the HTTP charset, then `<meta charset>` / `http-equiv`, then
//! UTF-8 validity, then chardetng); strip comments, `<style>`, `<svg>`, `<script>`, `<nav>`, and what
//! readability would drop from the article anyway (`<aside>`, `<footer>`, `<iframe>`, `<noscript>`,
//! form controls, `<link>`) and `data-*`/`srcset`/`sizes` attributes with a byte scan before the
//! one HTML parse (they are most of a page's
//! bytes; JSON-LD scripts are kept and read);
//! remove page furniture from the DOM (navigation, captions and credits, bylines, share and
//! newsletter boxes, related-story rails, ads, copyright notices, link-only paragraphs and lists:
//! see `clean_dom`); run dom_smoothie (a Readability.js port) in its formatted text mode, or take
//! the publisher's JSON-LD `articleBody` when it is a real body; and post-process the text:
//! normalize whitespace, keep paragraph breaks (one blank line between blocks), drop boilerplate
//! lines (cookie banners, share prompts, "Read more:" teasers, gallery counters, copyright lines)
//! and date/byline lines at the start and end. When readability finds no article (short pages),
//! the page's body is rendered with html2text after removing scripts, navigation, headers,
//! footers and asides.
//!
//! Invariants:
//! - Never panics on any input (the third-party stages run under `catch_unwind`).
//! - The output text is valid UTF-8 without control characters; blocks are separated by one blank
//!   line and lines within a block by one newline.
//! - Input larger than `MAX_INPUT_BYTES` is cut before parsing (the fetcher caps bodies anyway).

use std::borrow::Cow;

use encoding_rs::Encoding;

/// What extraction found on a page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Extracted {
    pub title: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("the page has no text")]
    Empty,
    #[error("the extractor failed: {0}")]
    Failed(String),
}

/// Parsing cost grows with the page; anything beyond this is cut before parsing.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;

/// Extracts the title and main text of an HTML page. `url` (absolute) helps resolve metadata;
/// `http_charset` is the `charset=` of the Content-Type header, if any.
pub fn extract(
    html: &[u8],
    url: Option<&str>,
    http_charset: Option<&str>,
) -> Result<Extracted, ExtractError> {
    let html = &html[..html.len().min(MAX_INPUT_BYTES)];
    let text = decode_html(html, http_charset);
    extract_str(&text, url)
}

/// Like [`extract`] on an already decoded page.
pub fn extract_str(html: &str, url: Option<&str>) -> Result<Extracted, ExtractError> {
    let url = url.filter(|u| url::Url::parse(u).is_ok_and(|u| u.has_host()));
    let (html, ld_scripts) = strip_raw_text(html);
    let res = std::panic::catch_unwind(|| readability(&html, &ld_scripts, url));
    let (title, text) = match res {
        Ok(Ok((title, text))) if !text.trim().is_empty() => (title, text),
        Ok(_) => fallback(&html)?,
        Err(_) => fallback(&html)?,
    };
    let text = postprocess(&text);
    if text.is_empty() {
        return Err(ExtractError::Empty);
    }
    let title = title.map(|t| collapse_ws(&t)).filter(|t| !t.is_empty());
    Ok(Extracted { title, text })
}

fn readability(
    html: &str,
    ld_scripts: &[&str],
    url: Option<&str>,
) -> Result<(Option<String>, String), String> {
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    let ld_body = json_ld_body(ld_scripts);
    let doc = dom_query::Document::from(html);
    cap_depth(&doc);
    clean_dom(&doc);
    let mut r =
        dom_smoothie::Readability::with_document(doc, url, Some(cfg)).map_err(|e| e.to_string())?;
    let parsed = r.parse();
    let (title, text) = match parsed {
        Ok(article) => (
            Some(article.title.clone()).filter(|t| !t.trim().is_empty()),
            article.text_content.to_string(),
        ),
        Err(e) if ld_body.is_none() => return Err(e.to_string()),
        Err(_) => (None, String::new()),
    };
    // The publisher's own schema.org articleBody, when it is a real body and not a teaser: at least
    // as long as a short article, and not much shorter than what readability found.
    if let Some(body) = ld_body {
        let (bl, tl) = (body.chars().count(), text.chars().count());
        if bl >= 400 && bl * 10 >= tl * 6 {
            return Ok((title, body));
        }
    }
    Ok((title, text))
}

/// The longest `articleBody` string of the page's JSON-LD (`<script type="application/ld+json">`),
/// looked for in nested objects, arrays and `@graph`.
fn json_ld_body(scripts: &[&str]) -> Option<String> {
    fn walk(v: &serde_json::Value, best: &mut Option<String>, depth: usize) {
        if depth > 8 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(b)) = m.get("articleBody")
                    && best.as_ref().is_none_or(|x| x.len() < b.len())
                {
                    *best = Some(b.clone());
                }
                for x in m.values() {
                    walk(x, best, depth + 1);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, best, depth + 1)),
            _ => {}
        }
    }
    let mut best = None;
    for t in scripts {
        if !t.contains("articleBody") {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t.trim()) {
            walk(&v, &mut best, 0);
        }
    }
    // articleBody is plain text by schema.org, but some publishers put HTML or entities in it.
    // Some escape that HTML (`&lt;p&gt;`): it is rendered as a page fragment, furniture removed.
    best.map(|b| {
        let b = htmlize::unescape(&b);
        if ["</p>", "<br", "</div>", "</h2>", "<img", "</a>"]
            .iter()
            .any(|t| b.contains(t))
        {
            let frag = dom_query::Document::fragment(&*b);
            cap_depth(&frag);
            clean_dom(&frag);
            frag.select("img, iframe, script, style").remove();
            frag.root().formatted_text().to_string()
        } else {
            b.into_owned()
        }
    })
}

/// Elements nested deeper than this lose their markup (see `cap_depth`). Real pages stay well under
/// it.
const MAX_DOM_DEPTH: usize = 128;

/// Replaces the subtree of every element at depth `MAX_DOM_DEPTH` by its text. Readability and
/// the furniture checks look at a node's descendants or ancestors for many nodes, so their cost
/// grows with nodes × depth: a page of 5,000 nested `<div>`s (80 KB) took 18 s. One iterative
/// walk, linear in the nodes.
fn cap_depth(doc: &dom_query::Document) {
    let mut deep = Vec::new();
    let mut node = doc.root().first_child();
    let mut depth = 1;
    while let Some(n) = node {
        let child = if depth >= MAX_DOM_DEPTH && n.is_element() {
            if n.first_child().is_some() {
                deep.push(n);
            }
            None
        } else {
            n.first_child()
        };
        if child.is_some() {
            depth += 1;
            node = child;
            continue;
        }
        let mut cur = n;
        node = loop {
            if let Some(next) = cur.next_sibling() {
                break Some(next);
            }
            match cur.parent() {
                Some(p) if depth > 1 => {
                    depth -= 1;
                    cur = p;
                }
                _ => break None,
            }
        };
    }
    for n in deep {
        let text = n.text();
        n.set_text(text);
    }
}

/// Removes page furniture that readability keeps when it sits inside or next to the article:
/// navigation menus, captions and photo credits, bylines and datelines, share and newsletter boxes,
/// related-story rails, ads, copyright notices, tag lists, and paragraphs or lists that are nothing
/// but links. Class and `id` names are split into words (`article__image-caption`, `newsCaption`)
/// and matched word by word; each kind of furniture has a size cap, and nothing holding half of
/// the page's paragraph-sized text is removed, so an article container with an unlucky class survives.
fn clean_dom(doc: &dom_query::Document) {
    doc.select("nav, [role=\"navigation\"], figcaption")
        .remove();
    // Computed when first needed: most pages have no large furniture candidate.
    let mut total_long: Option<usize> = None;
    let mut doomed = Vec::new();
    for node in doc.root().descendants_it() {
        let Some(name) = node.node_name() else {
            continue;
        };
        let name = &*name;
        if matches!(name, "p" | "ul" | "ol") {
            if link_only(&node, name != "p") {
                doomed.push(node);
            }
            continue;
        }
        if matches!(name, "html" | "body" | "main" | "article") {
            continue;
        }
        let (class, id) = (node.attr("class"), node.attr("id"));
        if class.is_none() && id.is_none() {
            continue;
        }
        let Some(cap) = furniture_cap(class.as_deref().unwrap_or(""), id.as_deref().unwrap_or(""))
        else {
            continue;
        };
        let len = node.normalized_char_count();
        if len > cap && link_chars(&node) * 2 < len {
            continue;
        }
        if len > 200 {
            let total = *total_long.get_or_insert_with(|| long_text(&doc.root()));
            if long_text(&node) * 2 > total {
                continue;
            }
        }
        doomed.push(node);
    }
    for node in doomed {
        node.remove_from_parent();
    }
}

/// A paragraph that is one link ("Read more: ..." teasers, at most 300 characters), or a list of
/// at least two items that all are.
fn link_only(node: &dom_query::NodeRef, list: bool) -> bool {
    let has_link = node
        .descendants_it()
        .any(|d| d.node_name().is_some_and(|n| &*n == "a"));
    if !has_link {
        return false;
    }
    if list {
        let items = node.element_children();
        items.len() >= 2
            && items
                .iter()
                .all(|li| link_chars(li) * 10 >= li.normalized_char_count() * 9)
    } else {
        let len = node.normalized_char_count();
        len > 0 && len <= 300 && link_chars(node) * 10 >= len * 9
    }
}

/// Characters in the long text nodes (paragraph-sized, at least 100 characters) under `node`: where
/// the article's prose is, whether the page puts it in `<p>` or in `<div>`s.
fn long_text(node: &dom_query::NodeRef) -> usize {
    node.descendants_it()
        .filter(|d| d.is_text())
        .map(|d| d.normalized_char_count())
        .filter(|&c| c >= 100)
        .sum()
}

/// Characters of text inside links under `node`.
fn link_chars(node: &dom_query::NodeRef) -> usize {
    node.descendants_it()
        .filter(|d| d.node_name().is_some_and(|n| &*n == "a"))
        .map(|d| d.normalized_char_count())
        .sum()
}

/// The size cap (normalized characters) under which an element with these class and id names is
/// page furniture, or `None` when the names say nothing.
fn furniture_cap(class: &str, id: &str) -> Option<usize> {
    let mut cap: Option<usize> = None;
    let mut buf = String::new();
    for word in class_words(class).chain(class_words(id)) {
        buf.clear();
        buf.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        let w = buf.as_str();
        let c = match w {
            "credit" | "credits" | "byline" | "dateline" | "timestamp" | "author" | "authors"
            | "submitted" | "share" | "sharing" | "shares" | "social" | "sharebar" | "ad"
            | "ads" | "advert" | "advertisement" | "advertising" | "sponsor" | "sponsored"
            | "tags" | "keywords" | "breadcrumb" | "breadcrumbs" => 300,
            "bio" | "newsletter" | "newsletters" | "signup" | "subscribe" | "subscription"
            | "copyright" | "disclaimer" | "promo" => 600,
            "related" | "recommended" | "recommendations" | "trending" | "outbrain" | "taboola"
            | "comments" | "disqus" => 3000,
            w if w.contains("caption") || w.contains("byline") => 600,
            w if w.contains("newsletter") || w.contains("copyright") => 600,
            w if w.starts_with("related") || w.starts_with("recommend") => 3000,
            _ => continue,
        };
        cap = Some(cap.map_or(c, |x| x.max(c)));
    }
    cap
}

/// Words of a class or id list, as slices: split on anything not alphanumeric and on camelCase
/// humps (`articleBylineContainer` → article, Byline, Container).
fn class_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .flat_map(|w| {
            let b = w.as_bytes();
            let mut start = 0;
            let mut cuts = Vec::new();
            for i in 1..b.len() {
                if b[i].is_ascii_uppercase()
                    && (b[i - 1].is_ascii_lowercase() || b[i - 1].is_ascii_digit())
                {
                    cuts.push(&w[start..i]);
                    start = i;
                }
            }
            cuts.push(&w[start..]);
            cuts
        })
}

/// Removes what is never article text before the HTML parser sees it: comments, `<script>`,
/// `<style>`, `<svg>`, `<nav>` and the other elements of `CUT` (most of a modern page's bytes).
/// JSON-LD scripts are kept in the page (readability reads its metadata) and their contents returned. Hand-rolled with memchr because a full HTML
/// tokenizer is what this pass exists to spare; the cases it simplifies (a `<script` inside an attribute
/// value, `</script>` inside an escaped `<!--` script) only cost a little text, never a panic.
fn strip_raw_text(html: &str) -> (String, Vec<&str>) {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    let mut ld = Vec::new();
    let (mut i, mut copied) = (0, 0);
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        let p = i + p;
        let rest = &b[p + 1..];
        let end = if rest.starts_with(b"!--") {
            // `<!-->` and `<!--->` are complete (empty) comments.
            let body = p + 4;
            if b[body..].starts_with(b">") {
                body + 1
            } else if b[body..].starts_with(b"->") {
                body + 2
            } else {
                memchr::memmem::find(&b[body..], b"-->").map_or(b.len(), |e| body + e + 3)
            }
        } else if let Some(&(name, kind)) = CUT.iter().find(|(n, _)| tag_named(rest, n)) {
            let Some(gt) = memchr::memchr(b'>', &b[p..]).map(|g| p + g) else {
                break;
            };
            if kind == Cut::Void || name == "svg" && b[gt - 1] == b'/' {
                gt + 1
            } else if kind == Cut::Nested {
                // Unclosed: only the start tag goes, the parser decides about the rest.
                close_nested(b, gt + 1, name).unwrap_or(gt + 1)
            } else if kind == Cut::Flat {
                // Cannot nest: the first end tag closes it; unclosed, only the start tag goes.
                find_end_tag(b, gt + 1, name).map_or(gt + 1, |c| {
                    memchr::memchr(b'>', &b[c..]).map_or(b.len(), |g| c + g + 1)
                })
            } else {
                let close = find_end_tag(b, gt + 1, name);
                let end = close.map_or(b.len(), |c| {
                    memchr::memchr(b'>', &b[c..]).map_or(b.len(), |g| c + g + 1)
                });
                if name == "script" && {
                    let tag = html[p..gt].to_ascii_lowercase();
                    tag.contains("ld+json")
                } {
                    ld.push(&html[gt + 1..close.unwrap_or(b.len())]);
                    i = end;
                    continue;
                }
                end
            }
        } else if rest.first().is_some_and(u8::is_ascii_alphabetic) {
            // Another start tag: its attributes that never matter to the text go.
            let j;
            (j, copied) = cut_attrs(html, p + 1, copied, &mut out);
            i = j;
            continue;
        } else {
            i = p + 1;
            continue;
        };
        out.push_str(&html[copied..p]);
        copied = end;
        i = end;
        if i >= b.len() {
            break;
        }
    }
    out.push_str(&html[copied.min(html.len())..]);
    (out, ld)
}

/// Scans the start tag whose name begins at `from` and drops its `data-*`, `srcset` and `sizes`
/// attributes (lazy-loading and layout data: often a tenth of a page's markup, never text),
/// copying `html[copied..]` into `out` up to each. Returns where the tag ends (its `>` or the
/// end of the page) and the new `copied`.
fn cut_attrs(html: &str, from: usize, mut copied: usize, out: &mut String) -> (usize, usize) {
    let b = html.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let mut j = from;
    while j < b.len() && !ws(b[j]) && b[j] != b'/' && b[j] != b'>' {
        j += 1;
    }
    loop {
        while j < b.len() && (ws(b[j]) || b[j] == b'/') {
            j += 1;
        }
        if j >= b.len() || b[j] == b'>' {
            return (j, copied);
        }
        let start = j;
        j += 1;
        while j < b.len() && !ws(b[j]) && !matches!(b[j], b'/' | b'>' | b'=') {
            j += 1;
        }
        let name = &b[start..j];
        let mut k = j;
        while k < b.len() && ws(b[k]) {
            k += 1;
        }
        if k < b.len() && b[k] == b'=' {
            k += 1;
            while k < b.len() && ws(b[k]) {
                k += 1;
            }
            if k < b.len() && (b[k] == b'"' || b[k] == b'\'') {
                k = memchr::memchr(b[k], &b[k + 1..]).map_or(b.len(), |e| k + e + 2);
            } else {
                while k < b.len() && !ws(b[k]) && b[k] != b'>' {
                    k += 1;
                }
            }
            j = k;
        }
        if name.len() > 5 && name[..5].eq_ignore_ascii_case(b"data-")
            || name.eq_ignore_ascii_case(b"srcset")
            || name.eq_ignore_ascii_case(b"sizes")
        {
            out.push_str(&html[copied..start]);
            copied = j;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Raw text up to its end tag (an unclosed one runs to the end of the page, as in a browser).
    Raw,
    /// Up to the matching end tag, nested ones counted.
    Nested,
    /// Up to the first end tag (the element cannot contain itself).
    Flat,
    /// Just the tag.
    Void,
}

/// Elements the pre-pass cuts. Besides what is never text, these are the ones readability removes
/// from the article it picks anyway (`footer`, `aside`, `iframe`, form controls, `link`): cut
/// here, the parser and the scoring never see them.
const CUT: &[(&str, Cut)] = &[
    ("script", Cut::Raw),
    ("style", Cut::Raw),
    ("noscript", Cut::Raw),
    ("iframe", Cut::Raw),
    ("textarea", Cut::Raw),
    ("svg", Cut::Nested),
    ("nav", Cut::Nested),
    ("aside", Cut::Nested),
    ("footer", Cut::Nested),
    ("template", Cut::Nested),
    ("select", Cut::Flat),
    ("button", Cut::Flat),
    ("link", Cut::Void),
    ("input", Cut::Void),
];

/// `rest` (after a `<`) starts with the tag name `name` (ASCII, case-insensitive) and the name ends.
fn tag_named(rest: &[u8], name: &str) -> bool {
    rest.len() > name.len()
        && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && matches!(
            rest[name.len()],
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>'
        )
}

/// The offset of the `</name` end tag at or after `from`, if any.
fn find_end_tag(b: &[u8], mut from: usize, name: &str) -> Option<usize> {
    while let Some(p) = memchr::memchr(b'<', &b[from..]) {
        let p = from + p;
        if b.get(p + 1) == Some(&b'/') && tag_named(&b[p + 2..], name) {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

/// The end of a `name` element (`svg`, `nav`) whose start tag ends before `from`, nested ones
/// counted; `None` when it is never closed.
fn close_nested(b: &[u8], mut from: usize, name: &str) -> Option<usize> {
    let mut depth = 1;
    while let Some(p) = memchr::memchr(b'<', &b[from..]) {
        let p = from + p;
        let rest = &b[p + 1..];
        if tag_named(rest, name) {
            let gt = memchr::memchr(b'>', &b[p..]).map_or(b.len(), |g| p + g);
            if name != "svg" || b[gt - 1] != b'/' {
                depth += 1;
            }
        } else if rest.first() == Some(&b'/') && tag_named(&rest[1..], name) {
            depth -= 1;
            if depth == 0 {
                return Some(memchr::memchr(b'>', &b[p..]).map_or(b.len(), |g| p + g + 1));
            }
        }
        from = p + 1;
    }
    None
}

/// The whole body as text, without the parts that are never the article.
fn fallback(html: &str) -> Result<(Option<String>, String), ExtractError> {
    let res = std::panic::catch_unwind(|| {
        let doc = dom_query::Document::from(html);
        cap_depth(&doc);
        let title = doc.select("title").text().to_string();
        doc.select(
            "script, style, noscript, nav, header, footer, aside, form, iframe, svg, template",
        )
        .remove();
        let body = doc.select("body");
        let inner = if body.length() > 0 {
            body.html().to_string()
        } else {
            doc.html().to_string()
        };
        let text = html2text::config::plain_no_decorate()
            .link_footnotes(false)
            .no_table_borders()
            .string_from_read(inner.as_bytes(), 100_000)
            .map_err(|e| ExtractError::Failed(e.to_string()))?;
        Ok((Some(title).filter(|t| !t.trim().is_empty()), text))
    });
    res.unwrap_or_else(|_| {
        Err(ExtractError::Failed(
            "the HTML renderer panicked on this page".into(),
        ))
    })
}

/// Normalizes whitespace, keeps paragraph breaks, drops boilerplate lines, and drops date and
/// byline lines among the first three and last two lines.
fn postprocess(text: &str) -> String {
    // (line, preceded by a blank line)
    let mut lines: Vec<(String, bool)> = Vec::new();
    let mut blank = false;
    for raw in text.lines() {
        let line = collapse_ws(raw);
        if line.is_empty() {
            blank = true;
            continue;
        }
        if is_boilerplate(&line) {
            continue;
        }
        lines.push((line, blank));
        blank = false;
    }
    let n = lines.len();
    let mut out = String::with_capacity(text.len());
    for (i, (line, blank)) in lines.into_iter().enumerate() {
        if (i < 3 || i + 2 >= n) && n > 3 && is_dateline(&line) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        out.push_str(&line);
    }
    out
}

/// A short line that dates or signs the article: "Updated 5:27 am CST, Wednesday", "By A. Reporter
/// - 11/18/19", "PUBLISHED: 10:48, Tue, Nov 19, 2019".
fn is_dateline(line: &str) -> bool {
    if line.len() > 120 || line.split(' ').count() > 14 {
        return false;
    }
    let l = line.to_lowercase();
    let l = l.trim_start_matches(['|', ' ', '-', '·']);
    const LEADS: &[&str] = &[
        "published",
        "updated",
        "posted",
        "last updated",
        "first published",
        "by ",
        "date:",
        "veröffentlicht",
        "aktualisiert",
        "publicado",
        "atualizado",
        "publié",
        "mis à jour",
    ];
    let b = l.as_bytes();
    let has_digit = b.iter().any(u8::is_ascii_digit);
    let time = b.windows(4).any(|w| {
        w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
    });
    let date = b.windows(5).any(|w| {
        w[0].is_ascii_digit()
            && matches!(w[1], b'/' | b'.')
            && w[2].is_ascii_digit()
            && (w[3] == w[1] || w[3].is_ascii_digit() && w[4] == w[1])
    });
    (LEADS.iter().any(|p| l.starts_with(p)) && (has_digit || l.len() < 60)) || time || date
}

fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Short lines that are page furniture, not article text.
fn is_boilerplate(line: &str) -> bool {
    if line.chars().count() > 120 {
        return false;
    }
    let l = line.to_lowercase();
    const EXACT: &[&str] = &[
        "advertisement",
        "advertisements",
        "anzeige",
        "share",
        "share this",
        "share this article",
        "share this story",
        "tweet",
        "email",
        "print",
        "comments",
        "read more",
        "read more:",
        "related",
        "related articles",
        "related stories",
        "more stories",
        "you may also like",
        "recommended",
        "skip to content",
        "skip to main content",
        "sign up",
        "subscribe",
        "accept",
        "accept all",
        "reject all",
        "close",
        "loading...",
        "werbung",
        "advert",
        "don't miss",
        "caption",
        "most read",
        "most popular",
        "top stories",
        "trending",
        "related posts",
        "tags",
        "continue reading",
        "continue reading below",
        "share on facebook",
        "share on twitter",
        "tell us what you think",
    ];
    if EXACT.contains(&l.trim_end_matches([':', '.', '!'])) {
        return true;
    }
    const CONTAINS: &[&str] = &[
        "we use cookies",
        "this site uses cookies",
        "this website uses cookies",
        "accept cookies",
        "cookie policy",
        "cookie settings",
        "all rights reserved",
        "sign up for our newsletter",
        "subscribe to our newsletter",
        "follow us on",
        "click here to",
        "javascript is disabled",
        "enable javascript",
        "subject to copyright",
        "slideshow requires javascript",
    ];
    const PREFIXES: &[&str] = &[
        "related:",
        "read more:",
        "see more:",
        "see also:",
        "more:",
        "also read:",
        "read also:",
        "don't miss:",
        "watch:",
        "click here",
        "(image credit",
        "image credit:",
        "photo:",
        "credit:",
        "lesen sie auch:",
        "mehr zum thema:",
        "leia também:",
        "lire aussi :",
        "lire aussi:",
    ];
    if PREFIXES.iter().any(|p| l.starts_with(p)) {
        return true;
    }
    // "Image 3 of 8" gallery counters.
    if l.len() < 24 && l.starts_with("image ") && l.contains(" of ") {
        return true;
    }
    if l.contains('©')
        || l.contains("newsletter") && (l.contains("subscri") || l.contains("sign up"))
    {
        return true;
    }
    CONTAINS.iter().any(|c| l.contains(c))
}

/// Decodes an HTML page: BOM, then the HTTP charset, then a `<meta>` charset in the first 4 KiB,
/// then UTF-8 if the bytes are valid UTF-8, then chardetng's guess. A declared legacy charset is
/// overridden when the bytes are valid UTF-8 with non-ASCII content (a common server lie).
pub fn decode_html<'a>(bytes: &'a [u8], http_charset: Option<&str>) -> Cow<'a, str> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text;
    }
    let declared = http_charset
        .and_then(|l| Encoding::for_label(l.trim().trim_matches(['"', '\'']).as_bytes()))
        .or_else(|| meta_charset(bytes))
        // A page cannot declare UTF-16 in ASCII; the HTML spec maps such a meta to UTF-8.
        .map(|e| {
            if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE {
                encoding_rs::UTF_8
            } else {
                e
            }
        });
    let valid_utf8 = std::str::from_utf8(bytes).ok();
    if let Some(s) = valid_utf8
        && (declared.is_none()
            || declared == Some(encoding_rs::UTF_8)
            || !s.is_ascii()
            || declared.is_some_and(|e| e.is_ascii_compatible()))
    {
        return Cow::Borrowed(s);
    }
    let enc = match declared {
        Some(e) => e,
        None => {
            let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            det.feed(bytes, true);
            det.guess(None, chardetng::Utf8Detection::Allow)
        }
    };
    let (text, _, _) = enc.decode(bytes);
    text
}

/// The charset a `<meta charset=...>` or `<meta http-equiv="Content-Type" content="...;charset=...">`
/// in the first 4 KiB declares.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(p) = rest.find("<meta") {
        rest = &rest[p + 5..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if let Some(c) = tag.find("charset") {
            let v = tag[c + 7..].trim_start().strip_prefix('=')?.trim_start();
            let v = v.trim_start_matches(['"', '\'']);
            let label: String = v
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ';' | ' ' | '/' | '>'))
                .collect();
            if let Some(e) = Encoding::for_label(label.as_bytes()) {
                return Some(e);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_charset_forms() {
        assert_eq!(
            meta_charset(b"<meta charset=\"koi8-r\">"),
            Some(encoding_rs::KOI8_R)
        );
        assert_eq!(
            meta_charset(
                b"<META http-equiv=Content-Type content='text/html; charset=windows-1252'>"
            ),
            Some(encoding_rs::WINDOWS_1252)
        );
        assert_eq!(meta_charset(b"<meta name=x>"), None);
    }

    #[test]
    fn boilerplate_lines_dropped_and_paragraphs_kept() {
        let t = postprocess(
            "First  para\n\n\nShare this\nSecond\tline\n\nWe use cookies to improve\n\nThird",
        );
        // The blank line before a dropped line still separates the blocks around it.
        assert_eq!(t, "First para\n\nSecond line\n\nThird");
    }

    #[test]
    fn raw_text_elements_stripped_json_ld_kept() {
        let (html, ld) = strip_raw_text(
            "<p>a</p><script>if (a<b) x('</p>')</script><!-- c --><STYLE>p{}</STYLE>\
             <svg><svg><path/></svg><text>t</text></svg><nav><nav>m</nav>n</nav>\
             <script type=\"application/ld+json\">{\"x\":1}</script><p>b</p><nav>open",
        );
        assert_eq!(
            html,
            "<p>a</p><script type=\"application/ld+json\">{\"x\":1}</script><p>b</p>open"
        );
        assert_eq!(ld, vec!["{\"x\":1}"]);
        let (html, _) = strip_raw_text(
            "<p>a<link rel=x><input type=text></p><aside><aside>x</aside>y</aside>\
             <button>b</button><noscript><img></noscript><select><option>o</select><footer>",
        );
        assert_eq!(html, "<p>a</p>");
        let (html, _) = strip_raw_text(
            "<div data-x=\"a>b\" class=c DATA-Y='1'data-z=2><img srcset=\"s 1x\" src=i sizes>\
             <p data-q=<b>t</p><a data-",
        );
        assert_eq!(html, "<div  class=c ><img  src=i ><p >t</p><a data-");
        // An unclosed script swallows the rest, as in a browser.
        assert_eq!(strip_raw_text("x<script>y").0, "x");
    }

    #[test]
    fn class_names_split_into_words() {
        let w: Vec<_> = class_words("article__image-caption newsCaption hR").collect();
        assert_eq!(
            w,
            ["article", "image", "caption", "news", "Caption", "h", "R"]
        );
        assert_eq!(furniture_cap("articleBylineContainer", ""), Some(300));
        assert_eq!(furniture_cap("article__image-caption", ""), Some(600));
        assert_eq!(furniture_cap("story-body", "main"), None);
        assert_eq!(furniture_cap("commentary", ""), None);
    }

    #[test]
    fn datelines_recognized() {
        for l in [
            "Updated 5:27 am CST, Wednesday, November 20, 2019",
            "PUBLISHED: 10:48, Tue, Nov 19, 2019",
            "By Justine Coleman - 11/18/19 11:04 PM EST",
            "05/10/2018 - Publicado por: Clarissa Borba",
        ] {
            assert!(is_dateline(l), "{l}");
        }
        assert!(!is_dateline(
            "The council met on Tuesday to discuss the budget."
        ));
    }
}
