//! Canonical links for dedup: the same article reached through different tracking links gets the
//! same canonical link.
//!
//! Invariants: only absolute http(s) links are canonicalised (others are returned trimmed, as
//! given); the result has scheme and host lowercased (WHATWG parsing), no default port, no
//! fragment, no tracking parameters, and the remaining query pairs sorted (stable for equal keys).
//! Canonicalising a canonical link returns it unchanged.

use url::Url;

/// Exact parameter names dropped (compared lowercase).
const TRACKING: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "ysclid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "__hssc",
    "__hstc",
    "__hsfp",
    "hsctatracking",
    "igshid",
    "igsh",
    "ref_src",
    "ref_url",
    "cmpid",
    "ocid",
    "icid",
    "ncid",
    "s_cid",
    "sr_share",
    "_ga",
    "_gl",
    "oly_enc_id",
    "oly_anon_id",
    "vero_id",
    "vero_conv",
    "wt.mc_id",
    "wt.zmc",
    "xtor",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "smid",
    "smtyp",
    "spm",
    "scm",
    "rss",
    "feed_id",
    "cid_source",
    "mbid",
    "trk",
    "trkcampaign",
    "sc_campaign",
    "sc_channel",
    "ito",
    "guccounter",
    "guce_referrer",
    "guce_referrer_sig",
    "mkt_tok",
    "ea_cid",
    "rb_clickid",
];

/// Parameter name prefixes dropped.
const TRACKING_PREFIXES: &[&str] = &[
    "utm_", "mtm_", "pk_", "matomo_", "hsa_", "ga_", "itm_", "at_", "_branch",
];

fn is_tracking(name: &str, extra: &[String]) -> bool {
    let n = name.to_ascii_lowercase();
    TRACKING.contains(&n.as_str())
        || TRACKING_PREFIXES.iter().any(|p| n.starts_with(p))
        || extra.iter().any(|e| {
            let e = e.to_ascii_lowercase();
            match e.strip_suffix('*') {
                Some(prefix) => n.starts_with(prefix),
                None => n == e,
            }
        })
}

/// The canonical form of `link`; `extra` are more parameter names to strip (`name` or `prefix*`).
pub fn canonical_link(link: &str, extra: &[String]) -> String {
    let link = link.trim();
    let Ok(mut u) = Url::parse(link) else {
        return link.to_string();
    };
    if !matches!(u.scheme(), "http" | "https") {
        return link.to_string();
    }
    u.set_fragment(None);
    if u.query().is_some() {
        let mut pairs: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking(k, extra))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.is_empty() {
            u.set_query(None);
        } else {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    u.to_string()
}

/// The host and the rest (path and query) of a link as `canonical_link` writes http(s) links,
/// without parsing it again; `None` for anything else (the caller parses). The host is accepted
/// only in the form the WHATWG serialiser writes (lowercase ASCII letters, digits, `.`, `-`, or a
/// bracketed IPv6 address), so the answer is the one `Url::parse` would give.
pub fn split_canonical(link: &str) -> Option<(&str, &str)> {
    let after = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"))?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') || rest.contains('#') {
        return None;
    }
    let host = match authority.rfind(':') {
        Some(i) if !authority.ends_with(']') => {
            let port = &authority[i + 1..];
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            &authority[..i]
        }
        _ => authority,
    };
    let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        // A last label starting with a digit may be an IPv4 address in another notation
        // (`127.1`, `0x7f.1`), which the parser rewrites: leave those to it.
        let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
        !host.is_empty()
            && host.bytes().all(plain)
            && !last.starts_with(|c: char| c.is_ascii_digit())
    };
    ok.then_some((host, rest))
}

/// The host of a link (`Url::host_str`), for `site:` in topics.
pub fn host(link: &str) -> Option<String> {
    match split_canonical(link) {
        Some((h, _)) => Some(h.to_string()),
        None => Url::parse(link)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_canonical_agrees_with_the_parser() {
        for l in [
            "https://www.example.com/news/a?a=1&b=2",
            "http://ex.org",
            "http://ex.org:8080/x",
            "http://[::1]:80/x",
            "http://[::1]/x?q",
            "https://xn--mnchen-3ya.de/",
            "http://user:pw@ex.org/a",
            "http://EX.org/a",
            "http://ex.org/a#frag",
            "ftp://ex.org/a",
            "http://ex.org:/a",
            "http://127.1/a",
            "http://0x7f.1/a",
            "http://10.0.0.1:8080/a",
            "http://ex.org\\evil.com/a",
            "not a link",
        ] {
            let parsed = Url::parse(l).ok();
            if let Some((h, rest)) = split_canonical(l) {
                let u = parsed.as_ref().expect(l);
                assert_eq!(Some(h), u.host_str(), "{l}");
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                assert_eq!(path.trim_matches('/'), u.path().trim_matches('/'), "{l}");
                assert_eq!(query, u.query().unwrap_or(""), "{l}");
            }
            assert_eq!(
                host(l),
                parsed.and_then(|u| u.host_str().map(str::to_string)),
                "{l}"
            );
        }
        assert!(split_canonical("http://EX.org/a").is_none());
        assert!(split_canonical("http://user@ex.org/a").is_none());
    }

    #[test]
    fn strips_tracking_and_sorts() {
        let c = canonical_link(
            "HTTPS://WWW.Example.COM:443/news/a?utm_source=rss&b=2&fbclid=x&a=1&mtm_campaign=y&ref_src=twsrc#comments",
            &[],
        );
        assert_eq!(c, "https://www.example.com/news/a?a=1&b=2");
        assert_eq!(canonical_link(&c, &[]), c);
        assert_eq!(
            canonical_link("http://ex.org:80/a?utm_medium=x", &[]),
            "http://ex.org/a"
        );
        assert_eq!(
            canonical_link("http://ex.org/a?src=feed&id=3", &["src".into()]),
            "http://ex.org/a?id=3"
        );
        assert_eq!(
            canonical_link("http://ex.org/a?partner_x=1&id=3", &["partner_*".into()]),
            "http://ex.org/a?id=3"
        );
        assert_eq!(canonical_link("urn:uuid:1234", &[]), "urn:uuid:1234");
        assert_eq!(
            canonical_link("http://ex.org:8080/a", &[]),
            "http://ex.org:8080/a"
        );
    }
}
