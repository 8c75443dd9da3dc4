//! OPML import and export of feed lists. Pure.

use quick_xml::Reader;
use quick_xml::events::Event;

/// One feed from an OPML outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub url: String,
    pub title: Option<String>,
}

/// Every `<outline xmlUrl=...>` at any depth.
pub fn parse(text: &str) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = Reader::from_str(text);
    let mut out = Vec::new();
    let mut saw_opml = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.name();
                let name = name.as_ref();
                if name.eq_ignore_ascii_case("opml") {
                    saw_opml = true;
                }
                if name.eq_ignore_ascii_case("outline") {
                    let mut url = None;
                    let mut title = None;
                    let mut text_attr = None;
                    for a in e.attributes().flatten() {
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.trim().to_string())
                            .unwrap_or_default();
                        match a.key.as_ref() {
                            k if k.eq_ignore_ascii_case("xmlUrl") => url = Some(v),
                            "title" => title = Some(v),
                            "text" => text_attr = Some(v),
                            _ => {}
                        }
                    }
                    if let Some(url) = url.filter(|u| !u.is_empty()) {
                        out.push(OpmlFeed {
                            url,
                            title: title.or(text_attr).filter(|t| !t.is_empty()),
                        });
                    }
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => {
                return Err(format!(
                    "malformed OPML at byte {}: {e}",
                    reader.buffer_position()
                ));
            }
            _ => {}
        }
    }
    if !saw_opml {
        return Err("not an OPML document (no <opml> element)".into());
    }
    Ok(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An OPML 2.0 document listing the feeds.
pub fn render(feeds: &[OpmlFeed]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>newswatch feeds</title></head>\n  <body>\n",
    );
    for f in feeds {
        let t = esc(f.title.as_deref().unwrap_or(&f.url));
        s.push_str(&format!(
            "    <outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{}\"/>\n",
            esc(&f.url)
        ));
    }
    s.push_str("  </body>\n</opml>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let feeds = vec![
            OpmlFeed {
                url: "https://a.example/feed?x=1&y=2".into(),
                title: Some("A & \"B\"".into()),
            },
            OpmlFeed {
                url: "https://b.example/rss".into(),
                title: None,
            },
        ];
        let back = parse(&render(&feeds)).unwrap();
        assert_eq!(back[0], feeds[0]);
        assert_eq!(back[1].url, feeds[1].url);
    }

    #[test]
    fn nested_and_errors() {
        let x = r#"<opml version="1.0"><body><outline text="News"><outline text="X" xmlUrl="http://x/rss"/></outline></body></opml>"#;
        assert_eq!(
            parse(x).unwrap(),
            vec![OpmlFeed {
                url: "http://x/rss".into(),
                title: Some("X".into())
            }]
        );
        assert!(parse("<html></html>").is_err());
        assert!(parse("<opml><body><outline xmlUrl=\"x\"></bad></opml>").is_err());
    }
}
