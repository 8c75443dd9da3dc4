//! Boilerplate lines: footers, share prompts and "read more" links that feeds and aggregators wrap
//! around the article text, in several languages, plus patterns from config.toml.
//!
//! Invariants: only whole *short* lines are compared (at most `MAX_WORDS` words), after
//! normalisation (lowercase, whitespace folded, surrounding punctuation and arrows trimmed), so a
//! real paragraph that merely contains "read more" is never touched. `*` in a pattern matches any
//! run of characters. A *section starter* ("Leave a Reply", "Share this:", "Related") also drops
//! the short lines after it when nothing but short lines follows (the tail of a page).

use rustc_hash::FxHashSet;

/// Lines longer than this are article text, never boilerplate.
const MAX_WORDS: usize = 40;
/// After a section starter, lines up to this many words are treated as the section's furniture.
const TAIL_LINE_WORDS: usize = 15;

/// Built-in patterns, in normalised form (lowercase; see `normalize`).
const BUILTIN: &[&str] = &[
    // WordPress and aggregator footers
    "leave a reply",
    "leave a comment",
    "leave a reply cancel reply",
    "cancel reply",
    "source site",
    "source link",
    "original source",
    "the post * appeared first on *",
    "the post * first appeared on *",
    "this post * appeared first on *",
    "this article * appeared first on *",
    "the article * appeared first on *",
    "continue reading",
    "continue reading *",
    "read more",
    "read more here",
    "read more at *",
    "read more on *",
    "read more: *",
    "read the full story *",
    "read the full article *",
    "read full article",
    "read full story",
    "click here to read more",
    "share this",
    "share this article",
    "share this story",
    "share on *",
    "share",
    "like this",
    "like loading",
    "loading",
    "click to share on *",
    "click to email *",
    "click to print *",
    "tweet",
    "facebook",
    "twitter",
    "linkedin",
    "whatsapp",
    "telegram",
    "reddit",
    "pinterest",
    "email",
    "print",
    "related",
    "related posts",
    "related articles",
    "related stories",
    "comments",
    "no comments",
    "your email address will not be published*",
    "required fields are marked*",
    "you must be logged in to post a comment*",
    "this entry was posted in *",
    "filed under: *",
    "posted in *",
    "tags: *",
    "advertisement",
    "sponsored content",
    "subscribe to our newsletter*",
    "sign up for our newsletter*",
    "follow us on *",
    "© *",
    "copyright © *",
    "* all rights reserved",
    "all rights reserved",
    "view original article",
    "view original post",
    "via *",
    // German
    "weiterlesen",
    "weiterlesen *",
    "mehr lesen",
    "lesen sie mehr",
    "lesen sie auch",
    "lesen sie auch: *",
    "mehr erfahren",
    "mehr dazu",
    "mehr zum thema",
    "zum artikel",
    "zum vollständigen artikel",
    "artikel teilen",
    "teilen",
    "kommentare",
    "anzeige",
    "der beitrag * erschien zuerst auf *",
    // French
    "lire la suite",
    "lire la suite *",
    "lire plus",
    "lire aussi",
    "lire aussi: *",
    "à lire aussi",
    "en savoir plus",
    "partager",
    "partager cet article",
    "commentaires",
    "publicité",
    "l’article * est apparu en premier sur *",
    "l'article * est apparu en premier sur *",
    "cet article * est apparu en premier sur *",
    // Russian / Ukrainian
    "читать далее",
    "читать полностью",
    "читать дальше",
    "подробнее",
    "подробнее: *",
    "поделиться",
    "комментарии",
    "реклама",
    "источник",
    "читати далі",
    "детальніше",
    "поділитися",
    // Spanish / Italian / Portuguese / Polish / Dutch
    "leer más",
    "seguir leyendo",
    "continua a leggere",
    "leggi tutto",
    "leggi anche",
    "leia mais",
    "continue lendo",
    "czytaj dalej",
    "czytaj więcej",
    "lees meer",
    "lees verder",
];

/// Patterns that open a page-furniture section: the short lines after them go too.
const SECTION_STARTERS: &[&str] = &[
    "leave a reply",
    "leave a comment",
    "share this",
    "like this",
    "related",
    "related posts",
    "related articles",
    "comments",
    "source site",
    "kommentare",
    "commentaires",
    "комментарии",
    "поделиться",
    "partager",
    "teilen",
];

/// One compiled `*` pattern.
#[derive(Debug, Clone)]
struct Glob {
    parts: Vec<String>,
    anchored_start: bool,
    anchored_end: bool,
}

impl Glob {
    fn new(p: &str) -> Glob {
        Glob {
            parts: p
                .split('*')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            anchored_start: !p.starts_with('*'),
            anchored_end: !p.ends_with('*'),
        }
    }

    fn matches(&self, s: &str) -> bool {
        let mut rest = s;
        let n = self.parts.len();
        for (i, part) in self.parts.iter().enumerate() {
            if i == 0 && self.anchored_start {
                let Some(r) = rest.strip_prefix(part.as_str()) else {
                    return false;
                };
                rest = r;
                if n == 1 && self.anchored_end {
                    return rest.is_empty();
                }
            } else if i == n - 1 && self.anchored_end {
                return rest.ends_with(part.as_str());
            } else {
                let Some(p) = rest.find(part.as_str()) else {
                    return false;
                };
                rest = &rest[p + part.len()..];
            }
        }
        true
    }
}

/// The compiled boilerplate list.
#[derive(Debug, Clone, Default)]
pub struct Boilerplate {
    exact: FxHashSet<String>,
    globs: Vec<Glob>,
    starters: FxHashSet<String>,
}

impl Boilerplate {
    /// The built-in list plus `extra` patterns (from config.toml).
    pub fn new<'a>(extra: impl IntoIterator<Item = &'a str>) -> Boilerplate {
        let mut b = Boilerplate {
            starters: SECTION_STARTERS.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        for p in BUILTIN
            .iter()
            .copied()
            .map(str::to_string)
            .chain(extra.into_iter().map(|p| {
                // normalise user patterns the way lines are, but keep their stars
                p.split('*').map(normalize).collect::<Vec<_>>().join("*")
            }))
        {
            if p.is_empty() {
                continue;
            }
            if p.contains('*') {
                b.globs.push(Glob::new(&p));
            } else {
                b.exact.insert(p);
            }
        }
        b
    }

    /// Whether one line (already whitespace-folded) is boilerplate.
    pub fn is_boilerplate(&self, line: &str) -> bool {
        self.classify(line).is_some()
    }

    /// None: text. Some(true): a section starter. Some(false): other boilerplate.
    fn classify(&self, line: &str) -> Option<bool> {
        if line.split_whitespace().nth(MAX_WORDS).is_some() {
            return None;
        }
        let n = normalize(line);
        if n.is_empty() {
            // a line of nothing but punctuation, arrows, ellipses: "[…]", "—", "|"
            return Some(false);
        }
        if self.exact.contains(&n) {
            return Some(self.starters.contains(&n));
        }
        if self.globs.iter().any(|g| g.matches(&n)) {
            return Some(false);
        }
        None
    }

    /// Drops boilerplate lines from the blocks, and the furniture tail after a section starter.
    /// Also trims a trailing "[…]" from the last line of a block.
    pub fn filter(&self, blocks: Vec<String>) -> Vec<String> {
        // (block index, line) of kept lines, and where a section starter was seen.
        let mut kept: Vec<(usize, &str)> = Vec::new();
        let mut cut_at: Option<usize> = None;
        for (bi, block) in blocks.iter().enumerate() {
            for line in block.split('\n') {
                let line = trim_ellipsis_marker(line);
                if line.is_empty() {
                    continue;
                }
                match self.classify(line) {
                    Some(starter) => {
                        if starter && cut_at.is_none() {
                            cut_at = Some(kept.len());
                        }
                    }
                    None => kept.push((bi, line)),
                }
            }
        }
        if let Some(c) = cut_at
            && kept[c..]
                .iter()
                .all(|(_, l)| l.split_whitespace().nth(TAIL_LINE_WORDS).is_none())
        {
            kept.truncate(c);
        }
        let mut out: Vec<String> = Vec::new();
        let mut last_block = usize::MAX;
        for (bi, line) in kept {
            if bi == last_block {
                if let Some(last) = out.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
            } else {
                out.push(line.to_string());
                last_block = bi;
            }
        }
        out
    }
}

/// Removes a trailing excerpt marker ("[…]", "[...]", "[&hellip;]" once decoded) from a line.
fn trim_ellipsis_marker(line: &str) -> &str {
    let t = line.trim_end();
    for m in ["[…]", "[...]", "[ … ]", "(…)", "[..]"] {
        if let Some(r) = t.strip_suffix(m) {
            return r.trim_end();
        }
    }
    t
}

/// Lowercase, whitespace folded, and punctuation, arrows and ellipses trimmed from both ends.
pub fn normalize(line: &str) -> String {
    let trim = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '.' | ','
                    | ':'
                    | ';'
                    | '!'
                    | '?'
                    | '»'
                    | '«'
                    | '›'
                    | '‹'
                    | '→'
                    | '←'
                    | '⟶'
                    | '…'
                    | '|'
                    | '-'
                    | '–'
                    | '—'
                    | '>'
                    | '<'
                    | '('
                    | ')'
                    | '['
                    | ']'
                    | '"'
                    | '“'
                    | '”'
                    | '„'
                    | '\''
                    | '’'
                    | '*'
                    | '•'
                    | '·'
                    | '#'
                    | '+'
                    | '='
                    | '~'
                    | '_'
                    | '/'
            )
    };
    let t = line.trim_matches(trim);
    let mut out = String::with_capacity(t.len());
    for w in t.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in w.chars() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Boilerplate {
        Boilerplate::new(["Mehr von *", "advertorial"])
    }

    #[test]
    fn drops_short_boilerplate_lines_only() {
        let bp = b();
        for l in [
            "Leave a Reply",
            "source site",
            "Read more »",
            "Continue reading →",
            "Share this:",
            "[…]",
            "Weiterlesen",
            "Lire la suite",
            "Читать далее",
            "Подробнее",
            "Mehr lesen",
            "The post Putin meets Kim appeared first on Example News.",
            "Mehr von Example",
            "ADVERTORIAL",
        ] {
            assert!(bp.is_boilerplate(l), "{l}");
        }
        for l in [
            "Analysts say readers should read more widely before they share this kind of claim with anyone.",
            "Putin said Russia would help.",
            "Read more than a hundred pages of the report and you will find the ammunition numbers.",
        ] {
            assert!(!bp.is_boilerplate(l), "{l}");
        }
    }

    #[test]
    fn tail_after_section_starter_goes() {
        let blocks = vec![
            "Real paragraph one with enough words to be text.".to_string(),
            "Real paragraph two … […]".to_string(),
            "Share this:".to_string(),
            "Click to share on X (Opens in new window)\nMastodon".to_string(),
            "Like this:".to_string(),
        ];
        assert_eq!(
            b().filter(blocks),
            vec![
                "Real paragraph one with enough words to be text.",
                "Real paragraph two …"
            ]
        );
    }

    #[test]
    fn starter_followed_by_text_keeps_the_text() {
        let long = "This is a long real paragraph that follows a heading named Related and it has more than fifteen words in it.";
        let blocks = vec![
            "Intro.".to_string(),
            "Related".to_string(),
            long.to_string(),
        ];
        assert_eq!(
            b().filter(blocks),
            vec!["Intro.".to_string(), long.to_string()]
        );
    }
}
