//! HTML → (sanitized HTML, paragraphs of text). One html5ever parse per body: ammonia sanitizes with
//! a strict allowlist and marks junk containers (share widgets, comment sections, related posts,
//! newsletter boxes) through their class/id; a small walker over ammonia's well-formed output then
//! drops the marked containers and tracking pixels and collects the text, block by block.
//!
//! Invariants: the returned HTML never holds scripts, styles, forms, event or style attributes,
//! comments, or relative/`javascript:` URLs; every link carries `rel="noopener nofollow"`. The text
//! has entities decoded, whitespace folded within lines, and one entry per block (paragraph).
//! Plain text (no `<`) never goes through the HTML parser. A panic inside the HTML parser is caught
//! and the body falls back to a tag-stripping path; nothing here panics on any input.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

/// Marker class that ammonia's attribute filter puts on junk containers.
const JUNK: &str = "nw-junk";

/// Parts of class names / ids that mark a container as page furniture rather than article text.
const JUNK_PARTS: &[&str] = &[
    "share",
    "sharing",
    "sharedaddy",
    "shareaholic",
    "social",
    "addtoany",
    "a2a",
    "comments",
    "comment",
    "respond",
    "relatedposts",
    "related",
    "newsletter",
    "subscribe",
    "subscription",
    "advert",
    "advertisement",
    "ad",
    "ads",
    "adsbygoogle",
    "sponsored",
    "promo",
    "wpcnt",
    "likes",
    "jp",
    "sd",
    "outbrain",
    "taboola",
    "cookie",
    "paywall",
];

/// Tags whose whole content is dropped.
const DROP_CONTENT: &[&str] = &[
    "script", "style", "form", "noscript", "iframe", "object", "embed", "template", "svg", "math",
    "select", "textarea", "button", "nav", "footer", "aside", "audio", "video", "canvas", "head",
    "title", "input", "label",
];

/// Tags kept in the sanitized HTML.
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "article",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "main",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "section",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
];

/// Block-level tags: each starts and ends a paragraph of text.
fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "article"
            | "section"
            | "header"
            | "main"
            | "blockquote"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "pre"
            | "table"
            | "thead"
            | "tbody"
            | "tfoot"
            | "tr"
            | "caption"
            | "figure"
            | "figcaption"
            | "hr"
            | "details"
            | "summary"
    )
}

fn is_void(tag: &str) -> bool {
    matches!(tag, "br" | "img" | "hr" | "wbr")
}

fn junk_name(value: &str) -> bool {
    value
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .any(|part| !part.is_empty() && JUNK_PARTS.iter().any(|j| part.eq_ignore_ascii_case(j)))
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROP_CONTENT.iter().copied().collect())
        .generic_attributes(
            ["class", "id", "title", "lang", "dir"]
                .into_iter()
                .collect(),
        )
        .tag_attributes(
            [
                ("a", ["href"].into_iter().collect::<HashSet<_>>()),
                (
                    "img",
                    ["src", "alt", "width", "height"].into_iter().collect(),
                ),
                ("td", ["colspan", "rowspan"].into_iter().collect()),
                ("th", ["colspan", "rowspan"].into_iter().collect()),
                ("ol", ["start"].into_iter().collect()),
                ("time", ["datetime"].into_iter().collect()),
                ("q", ["cite"].into_iter().collect()),
                ("blockquote", ["cite"].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
        )
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener nofollow"))
        .strip_comments(true)
        .attribute_filter(|_el, attr, value| match attr {
            // class and id survive only as the junk marker, which the walker removes with its element.
            "class" | "id" => junk_name(value).then_some(Cow::Borrowed(JUNK)),
            _ => Some(Cow::Borrowed(value)),
        });
    b
});

/// The result of cleaning one HTML body.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// Sanitized HTML for display.
    pub html: String,
    /// Blocks of text in document order; a block may hold `\n` line breaks. Not yet filtered for
    /// boilerplate; whitespace folded, entities decoded, empty blocks dropped.
    pub blocks: Vec<String>,
}

/// Whether a body needs the HTML path (tags or entities) at all.
pub fn looks_like_html(s: &str) -> bool {
    s.contains('<')
}

/// Cleans an HTML body: sanitized HTML plus text blocks.
pub fn clean_html(src: &str) -> Cleaned {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SANITIZER.clean(src).to_string()
    })) {
        Ok(sanitized) => walk(&sanitized, true),
        Err(_) => {
            // The parser panicked (never seen, but html5ever-based crates have had such bugs on odd
            // tables): strip tags crudely and rebuild the HTML from the text.
            let c = walk(src, false);
            let html = blocks_to_html(&c.blocks);
            Cleaned {
                html,
                blocks: c.blocks,
            }
        }
    }
}

/// Plain text (no markup): blocks split on blank lines, entities decoded.
pub fn clean_plain(src: &str) -> Cleaned {
    let decoded = if src.contains('&') {
        htmlize::unescape(src)
    } else {
        Cow::Borrowed(src)
    };
    let mut blocks = Vec::new();
    let mut cur = String::new();
    for line in decoded.lines() {
        if line.trim().is_empty() {
            push_block(&mut blocks, &mut cur);
        } else {
            if !cur.is_empty() {
                cur.push('\n');
            }
            cur.push_str(line);
        }
    }
    push_block(&mut blocks, &mut cur);
    let html = blocks_to_html(&blocks);
    Cleaned { html, blocks }
}

/// Text of a title or other inline field: tags stripped, entities decoded, whitespace folded to one
/// line.
pub fn inline_text(src: &str) -> String {
    let text: Cow<str> = if looks_like_html(src) {
        Cow::Owned(walk(src, false).blocks.join(" "))
    } else if src.contains('&') {
        htmlize::unescape(src)
    } else {
        Cow::Borrowed(src)
    };
    fold_ws(&text)
}

/// Escaped paragraphs, for bodies that never had markup.
pub fn blocks_to_html(blocks: &[String]) -> String {
    let mut html = String::new();
    for b in blocks {
        html.push_str("<p>");
        for (i, line) in b.split('\n').enumerate() {
            if i > 0 {
                html.push_str("<br>");
            }
            html.push_str(&htmlize::escape_text(line));
        }
        html.push_str("</p>\n");
    }
    html
}

/// Folds every run of whitespace (including NBSP and zero-width space) into one space; trims.
pub fn fold_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}' || c == '\u{ad}' {
            if c != '\u{ad}' {
                space = true;
            }
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

fn push_block(blocks: &mut Vec<String>, cur: &mut String) {
    if cur.is_empty() {
        return;
    }
    // Lines are folded; an empty line (`<br><br>`, a blank line in plain text) splits the block.
    let mut block = String::new();
    for line in cur.split('\n').map(fold_ws) {
        if line.is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else {
            if !block.is_empty() {
                block.push('\n');
            }
            block.push_str(&line);
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    cur.clear();
}

/// One tag as the walker sees it.
struct Tag<'a> {
    name: String,
    end: bool,
    attrs: Vec<(&'a str, &'a str)>,
}

/// Parses the tag starting at `s[0] == '<'`. Returns the tag and its length, or None when `<`
/// does not start a tag (then it is text).
fn parse_tag(s: &str) -> Option<(Tag<'_>, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let end = b.get(1) == Some(&b'/');
    if end {
        i += 1;
    }
    if b.get(i) == Some(&b'!') || b.get(i) == Some(&b'?') {
        // comment, doctype, CDATA or processing instruction: skip it whole.
        let close = if s[i..].starts_with("!--") {
            s[i..].find("-->").map(|p| i + p + 3)
        } else {
            s[i..].find('>').map(|p| i + p + 1)
        };
        return Some((
            Tag {
                name: String::new(),
                end: true,
                attrs: Vec::new(),
            },
            close.unwrap_or(s.len()),
        ));
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let name = s[start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            return Some((Tag { name, end, attrs }, b.len()));
        }
        if b[i] == b'>' {
            return Some((Tag { name, end, attrs }, i + 1));
        }
        let (attr, next) = parse_attr(s, i);
        attrs.extend(attr);
        i = next;
    }
}

/// Parses the attribute at `s[i..]` (`name`, `name=value`, `name="value"`, `name='value'`):
/// returns it (`None` when the name is empty) and where the tag goes on.
fn parse_attr(s: &str, mut i: usize) -> (Option<(&str, &str)>, usize) {
    let b = s.as_bytes();
    let ns = i;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'>' && b[i] != b'/'
    {
        i += 1;
    }
    let an = &s[ns..i];
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut val = "";
    if i < b.len() && b[i] == b'=' {
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            let q = b[i];
            let vs = i + 1;
            let ve = s[vs..]
                .bytes()
                .position(|c| c == q)
                .map(|p| vs + p)
                .unwrap_or(b.len());
            val = &s[vs..ve];
            i = (ve + 1).min(b.len());
        } else {
            let vs = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                i += 1;
            }
            val = &s[vs..i];
        }
    }
    ((!an.is_empty()).then_some((an, val)), i)
}

fn is_pixel(attrs: &[(&str, &str)]) -> bool {
    attrs.iter().any(|(k, v)| {
        ((k.eq_ignore_ascii_case("width") || k.eq_ignore_ascii_case("height"))
            && matches!(v.trim(), "0" | "1" | "1px" | "0px"))
            || (k.eq_ignore_ascii_case("src")
                && [
                    "feeds.feedburner.com/~r/",
                    "feedburner.com/~ff/",
                    "stats.wordpress.com",
                    "pixel.wp.com",
                    "/pixel.gif",
                    "/b.gif",
                    "/tracking",
                    "doubleclick.net",
                ]
                .iter()
                .any(|p| v.contains(p)))
    })
}

/// Walks HTML: when `sanitized`, removes junk-marked elements and pixels from the HTML as well.
/// Tolerant of broken markup (an unclosed junk element drops only itself when its end is missing).
// Long (about 90 lines) for a reason: one pass over the bytes whose state (pending text and copy
// runs, the dropped element being skipped, raw script/style) every branch reads and moves on;
// split into functions, each would take and return all of it.
fn walk(src: &str, sanitized: bool) -> Cleaned {
    let mut html = String::with_capacity(if sanitized { src.len() } else { 0 });
    let mut blocks = Vec::new();
    let mut cur = String::new();
    let mut text_from = 0; // start of the pending text run
    let mut copy_from = 0; // start of the pending HTML run to copy
    let mut skip_depth = 0usize; // > 0 while inside a dropped element
    let mut skip_tag = String::new();
    let mut raw_skip: Option<&str> = None; // unsanitized input: inside script/style
    let mut i = 0;
    let bytes = src.as_bytes();
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += src[i..].find('<').unwrap_or(src.len() - i);
            continue;
        }
        let Some((tag, len)) = parse_tag(&src[i..]) else {
            i += 1;
            continue;
        };
        // flush text before the tag
        if skip_depth == 0 && raw_skip.is_none() && text_from < i {
            push_text(&mut cur, &src[text_from..i]);
        }
        let tag_end = i + len;
        if let Some(rs) = raw_skip {
            if tag.end && tag.name == rs {
                raw_skip = None;
            }
            text_from = tag_end;
            i = tag_end;
            continue;
        }
        if skip_depth > 0 {
            if tag.name == skip_tag {
                if tag.end {
                    skip_depth -= 1;
                } else if !is_void(&tag.name) {
                    skip_depth += 1;
                }
            }
            if skip_depth == 0 {
                copy_from = tag_end;
            }
            text_from = tag_end;
            i = tag_end;
            continue;
        }
        let name = tag.name.as_str();
        if !tag.end && !sanitized && DROP_CONTENT.contains(&name) {
            raw_skip =
                Some(DROP_CONTENT[DROP_CONTENT.iter().position(|t| *t == name).unwrap_or(0)]);
            text_from = tag_end;
            i = tag_end;
            continue;
        }
        let junk = !tag.end
            && (tag.attrs.iter().any(|(k, v)| {
                (*k == "class" || *k == "id") && (*v == JUNK || (!sanitized && junk_name(v)))
            }) || (name == "img" && is_pixel(&tag.attrs)));
        if junk {
            if sanitized {
                html.push_str(&src[copy_from..i]);
            }
            if is_void(name) || !has_end_tag(&src[tag_end..], name) {
                copy_from = tag_end;
            } else {
                skip_depth = 1;
                skip_tag = tag.name.clone();
            }
            text_from = tag_end;
            i = tag_end;
            continue;
        }
        if is_block(name) {
            push_block(&mut blocks, &mut cur);
        } else if name == "br" {
            cur.push('\n');
        } else if tag.end && (name == "td" || name == "th") {
            cur.push(' ');
        }
        text_from = tag_end;
        i = tag_end;
    }
    if skip_depth == 0 && raw_skip.is_none() && text_from < src.len() {
        push_text(&mut cur, &src[text_from..]);
    }
    push_block(&mut blocks, &mut cur);
    if sanitized && skip_depth == 0 {
        html.push_str(&src[copy_from..]);
    }
    Cleaned { html, blocks }
}

fn has_end_tag(rest: &str, name: &str) -> bool {
    let needle = format!("</{name}");
    rest.contains(&needle)
}

fn push_text(cur: &mut String, raw: &str) {
    if raw.contains('&') {
        cur.push_str(&htmlize::unescape(raw));
    } else {
        cur.push_str(raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_entities_and_junk() {
        let c = clean_html(
            r#"<p>Erster&nbsp;Absatz &amp; mehr.</p><script>alert(1)</script><div class="sharedaddy sd-sharing"><p>Share this:</p><div><a href="https://t.co">Twitter</a></div></div>
            <p onclick="x()" style="color:red">Zweiter <b>Absatz</b><br>mit Umbruch.</p><img src="https://ex.org/p.gif" width="1" height="1"><form><input name=q></form>"#,
        );
        assert_eq!(
            c.blocks,
            vec!["Erster Absatz & mehr.", "Zweiter Absatz\nmit Umbruch."]
        );
        assert!(
            !c.html.contains("script") && !c.html.contains("onclick") && !c.html.contains("style")
        );
        assert!(
            !c.html.contains("Twitter") && !c.html.contains("p.gif") && !c.html.contains("nw-junk")
        );
        assert!(c.html.contains("<br>"));
    }

    #[test]
    fn links_get_rel_and_lose_javascript() {
        let c = clean_html(
            r#"<p><a href="javascript:alert(1)">x</a> <a href="https://ex.org/a" onmouseover="y()">y</a> <a href="/rel">z</a></p>"#,
        );
        assert!(
            !c.html.contains("javascript")
                && !c.html.contains("onmouseover")
                && !c.html.contains("/rel")
        );
        assert!(c.html.contains(r#"rel="noopener nofollow""#), "{}", c.html);
    }

    #[test]
    fn plain_text_keeps_paragraphs() {
        let c = clean_plain("One  line&nbsp;here.\n\n\nTwo\nthree ");
        assert_eq!(c.blocks, vec!["One line here.", "Two\nthree"]);
        assert_eq!(inline_text("A &amp; <b>B</b>&nbsp;C"), "A & B C");
    }

    #[test]
    fn broken_markup_does_not_lose_text() {
        let c = walk(
            "<p>a <div class='share'>unclosed junk <p>b</p> c &lt; d",
            false,
        );
        assert!(c.blocks.join(" ").contains("c < d"), "{:?}", c.blocks);
        let c = clean_html("<table><tr><td rowspan=0>x<td>y</table><p>after");
        assert_eq!(c.blocks.last().map(String::as_str), Some("after"));
        assert_eq!(walk("é<b>ü</b>ß", false).blocks, vec!["éüß"]);
    }
}
