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
//! Files: the byte scan before the parse is `strip`, the post-processing of the text `text`; the
//! rest (decoding, DOM clean-up, readability, JSON-LD, fallback) is here.
//!
//! Invariants:
//! - Never panics on any input (the third-party stages run under `catch_unwind`).
//! - The output text is valid UTF-8 without control characters; blocks are separated by one blank
//!   line and lines within a block by one newline.
//! - Input larger than `MAX_INPUT_BYTES` is cut before parsing (the fetcher caps bodies anyway).

use std::borrow::Cow;

use encoding_rs::Encoding;

mod strip;
mod text;

use strip::strip_raw_text;
use text::{collapse_ws, postprocess};

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
    use super::text::is_dateline;
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
