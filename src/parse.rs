//! Parse: feed bytes → `ParsedFeed`. Pure: no I/O, not async.
//!
//! feed-rs does the format work (RSS 0.9x/1.0/2.0, Atom, JSON Feed). In front of it sits a thin layer
//! that feed-rs lacks: the charset is resolved (BOM → XML declaration → HTTP charset → detection) and
//! the bytes are transcoded to UTF-8 with the declaration rewritten, so a windows-1251 feed that
//! claims to be UTF-8 comes out as readable Russian; a `<rss>` root without a version is accepted;
//! stray `&` are escaped and the parse retried; dates in forms feed-rs does not know are parsed.
//!
//! Invariants: never panics on any input (feed-rs runs under `catch_unwind`); every link in the
//! result is absolute when the feed URL is known; `Entry::guid` is `None` when the feed gave no id
//! (feed-rs' generated ids are not stable and are never used as identity).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use encoding_rs::Encoding;

use crate::model::{Entry, ParsedFeed};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty body")]
    Empty,
    #[error("not a feed: the body is an HTML page")]
    Html,
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("malformed feed: {0}")]
    Malformed(String),
}

/// Parses feed bytes. `url` (when known) resolves relative links; `http_charset` is the charset of
/// the HTTP Content-Type header, if any.
pub fn parse_feed(
    bytes: &[u8],
    url: Option<&str>,
    http_charset: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let trimmed = trim_start(bytes);
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    let text = to_utf8(bytes, http_charset);
    let text = text.as_ref();
    match run_feed_rs(text.as_bytes(), url) {
        Ok(feed) => Ok(convert(feed, url)),
        Err(first) => {
            if looks_like_html(text) {
                return Err(ParseError::Html);
            }
            // Repairs feed-rs has no recovery mode for; each retried once.
            let repaired = repair(text);
            if repaired != text {
                match run_feed_rs(repaired.as_bytes(), url) {
                    Ok(feed) => return Ok(convert(feed, url)),
                    // The repair got past the root element: its error says more.
                    Err(e @ ParseError::Malformed(_))
                        if matches!(first, ParseError::NotAFeed(_)) =>
                    {
                        return Err(e);
                    }
                    Err(_) => {}
                }
            }
            Err(first)
        }
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

thread_local! {
    /// Set while this thread runs code whose panics are caught and reported as input errors.
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `catch_unwind` without the panic message on stderr: a parser panic on a bad input is reported
/// as that input's error, not as a crash-looking message in the middle of the output. Other
/// panics (other threads, or outside this call) still go to the previous hook.
fn quiet_catch_unwind<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) {
                tracing::debug!(%info, "parser panic caught");
            } else {
                previous(info);
            }
        }));
    });
    CATCHING.with(|c| c.set(true));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    res
}

fn run_feed_rs(bytes: &[u8], url: Option<&str>) -> Result<feed_rs::model::Feed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(url)
        // An empty id marks "the feed gave none": identity then falls back to the link or content.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(parse_date)
        .build();
    let res = quiet_catch_unwind(|| parser.parse(bytes));
    match res {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ))) => Err(ParseError::NotAFeed(
            "no RSS, Atom or JSON Feed root element".into(),
        )),
        Ok(Err(e)) => Err(ParseError::Malformed(one_line(&e.to_string()))),
        Err(_) => Err(ParseError::Malformed(
            "the feed parser panicked on this input".into(),
        )),
    }
}

fn one_line(s: &str) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s.chars().take(300).collect()
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    let head = head.trim_start();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || (head.contains("<html") && !head.contains("<rss") && !head.contains("<feed"))
}

/// Fixes that make common broken feeds parseable: a `<rss>` root without a usable version, and
/// bare `&` that are not entity references.
fn repair(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let is_ref = after
            .find(';')
            .filter(|&j| j > 0 && j <= 32)
            .map(|j| {
                let name = &after[..j];
                name.starts_with('#')
                    && name.len() > 1
                    && name[1..]
                        .trim_start_matches(['x', 'X'])
                        .chars()
                        .all(|c| c.is_ascii_hexdigit())
                    || name.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .unwrap_or(false);
        out.push_str(if is_ref { "&" } else { "&amp;" });
        rest = after;
    }
    out.push_str(rest);
    // <rss> or <rss version="2.00"> → version="2.0"
    if let Some(pos) = out.find("<rss") {
        let end = out[pos..].find('>').map(|e| pos + e);
        if let Some(end) = end {
            let tag = &out[pos..end];
            if !tag.contains("version=\"2.0\"")
                && !tag.contains("version='2.0'")
                && !tag.contains("version=\"0.9")
                && !tag.contains("version='0.9")
            {
                let cleaned = strip_attr(tag, "version");
                let new_tag = format!("{} version=\"2.0\"", cleaned.trim_end());
                out.replace_range(pos..end, &new_tag);
            }
        }
    }
    out
}

fn strip_attr(tag: &str, attr: &str) -> String {
    if let Some(p) = tag.find(&format!("{attr}=")) {
        let q = tag.as_bytes().get(p + attr.len() + 1).copied();
        if let Some(q @ (b'"' | b'\'')) = q
            && let Some(e) = tag[p + attr.len() + 2..].find(q as char)
        {
            let end = p + attr.len() + 2 + e + 1;
            return format!("{}{}", &tag[..p], &tag[end..]);
        }
    }
    tag.to_string()
}

/// Resolves the charset and returns UTF-8 text whose XML declaration (if any) says UTF-8.
pub fn to_utf8<'a>(bytes: &'a [u8], http_charset: Option<&str>) -> Cow<'a, str> {
    // 1. A BOM is authoritative.
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Cow::Owned(rewrite_decl(&text));
    }
    // 2. UTF-16 without a BOM shows itself in the first character, `<` next to a zero byte.
    if bytes.len() >= 4 && bytes.len().is_multiple_of(2) {
        let enc = match bytes[..4] {
            [0, b'<', 0, _] => Some(encoding_rs::UTF_16BE),
            [b'<', 0, _, 0] => Some(encoding_rs::UTF_16LE),
            _ => None,
        };
        if let Some(enc) = enc {
            let (text, _) = enc.decode_without_bom_handling(bytes);
            return Cow::Owned(rewrite_decl(&text));
        }
    }
    let declared = xml_declared_encoding(bytes)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
        .or_else(|| http_charset.and_then(|l| Encoding::for_label(l.trim().as_bytes())));
    let valid_utf8 = std::str::from_utf8(bytes).ok();
    let enc = match declared {
        // A declared single-byte or legacy charset is trusted, unless the bytes are clean UTF-8
        // with non-ASCII content (then the declaration is the lie).
        Some(enc) if enc != encoding_rs::UTF_8 => {
            if let Some(s) = valid_utf8
                && !s.is_ascii()
            {
                return Cow::Owned(rewrite_decl(s));
            }
            enc
        }
        // Declared UTF-8 (or nothing): believe it when the bytes are valid UTF-8.
        _ => match valid_utf8 {
            Some(s) => {
                return if xml_declared_encoding(bytes)
                    .is_some_and(|l| !l.eq_ignore_ascii_case("utf-8"))
                {
                    Cow::Owned(rewrite_decl(s))
                } else {
                    Cow::Borrowed(s)
                };
            }
            None => detect(bytes),
        },
    };
    let (text, _, _) = enc.decode(bytes);
    Cow::Owned(rewrite_decl(&text))
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    det.guess(None, chardetng::Utf8Detection::Allow)
}

/// The `encoding="..."` of an XML declaration at the start of the document.
fn xml_declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &trim_start(bytes)[..trim_start(bytes).len().min(200)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let p = decl.find("encoding")?;
    let rest = decl[p + 8..].trim_start().strip_prefix('=')?.trim_start();
    let q = rest.chars().next()?;
    if q != '"' && q != '\'' {
        return None;
    }
    let rest = &rest[1..];
    let e = rest.find(q)?;
    Some(rest[..e].trim().to_string())
}

/// Rewrites the XML declaration's encoding to UTF-8 (the text is UTF-8 now).
fn rewrite_decl(text: &str) -> String {
    let t = text.trim_start_matches('\u{feff}');
    let lead = t.len() - t.trim_start().len();
    let body = &t[lead..];
    if body.starts_with("<?xml")
        && let Some(end) = body.find("?>")
        && let Some(p) = body[..end].find("encoding")
    {
        let after = &body[p..end];
        if let Some(q1) = after.find(['"', '\''])
            && let Some(q2) = after[q1 + 1..].find(after.as_bytes()[q1] as char)
        {
            let start = p + q1 + 1;
            let stop = start + q2;
            return format!("{}UTF-8{}", &body[..start], &body[stop..]);
        }
    }
    body.to_string()
}

/// Dates as feeds write them: RFC 2822 and RFC 3339 first, then common broken forms.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    // Common zone names RFC 2822 parsing does not cover, and "UT"/"Z" variants.
    let fixed = s
        .replace(" UT", " +0000")
        .replace(" Z", " +0000")
        .replace("GMT+0000", "+0000");
    if let Ok(d) = DateTime::parse_from_rfc2822(&fixed) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%a, %d %b %Y %H:%M:%S %z",
        "%a, %d %b %Y %H:%M %z",
        "%d %b %Y %H:%M:%S %z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%a, %b %d %Y %I:%M:%S %p %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&fixed, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%a, %d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M:%S",
        "%a, %b %d %Y %I:%M:%S %p",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    for fmt in ["%Y-%m-%d", "%d %b %Y", "%a, %d %b %Y"] {
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

fn text_of(t: &Option<feed_rs::model::Text>) -> Option<String> {
    t.as_ref()
        .map(|t| t.content.clone())
        .filter(|s| !s.trim().is_empty())
}

fn convert(feed: feed_rs::model::Feed, url: Option<&str>) -> ParsedFeed {
    let base = url.and_then(|u| url::Url::parse(u).ok());
    // With a base, a link that does not resolve to a URL (a host of invalid characters) is dropped
    // rather than kept as written: every link in the result is absolute.
    let resolve = |href: &str| -> Option<String> {
        match &base {
            Some(b) => b.join(href.trim()).ok().map(|u| u.to_string()),
            None => Some(href.trim().to_string()),
        }
    };
    let pick_link = |links: &[feed_rs::model::Link]| -> Option<String> {
        links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .or_else(|| links.first())
            .and_then(|l| resolve(&l.href))
            .filter(|s| !s.is_empty())
    };
    let language = feed
        .language
        .as_ref()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty());
    let entries = feed
        .entries
        .into_iter()
        .map(|e| {
            let content = e
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .filter(|b| !b.trim().is_empty());
            Entry {
                guid: Some(e.id.trim().to_string()).filter(|s| !s.is_empty()),
                link: pick_link(&e.links),
                title: text_of(&e.title).unwrap_or_default(),
                content,
                summary: text_of(&e.summary),
                published_at: e.published.or(e.updated),
                updated_at: e.updated,
                language: e
                    .language
                    .map(|l| l.trim().to_ascii_lowercase())
                    .filter(|l| !l.is_empty()),
                authors: e
                    .authors
                    .into_iter()
                    .filter_map(|p| p.name)
                    .filter(|n| !n.is_empty())
                    .collect(),
            }
        })
        .collect();
    let with_rel = |rel: &'static str| {
        feed.links
            .iter()
            .filter(move |l| l.rel.as_deref() == Some(rel))
            .filter_map(|l| resolve(&l.href))
            .filter(|s| !s.is_empty())
    };
    ParsedFeed {
        title: text_of(&feed.title),
        site_url: pick_link(&feed.links),
        language,
        ttl_secs: feed.ttl.map(|m| u64::from(m) * 60),
        hubs: with_rel("hub").collect(),
        self_url: with_rel("self").next(),
        entries,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn caught_parser_panic_is_an_error_and_resets() {
        let r: std::thread::Result<()> = quiet_catch_unwind(|| panic!("bad input"));
        assert!(r.is_err());
        assert!(!CATCHING.with(|c| c.get()));
        assert_eq!(quiet_catch_unwind(|| 7).ok(), Some(7));
    }

    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>T</title><link>https://ex.org/</link><language>de</language><ttl>60</ttl>
<item><title>One</title><link>/a/1</link><guid>g1</guid><description>&lt;p&gt;Hi&lt;/p&gt;</description><pubDate>Mon, 02 Jan 2006 15:04:05 +0200</pubDate></item>
<item><title>Two</title><link>https://ex.org/a/2</link></item>
</channel></rss>"#;

    #[test]
    fn rss_basics() {
        let f = parse_feed(RSS.as_bytes(), Some("https://ex.org/feed.xml"), None).unwrap();
        assert_eq!(f.language.as_deref(), Some("de"));
        assert_eq!(f.ttl_secs, Some(3600));
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.entries[0].link.as_deref(), Some("https://ex.org/a/1"));
        assert_eq!(f.entries[0].guid.as_deref(), Some("g1"));
        assert!(f.entries[0].published_at.is_some());
        assert_eq!(f.entries[1].guid, None);
    }

    #[test]
    fn websub_hub_and_self_links() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title><link>https://ex.org/</link>
<atom:link rel="hub" href="https://hub.example/"/><atom:link rel="self" href="/feed.xml"/>
<item><title>One</title><link>https://ex.org/1</link></item></channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), Some("https://ex.org/x"), None).unwrap();
        assert_eq!(f.hubs, ["https://hub.example/"]);
        assert_eq!(f.self_url.as_deref(), Some("https://ex.org/feed.xml"));
        assert_eq!(f.site_url.as_deref(), Some("https://ex.org/"));
        let plain = parse_feed(RSS.as_bytes(), None, None).unwrap();
        assert!(plain.hubs.is_empty() && plain.self_url.is_none());
    }

    #[test]
    fn cp1251_mislabelled_as_utf8() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Новости</title><item><title>Россия провела пуск ракеты</title><link>https://ex.ru/1</link></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(xml);
        let f = parse_feed(&bytes, None, None).unwrap();
        assert_eq!(f.entries[0].title, "Россия провела пуск ракеты");
    }

    #[test]
    fn koi8_declared() {
        let xml = "<?xml version=\"1.0\" encoding=\"KOI8-R\"?><rss version=\"2.0\"><channel><title>x</title><item><title>Пуск ракеты</title></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::KOI8_R.encode(xml);
        let f = parse_feed(&bytes, None, None).unwrap();
        assert_eq!(f.entries[0].title, "Пуск ракеты");
    }

    #[test]
    fn errors_are_clear() {
        assert_eq!(
            parse_feed(b"  \n", None, None).unwrap_err(),
            ParseError::Empty
        );
        assert_eq!(
            parse_feed(b"<!DOCTYPE html><html><body>hi</body></html>", None, None).unwrap_err(),
            ParseError::Html
        );
        assert!(matches!(
            parse_feed(
                b"<rss version=\"2.0\"><channel><item><title>x</tit",
                None,
                None
            ),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn repairs_bare_ampersand_and_missing_version() {
        let f = parse_feed(b"<rss><channel><title>A & B</title><item><title>Q & A &amp; more</title></item></channel></rss>", None, None).unwrap();
        assert_eq!(f.entries[0].title, "Q & A & more");
    }

    #[test]
    fn dates() {
        assert!(parse_date("2024-05-01 10:00:00").is_some());
        assert!(parse_date("Fri, 24 Feb 2023 08:18:00 GMT").is_some());
        assert!(parse_date("2024-05-01").is_some());
        assert!(parse_date("yesterday").is_none());
    }
}
