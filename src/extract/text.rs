//! Post-processing of the extracted text: whitespace normalized, paragraph breaks kept (one blank
//! line between blocks, one newline between the lines of a block), boilerplate lines dropped
//! (cookie banners, share prompts, "Read more:" teasers, gallery counters, copyright lines), and
//! date/byline lines at the start and end.

/// Normalizes whitespace, keeps paragraph breaks, drops boilerplate lines, and drops date and
/// byline lines among the first three and last two lines.
pub(super) fn postprocess(text: &str) -> String {
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
pub(super) fn is_dateline(line: &str) -> bool {
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

pub(super) fn collapse_ws(s: &str) -> String {
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

/// Lines that are furniture as a whole (compared lowercased, without a trailing `:`, `.`, `!`).
const FURNITURE_LINES: &[&str] = &[
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

/// Furniture wherever it stands in a short line (cookie banners, copyright, newsletters).
const FURNITURE_PARTS: &[&str] = &[
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

/// Furniture at the start of a short line ("Read more: …", captions, credits).
const FURNITURE_STARTS: &[&str] = &[
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

/// Short lines that are page furniture, not article text.
fn is_boilerplate(line: &str) -> bool {
    if line.chars().count() > 120 {
        return false;
    }
    let l = line.to_lowercase();
    if FURNITURE_LINES.contains(&l.trim_end_matches([':', '.', '!'])) {
        return true;
    }
    if FURNITURE_STARTS.iter().any(|p| l.starts_with(p)) {
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
    FURNITURE_PARTS.iter().any(|c| l.contains(c))
}
