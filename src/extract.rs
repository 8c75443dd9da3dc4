//! Extract: an article page's HTML bytes → its title and main text (pure, no I/O, not async).
//!
//! Steps: decode the bytes (BOM, then the HTTP charset, then `<meta charset>` / `http-equiv`, then
//! UTF-8 validity, then chardetng), run dom_smoothie (a Readability.js port) in its formatted text
//! mode (after removing `<nav>` menus, which it keeps on short pages), and post-process the text: normalize whitespace, keep paragraph breaks (one blank line
//! between blocks), and drop boilerplate lines (cookie banners, share prompts, "read more" lists).
//! When readability finds no article (short pages), the page's body is rendered with html2text
//! after removing scripts, navigation, headers, footers and asides.
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
    let res = std::panic::catch_unwind(|| readability(html, url));
    let (title, text) = match res {
        Ok(Ok((title, text))) if !text.trim().is_empty() => (title, text),
        Ok(_) => fallback(html)?,
        Err(_) => fallback(html)?,
    };
    let text = postprocess(&text);
    if text.is_empty() {
        return Err(ExtractError::Empty);
    }
    let title = title.map(|t| collapse_ws(&t)).filter(|t| !t.is_empty());
    Ok(Extracted { title, text })
}

fn readability(html: &str, url: Option<&str>) -> Result<(Option<String>, String), String> {
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    let doc = dom_query::Document::from(html);
    let ld_body = json_ld_body(&doc);
    // Navigation menus are never the article; readability keeps them on short pages.
    doc.select("nav, [role=\"navigation\"]").remove();
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
fn json_ld_body(doc: &dom_query::Document) -> Option<String> {
    fn walk(v: &serde_json::Value, best: &mut Option<String>, depth: usize) {
        if depth > 8 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(b)) = m.get("articleBody") {
                    if best.as_ref().is_none_or(|x| x.len() < b.len()) {
                        *best = Some(b.clone());
                    }
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
    for s in doc.select("script[type=\"application/ld+json\"]").iter() {
        let t = s.text();
        if !t.contains("articleBody") {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(t.trim()) {
            walk(&v, &mut best, 0);
        }
    }
    // articleBody is plain text by schema.org, but some publishers put HTML or entities in it.
    best.map(|b| {
        if b.contains("</p>") || b.contains("<br") {
            html2text::config::plain_no_decorate()
                .link_footnotes(false)
                .string_from_read(b.as_bytes(), 100_000)
                .unwrap_or(b)
        } else {
            htmlize::unescape(&b).into_owned()
        }
    })
}

/// The whole body as text, without the parts that are never the article.
fn fallback(html: &str) -> Result<(Option<String>, String), ExtractError> {
    let res = std::panic::catch_unwind(|| {
        let doc = dom_query::Document::from(html);
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

/// Normalizes whitespace, keeps paragraph breaks, drops boilerplate lines.
fn postprocess(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(&line);
    }
    out
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
    ];
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
    if let Some(s) = valid_utf8 {
        if declared.is_none()
            || declared == Some(encoding_rs::UTF_8)
            || !s.is_ascii()
            || declared.is_some_and(|e| e.is_ascii_compatible())
        {
            return Cow::Borrowed(s);
        }
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
}
