//! Pure: which hub and topic a feed advertises, from its HTTP `Link` headers or from its
//! `<atom:link rel="hub">` / `rel="self"` (`model::ParsedFeed::hubs`, `self_url`).

use reqwest::header::{HeaderMap, LINK};

use crate::model::ParsedFeed;

/// A hub to subscribe at, for a topic (the feed's self URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub hub: String,
    pub topic: String,
}

/// The `Link` headers of a response as (rel, absolute URL) pairs, one per rel value
/// (`<https://hub>; rel="hub"`, `<...>; rel="self alternate"`, several links per header).
pub fn link_headers(h: &HeaderMap, base: &url::Url) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in h.get_all(LINK).iter().filter_map(|v| v.to_str().ok()) {
        for (target, rels) in parse_link_value(v) {
            let Ok(u) = base.join(target) else { continue };
            for rel in rels.split_ascii_whitespace() {
                out.push((rel.to_ascii_lowercase(), u.to_string()));
            }
        }
    }
    out
}

/// (target, rel parameter) of each link in one `Link` header value (RFC 8288).
fn parse_link_value(v: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            break;
        };
        let target = rest[open + 1..close].trim();
        // The parameters run to the next comma outside quotes.
        let params = &rest[close + 1..];
        let mut end = params.len();
        let mut quoted = false;
        for (i, c) in params.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let rel = params[..end].split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("rel")
                .then(|| v.trim().trim_matches('"'))
        });
        if let Some(rel) = rel {
            out.push((target, rel));
        }
        rest = &params[end..];
    }
    out
}

/// The hub and topic of a fetched feed: the `Link` headers when they name a hub, else the feed's
/// own links; the topic is the self URL, else the URL the feed was fetched from. `None`: no hub.
pub fn advert(links: &[(String, String)], feed: &ParsedFeed, fetched_from: &str) -> Option<Advert> {
    let of = |rel: &str| links.iter().find(|(r, _)| r == rel).map(|(_, u)| u.clone());
    let (hub, topic) = match of("hub") {
        Some(hub) => (hub, of("self").or_else(|| feed.self_url.clone())),
        None => (feed.hubs.first()?.clone(), feed.self_url.clone()),
    };
    Some(Advert {
        hub,
        topic: topic.unwrap_or_else(|| fetched_from.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn link_header_forms() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(
                "<https://hub.example/a,b>; rel=\"hub\", </feed.xml>; type=\"x;y,z\"; rel=\"self alternate\"",
            ),
        );
        h.append(LINK, HeaderValue::from_static("<https://other/>; rel=HUB"));
        let base = url::Url::parse("https://ex.org/dir/feed").unwrap();
        assert_eq!(
            link_headers(&h, &base),
            [
                ("hub".to_string(), "https://hub.example/a,b".to_string()),
                ("self".into(), "https://ex.org/feed.xml".into()),
                ("alternate".into(), "https://ex.org/feed.xml".into()),
                ("hub".into(), "https://other/".into()),
            ]
        );
    }

    #[test]
    fn headers_win_then_feed_links_then_fetch_url() {
        let feed = ParsedFeed {
            hubs: vec!["https://doc-hub/".into()],
            self_url: Some("https://ex.org/self".into()),
            ..Default::default()
        };
        let headers = vec![
            ("hub".to_string(), "https://h-hub/".to_string()),
            ("self".to_string(), "https://ex.org/h-self".to_string()),
        ];
        let a = advert(&headers, &feed, "https://ex.org/f").unwrap();
        assert_eq!(
            (a.hub.as_str(), a.topic.as_str()),
            ("https://h-hub/", "https://ex.org/h-self")
        );
        let a = advert(&[], &feed, "https://ex.org/f").unwrap();
        assert_eq!(
            (a.hub.as_str(), a.topic.as_str()),
            ("https://doc-hub/", "https://ex.org/self")
        );
        let bare = ParsedFeed {
            hubs: vec!["https://doc-hub/".into()],
            ..Default::default()
        };
        assert_eq!(
            advert(&[], &bare, "https://ex.org/f").unwrap().topic,
            "https://ex.org/f"
        );
        assert_eq!(
            advert(&[], &ParsedFeed::default(), "https://ex.org/f"),
            None
        );
    }
}
