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

#[cfg(test)]
mod tests {
    use super::*;

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
