//! The byte-scan pass before the one HTML parse: comments and the elements that are never article
//! text (`CUT`: scripts, styles, SVG, navigation, asides, footers, iframes, form controls...) and
//! `data-*`/`srcset`/`sizes` attributes are cut from the page, JSON-LD scripts kept and returned.
//! Invariant: never panics; the cases its hand-rolled scan simplifies only cost a little text.

/// Removes what is never article text before the HTML parser sees it: comments, `<script>`,
/// `<style>`, `<svg>`, `<nav>` and the other elements of `CUT` (most of a modern page's bytes).
/// JSON-LD scripts are kept in the page (readability reads its metadata) and their contents returned. Hand-rolled with memchr because a full HTML
/// tokenizer is what this pass exists to spare; the cases it simplifies (a `<script` inside an attribute
/// value, `</script>` inside an escaped `<!--` script) only cost a little text, never a panic.
pub(super) fn strip_raw_text(html: &str) -> (String, Vec<&str>) {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    let mut ld = Vec::new();
    let (mut i, mut copied) = (0, 0);
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        let p = i + p;
        let rest = &b[p + 1..];
        let end = if rest.starts_with(b"!--") {
            // `<!-->` and `<!--->` are complete (empty) comments.
            let body = p + 4;
            if b[body..].starts_with(b">") {
                body + 1
            } else if b[body..].starts_with(b"->") {
                body + 2
            } else {
                memchr::memmem::find(&b[body..], b"-->").map_or(b.len(), |e| body + e + 3)
            }
        } else if let Some(&(name, kind)) = CUT.iter().find(|(n, _)| tag_named(rest, n)) {
            let Some(gt) = memchr::memchr(b'>', &b[p..]).map(|g| p + g) else {
                break;
            };
            if kind == Cut::Void || name == "svg" && b[gt - 1] == b'/' {
                gt + 1
            } else if kind == Cut::Nested {
                // Unclosed: only the start tag goes, the parser decides about the rest.
                close_nested(b, gt + 1, name).unwrap_or(gt + 1)
            } else if kind == Cut::Flat {
                // Cannot nest: the first end tag closes it; unclosed, only the start tag goes.
                find_end_tag(b, gt + 1, name).map_or(gt + 1, |c| {
                    memchr::memchr(b'>', &b[c..]).map_or(b.len(), |g| c + g + 1)
                })
            } else {
                let close = find_end_tag(b, gt + 1, name);
                let end = close.map_or(b.len(), |c| {
                    memchr::memchr(b'>', &b[c..]).map_or(b.len(), |g| c + g + 1)
                });
                if name == "script" && {
                    let tag = html[p..gt].to_ascii_lowercase();
                    tag.contains("ld+json")
                } {
                    ld.push(&html[gt + 1..close.unwrap_or(b.len())]);
                    i = end;
                    continue;
                }
                end
            }
        } else if rest.first().is_some_and(u8::is_ascii_alphabetic) {
            // Another start tag: its attributes that never matter to the text go.
            let j;
            (j, copied) = cut_attrs(html, p + 1, copied, &mut out);
            i = j;
            continue;
        } else {
            i = p + 1;
            continue;
        };
        out.push_str(&html[copied..p]);
        copied = end;
        i = end;
        if i >= b.len() {
            break;
        }
    }
    out.push_str(&html[copied.min(html.len())..]);
    (out, ld)
}

/// Scans the start tag whose name begins at `from` and drops its `data-*`, `srcset` and `sizes`
/// attributes (lazy-loading and layout data: often a tenth of a page's markup, never text),
/// copying `html[copied..]` into `out` up to each. Returns where the tag ends (its `>` or the
/// end of the page) and the new `copied`.
fn cut_attrs(html: &str, from: usize, mut copied: usize, out: &mut String) -> (usize, usize) {
    let b = html.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let mut j = from;
    while j < b.len() && !ws(b[j]) && b[j] != b'/' && b[j] != b'>' {
        j += 1;
    }
    loop {
        while j < b.len() && (ws(b[j]) || b[j] == b'/') {
            j += 1;
        }
        if j >= b.len() || b[j] == b'>' {
            return (j, copied);
        }
        let start = j;
        j += 1;
        while j < b.len() && !ws(b[j]) && !matches!(b[j], b'/' | b'>' | b'=') {
            j += 1;
        }
        let name = &b[start..j];
        let mut k = j;
        while k < b.len() && ws(b[k]) {
            k += 1;
        }
        if k < b.len() && b[k] == b'=' {
            k += 1;
            while k < b.len() && ws(b[k]) {
                k += 1;
            }
            if k < b.len() && (b[k] == b'"' || b[k] == b'\'') {
                k = memchr::memchr(b[k], &b[k + 1..]).map_or(b.len(), |e| k + e + 2);
            } else {
                while k < b.len() && !ws(b[k]) && b[k] != b'>' {
                    k += 1;
                }
            }
            j = k;
        }
        if name.len() > 5 && name[..5].eq_ignore_ascii_case(b"data-")
            || name.eq_ignore_ascii_case(b"srcset")
            || name.eq_ignore_ascii_case(b"sizes")
        {
            out.push_str(&html[copied..start]);
            copied = j;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Raw text up to its end tag (an unclosed one runs to the end of the page, as in a browser).
    Raw,
    /// Up to the matching end tag, nested ones counted.
    Nested,
    /// Up to the first end tag (the element cannot contain itself).
    Flat,
    /// Just the tag.
    Void,
}

/// Elements the pre-pass cuts. Besides what is never text, these are the ones readability removes
/// from the article it picks anyway (`footer`, `aside`, `iframe`, form controls, `link`): cut
/// here, the parser and the scoring never see them.
const CUT: &[(&str, Cut)] = &[
    ("script", Cut::Raw),
    ("style", Cut::Raw),
    ("noscript", Cut::Raw),
    ("iframe", Cut::Raw),
    ("textarea", Cut::Raw),
    ("svg", Cut::Nested),
    ("nav", Cut::Nested),
    ("aside", Cut::Nested),
    ("footer", Cut::Nested),
    ("template", Cut::Nested),
    ("select", Cut::Flat),
    ("button", Cut::Flat),
    ("link", Cut::Void),
    ("input", Cut::Void),
];

/// `rest` (after a `<`) starts with the tag name `name` (ASCII, case-insensitive) and the name ends.
fn tag_named(rest: &[u8], name: &str) -> bool {
    rest.len() > name.len()
        && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && matches!(
            rest[name.len()],
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>'
        )
}

/// The offset of the `</name` end tag at or after `from`, if any.
fn find_end_tag(b: &[u8], mut from: usize, name: &str) -> Option<usize> {
    while let Some(p) = memchr::memchr(b'<', &b[from..]) {
        let p = from + p;
        if b.get(p + 1) == Some(&b'/') && tag_named(&b[p + 2..], name) {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

/// The end of a `name` element (`svg`, `nav`) whose start tag ends before `from`, nested ones
/// counted; `None` when it is never closed.
fn close_nested(b: &[u8], mut from: usize, name: &str) -> Option<usize> {
    let mut depth = 1;
    while let Some(p) = memchr::memchr(b'<', &b[from..]) {
        let p = from + p;
        let rest = &b[p + 1..];
        if tag_named(rest, name) {
            let gt = memchr::memchr(b'>', &b[p..]).map_or(b.len(), |g| p + g);
            if name != "svg" || b[gt - 1] != b'/' {
                depth += 1;
            }
        } else if rest.first() == Some(&b'/') && tag_named(&rest[1..], name) {
            depth -= 1;
            if depth == 0 {
                return Some(memchr::memchr(b'>', &b[p..]).map_or(b.len(), |g| p + g + 1));
            }
        }
        from = p + 1;
    }
    None
}
