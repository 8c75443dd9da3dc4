//! HTML building blocks for everything the web face and HTML reports show: escaping, the `[[mark]]`
//! to `<mark>` conversion, a sanitizer pass for stored article HTML, and the page frame.
//!
//! Invariants: every piece of feed content goes through `escape` (text) or `sanitize` (stored HTML)
//! before it reaches a page; `marks_to_html` escapes first and only then inserts `<mark>` elements,
//! in balanced pairs, so a `[[` in feed text can never open markup.

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A snippet with matched words marked `[[like this]]` as HTML: the text is escaped, then each
/// balanced `[[...]]` pair becomes `<mark>...</mark>`. Unbalanced marks stay as literal text.
pub fn marks_to_html(snippet: &str) -> String {
    let esc = escape(snippet);
    let mut o = String::with_capacity(esc.len() + 32);
    let mut rest = esc.as_str();
    while let Some(open) = rest.find("[[") {
        let after = &rest[open + 2..];
        match after.find("]]") {
            Some(close) if !after[..close].contains("[[") => {
                o.push_str(&rest[..open]);
                o.push_str("<mark>");
                o.push_str(&after[..close]);
                o.push_str("</mark>");
                rest = &after[close + 2..];
            }
            _ => {
                o.push_str(&rest[..open + 2]);
                rest = after;
            }
        }
    }
    o.push_str(rest);
    o
}

/// Stored article HTML was sanitized at ingest; it is cleaned again here (defence in depth: no
/// scripts, styles, event handlers or foreign-scheme links), with links made `noopener`.
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// A link target that is safe to put in `href`: only http(s) URLs; anything else gives `None`.
pub fn safe_url(u: &str) -> Option<String> {
    let t = u.trim();
    let lower = t.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| escape(t))
}

/// The page frame shared by the dashboard pages: no scripts, inline styles only.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{} · newswatch</title><style>{CSS}</style></head><body>\
<nav><a href=\"/\">dashboard</a> · <a href=\"/feeds\">feeds</a> · <a href=\"/api/topics\">api</a> · <a href=\"/metrics\">metrics</a></nav>\n\
{body}\n</body></html>\n",
        escape(title)
    )
}

const CSS: &str = "body{font-family:sans-serif;max-width:1000px;margin:1em auto;padding:0 1em;color:#222}\
nav{margin-bottom:1em;color:#666}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;\
padding:.25em .5em;text-align:left;vertical-align:top}mark{background:#ffe58a}.meta{color:#666;font-size:.9em}\
.bad{color:#b00}.ok{color:#070}.snippet{margin:.2em 0 .8em 0}article{line-height:1.45}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_then_marks() {
        assert_eq!(
            marks_to_html("a <b> [[missile]] & [[x]]"),
            "a &lt;b&gt; <mark>missile</mark> &amp; <mark>x</mark>"
        );
        assert_eq!(marks_to_html("[[<script>]]"), "<mark>&lt;script&gt;</mark>");
        assert_eq!(marks_to_html("open [[ only"), "open [[ only");
        assert_eq!(marks_to_html("a [[b [[c]] d"), "a [[b <mark>c</mark> d");
        assert_eq!(escape("\"'<>&"), "&quot;&#39;&lt;&gt;&amp;");
    }

    #[test]
    fn urls_and_sanitizer() {
        assert!(safe_url("javascript:alert(1)").is_none());
        assert_eq!(
            safe_url("https://x.test/a?b=1&c=\"").unwrap(),
            "https://x.test/a?b=1&amp;c=&quot;"
        );
        let s = sanitize("<p onclick=\"x()\">hi<script>alert(1)</script></p>");
        assert!(!s.contains("script") && !s.contains("onclick"), "{s}");
    }
}
