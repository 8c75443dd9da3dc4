//! The topic query language (DESIGN section 5): lexer and parser to an expression tree.
//!
//! Grammar (operators are upper case; lower-case `and` is an ordinary word):
//! ```text
//! expr    := unary ( ("AND" | "OR") unary )*     all operators of one level must be the same
//! unary   := "NOT" unary | prox
//! prox    := primary ( ("NEAR/" n | "ONEAR/" n) primary )*
//! primary := "title:" primary | "text:" primary | "lang:" code | "site:" host
//!          | "@" group | '"' phrase '"' | term | "(" expr ")"
//! term    := word | word* | *word | *word*
//! ```
//! Mixing `AND` and `OR` on one level without parentheses is an error, as are two operands with no
//! operator between them. `NEAR/n` (either order) and `ONEAR/n` (left before right) allow at most
//! `n` tokens between the two sides. Errors carry a 1-based character position in the parsed text.
//!
//! A term is folded and tokenised like document text (`normalize`), so `test-fire*` becomes the
//! phrase `test fire*` and `Marschflugkörper*` the prefix `marschflugkorper`.

use super::normalize;

/// How a folded core must sit in a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anchor {
    /// The whole token.
    Exact,
    /// `word*`: the token starts with the core.
    Prefix,
    /// `*word`: the token ends with the core.
    Suffix,
    /// `*word*`: the core anywhere in the token.
    Infix,
}

/// One token of a term: a folded core and its anchor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokPat {
    pub core: String,
    pub anchor: Anchor,
}

/// A term (one token) or a phrase (consecutive tokens), with the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub parts: Vec<TokPat>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Text,
}

/// The parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ast {
    Term(Term),
    /// `@name`, with its position for "unknown group" errors.
    Group(String, usize),
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Near {
        left: Box<Ast>,
        right: Box<Ast>,
        n: u32,
        ordered: bool,
    },
    Field(Field, Box<Ast>),
    Lang(String),
    Site(String),
}

/// A parse error: 1-based character position and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

/// The largest `n` of `NEAR/n`.
pub const MAX_NEAR: u32 = 1000;

/// The deepest nesting of parentheses, `NOT`, field prefixes and `NEAR` chains: the parser, the matcher's compiler
/// and `Ast`'s drop all recurse once per level, so a query of a few kilobytes of `(` would
/// otherwise overflow the stack.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32, bool),
    Phrase(String),
    Group(String),
    FieldPrefix(String),
    Word(String),
}

struct Lexed {
    tok: Tok,
    /// Byte offset in the query.
    at: usize,
}

fn char_pos(s: &str, byte: usize) -> usize {
    s[..byte.min(s.len())].chars().count() + 1
}

fn err<T>(s: &str, byte: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        position: char_pos(s, byte),
        message: message.into(),
    })
}

fn is_word_end(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == '"'
}

fn lex(s: &str) -> Result<Vec<Lexed>, ParseError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        i = match c {
            '(' | ')' => {
                let tok = if c == '(' { Tok::LParen } else { Tok::RParen };
                out.push(Lexed { tok, at: i });
                i + 1
            }
            '"' | '“' | '”' | '„' => lex_phrase(s, i, c, &mut out)?,
            _ => lex_word(s, i, &mut out)?,
        };
    }
    Ok(out)
}

/// Lexes the phrase opened by the quote `open` at byte `at`; returns the byte after its end.
fn lex_phrase(s: &str, at: usize, open: char, out: &mut Vec<Lexed>) -> Result<usize, ParseError> {
    let start = at + open.len_utf8();
    let Some(rel) = s[start..].find(['"', '“', '”']) else {
        return err(s, at, "unclosed quote: a phrase needs a closing \"");
    };
    let end = start + rel;
    let close_len = s[end..].chars().next().map(char::len_utf8).unwrap_or(1);
    out.push(Lexed {
        tok: Tok::Phrase(s[start..end].to_string()),
        at,
    });
    Ok(end + close_len)
}

/// Lexes the word starting at byte `at` (an operator, a group, a field prefix or a term);
/// returns the byte after its end.
fn lex_word(s: &str, at: usize, out: &mut Vec<Lexed>) -> Result<usize, ParseError> {
    let end = s[at..].find(is_word_end).map(|r| at + r).unwrap_or(s.len());
    let w = &s[at..end];
    let tok = match w {
        "AND" => Tok::And,
        "OR" => Tok::Or,
        "NOT" => Tok::Not,
        "NEAR" | "ONEAR" => return err(s, at, format!("{w} needs a distance, like {w}/5")),
        _ if w.starts_with("NEAR/") || w.starts_with("ONEAR/") => near_tok(s, at, w)?,
        _ if w.starts_with('@') => group_tok(s, at, w)?,
        _ => match field_colon(w) {
            Some(colon) => {
                lex_field(s, at, w, colon, out)?;
                return Ok(end);
            }
            None => Tok::Word(w.to_string()),
        },
    };
    out.push(Lexed { tok, at });
    Ok(end)
}

/// `NEAR/n` or `ONEAR/n`, at byte `at`.
fn near_tok(s: &str, at: usize, w: &str) -> Result<Tok, ParseError> {
    let ordered = w.starts_with('O');
    let rest = w.split_once('/').map(|(_, n)| n).unwrap_or_default();
    let Ok(n) = rest.parse::<u32>() else {
        return err(
            s,
            at,
            format!("{w}: expected a number of tokens after the slash, like NEAR/5"),
        );
    };
    if n > MAX_NEAR {
        return err(
            s,
            at,
            format!("{w}: the distance must be at most {MAX_NEAR}"),
        );
    }
    Ok(Tok::Near(n, ordered))
}

/// `@name`, at byte `at`.
fn group_tok(s: &str, at: usize, w: &str) -> Result<Tok, ParseError> {
    let name = &w[1..];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return err(
            s,
            at,
            format!("bad group name {w:?}: use letters, digits, _ and -"),
        );
    }
    Ok(Tok::Group(name.to_string()))
}

/// The byte of the colon of a field prefix (`title:`, `lang:de`), if `w` has one.
fn field_colon(w: &str) -> Option<usize> {
    w.find(':')
        .filter(|&colon| colon > 0 && w[..colon].chars().all(|c| c.is_ascii_alphabetic()))
}

/// Lexes `field:value` at byte `at` into the field prefix and, if present, its value.
fn lex_field(
    s: &str,
    at: usize,
    w: &str,
    colon: usize,
    out: &mut Vec<Lexed>,
) -> Result<(), ParseError> {
    let field = &w[..colon];
    if !matches!(field, "title" | "text" | "lang" | "site") {
        return err(
            s,
            at,
            format!("unknown field {field:?}: the fields are title:, text:, lang: and site:"),
        );
    }
    // `title:` is followed by an operand; `lang:xx` and `site:host` carry their value.
    out.push(Lexed {
        tok: Tok::FieldPrefix(field.to_string()),
        at,
    });
    let value = &w[colon + 1..];
    let value_at = at + colon + 1;
    if value.starts_with('@') {
        // `title:@group`
        out.push(Lexed {
            tok: group_tok(s, value_at, value)?,
            at: value_at,
        });
    } else if !value.is_empty() {
        out.push(Lexed {
            tok: Tok::Word(value.to_string()),
            at: value_at,
        });
    }
    Ok(())
}

/// Parses a whole query.
pub fn parse(s: &str) -> Result<Ast, ParseError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return err(s, 0, "the query is empty");
    }
    let mut p = Parser {
        s,
        toks,
        i: 0,
        depth: 0,
    };
    let ast = p.expr()?;
    if let Some(t) = p.toks.get(p.i) {
        return match t.tok {
            Tok::RParen => err(s, t.at, "unmatched ')'"),
            _ => err(
                s,
                t.at,
                "missing operator: put AND, OR, NEAR/n or ONEAR/n between two terms (AND NOT to exclude)",
            ),
        };
    }
    Ok(ast)
}

struct Parser<'a> {
    s: &'a str,
    toks: Vec<Lexed>,
    i: usize,
    /// Nesting levels entered (parentheses, `NOT`, field prefixes); with the links of a `NEAR`
    /// chain, at most `MAX_DEPTH`.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|l| &l.tok)
    }

    fn at(&self) -> usize {
        self.toks.get(self.i).map(|l| l.at).unwrap_or(self.s.len())
    }

    fn expr(&mut self) -> Result<Ast, ParseError> {
        let first = self.unary()?;
        let mut op: Option<(Tok, usize)> = None;
        let mut items = vec![first];
        while let Some(t @ (Tok::And | Tok::Or)) = self.peek().cloned() {
            let at = self.at();
            match &op {
                None => op = Some((t.clone(), at)),
                Some((o, _)) if *o != t => {
                    return err(
                        self.s,
                        at,
                        "AND and OR mixed without parentheses: write (a AND b) OR c or a AND (b OR c)",
                    );
                }
                _ => {}
            }
            self.i += 1;
            items.push(self.unary()?);
        }
        Ok(match op {
            None => items.pop().expect("one item"),
            Some((Tok::And, _)) => Ast::And(items),
            Some(_) => Ast::Or(items),
        })
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        if self.peek() == Some(&Tok::Not) {
            self.i += 1;
            return Ok(Ast::Not(Box::new(self.nested(Self::unary)?)));
        }
        self.prox()
    }

    /// Runs one nested level of the grammar, refusing queries nested deeper than `MAX_DEPTH`.
    fn nested(&mut self, f: fn(&mut Self) -> Result<Ast, ParseError>) -> Result<Ast, ParseError> {
        if self.depth >= MAX_DEPTH {
            return err(
                self.s,
                self.at(),
                format!(
                    "the query nests too deeply (at most {MAX_DEPTH} levels of (…), NOT, fields and NEAR)"
                ),
            );
        }
        self.depth += 1;
        let res = f(self);
        self.depth -= 1;
        res
    }

    fn prox(&mut self) -> Result<Ast, ParseError> {
        let at = self.at();
        let mut left = self.primary()?;
        // A chain `a NEAR/1 b NEAR/1 c` nests to the left: each link is a level.
        let mut links = 0;
        while let Some(Tok::Near(n, ordered)) = self.peek().cloned() {
            let op_at = self.at();
            links += 1;
            if self.depth + links > MAX_DEPTH {
                return err(
                    self.s,
                    op_at,
                    format!(
                        "the query nests too deeply (at most {MAX_DEPTH} levels of (…), NOT, fields and NEAR)"
                    ),
                );
            }
            self.i += 1;
            let right_at = self.at();
            let right = self.primary()?;
            if !positional(&left) {
                return err(
                    self.s,
                    at,
                    "NEAR/ONEAR needs terms on both sides (not NOT, lang: or site:)",
                );
            }
            if !positional(&right) {
                return err(
                    self.s,
                    right_at,
                    "NEAR/ONEAR needs terms on both sides (not NOT, lang: or site:)",
                );
            }
            let _ = op_at;
            left = Ast::Near {
                left: Box::new(left),
                right: Box::new(right),
                n,
                ordered,
            };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        let at = self.at();
        let Some(tok) = self.peek().cloned() else {
            return err(self.s, at, "the query ends where a term was expected");
        };
        self.i += 1;
        match tok {
            Tok::LParen => self.parenthesised(at),
            Tok::RParen => err(self.s, at, "unexpected ')': a term was expected"),
            Tok::And | Tok::Or => err(self.s, at, "an operator where a term was expected"),
            Tok::Near(..) => err(self.s, at, "NEAR/ONEAR where a term was expected"),
            Tok::Not => {
                self.i -= 1;
                err(
                    self.s,
                    at,
                    "NOT must come first in an operand: write a AND NOT b",
                )
            }
            Tok::Group(name) => Ok(Ast::Group(name, char_pos(self.s, at))),
            Tok::Phrase(p) => self.term(at, parse_phrase(&p, &format!("\"{p}\""))),
            Tok::Word(w) => self.term(at, parse_word(&w)),
            Tok::FieldPrefix(f) => match f.as_str() {
                "title" => self.field(Field::Title, &f, at),
                "text" => self.field(Field::Text, &f, at),
                _ => self.field_value(&f, at),
            },
        }
    }

    /// A parsed term or phrase at byte `at`, its error placed there.
    fn term(&self, at: usize, t: Result<Term, String>) -> Result<Ast, ParseError> {
        t.map(Ast::Term).map_err(|m| ParseError {
            position: char_pos(self.s, at),
            message: m,
        })
    }

    /// `( expr )`, the `(` at byte `at` consumed.
    fn parenthesised(&mut self, at: usize) -> Result<Ast, ParseError> {
        if self.peek() == Some(&Tok::RParen) {
            return err(self.s, at, "empty parentheses");
        }
        let e = self.nested(Self::expr)?;
        if self.peek() != Some(&Tok::RParen) {
            let here = self.at();
            return if self.i >= self.toks.len() {
                err(self.s, at, "unclosed '(': a ')' is missing")
            } else {
                err(
                    self.s,
                    here,
                    "expected ')' or an operator: put AND, OR, NEAR/n or ONEAR/n between two terms",
                )
            };
        }
        self.i += 1;
        Ok(e)
    }

    /// `title:` or `text:` (named `f`, at byte `at`, consumed) and its operand.
    fn field(&mut self, field: Field, f: &str, at: usize) -> Result<Ast, ParseError> {
        if matches!(
            self.peek(),
            None | Some(Tok::RParen | Tok::And | Tok::Or | Tok::Near(..))
        ) {
            return err(
                self.s,
                at,
                format!("{f}: needs a term, phrase, group or (…) after the colon"),
            );
        }
        let inner = self.nested(Self::primary)?;
        if !positional(&inner) {
            return err(
                self.s,
                at,
                format!("{f}: applies to terms, not to NOT, lang: or site:"),
            );
        }
        Ok(Ast::Field(field, Box::new(inner)))
    }

    /// `lang:code` or `site:host` (the prefix `f`, at byte `at`, consumed): the value must
    /// follow the colon directly.
    fn field_value(&mut self, f: &str, at: usize) -> Result<Ast, ParseError> {
        let Some(Tok::Word(v)) = self.peek().cloned() else {
            return self.missing_value(f, at);
        };
        if self.toks[self.i].at != at + f.len() + 1 {
            return self.missing_value(f, at);
        }
        self.i += 1;
        let v = v.to_lowercase();
        if f != "lang" {
            return Ok(Ast::Site(
                v.trim_start_matches("www.")
                    .trim_end_matches('/')
                    .to_string(),
            ));
        }
        if !(2..=3).contains(&v.len()) || !v.chars().all(|c| c.is_ascii_lowercase()) {
            return err(
                self.s,
                at,
                format!("lang:{v}: expected a 2- or 3-letter language code like lang:de"),
            );
        }
        Ok(Ast::Lang(v))
    }

    fn missing_value(&self, f: &str, at: usize) -> Result<Ast, ParseError> {
        err(
            self.s,
            at,
            format!(
                "{f}: needs a value right after the colon, like {f}:{}",
                if f == "lang" { "de" } else { "example.com" }
            ),
        )
    }
}

/// Whether a node has token positions (can be an operand of NEAR or a field).
fn positional(a: &Ast) -> bool {
    match a {
        Ast::Term(_) | Ast::Group(..) => true,
        Ast::And(v) | Ast::Or(v) => v.iter().all(positional),
        Ast::Near { .. } | Ast::Field(..) => true,
        Ast::Not(_) | Ast::Lang(_) | Ast::Site(_) => false,
    }
}

/// Parses a single word term (`word`, `word*`, `*word`, `*word*`). A word that folds to several
/// tokens (`test-fire*`, `kn-23`) is a phrase; the outer wildcards apply to its first/last token.
pub fn parse_word(w: &str) -> Result<Term, String> {
    let parts = word_parts(w)?;
    Ok(Term {
        parts,
        text: w.to_string(),
    })
}

fn word_parts(w: &str) -> Result<Vec<TokPat>, String> {
    let lead = w.starts_with('*');
    let trail = w.len() > 1 && w.ends_with('*');
    let core = w.trim_start_matches('*').trim_end_matches('*');
    if core.is_empty() {
        return Err(format!(
            "{w:?}: a wildcard needs letters, like launch* or *raketen"
        ));
    }
    if core.contains('*') {
        return Err(format!(
            "{w:?}: '*' may stand only at the start or end of a word"
        ));
    }
    if core.contains('?') {
        return Err(format!(
            "{w:?}: '?' is not supported; use * at the start or end of a word"
        ));
    }
    let t = normalize::tokenize(core);
    if t.is_empty() {
        return Err(format!("{w:?}: a term needs letters or digits"));
    }
    let n = t.len();
    let mut parts = Vec::with_capacity(n);
    for i in 0..n {
        let first = i == 0;
        let last = i == n - 1;
        // A wildcard only applies where it touches the word: `*foo-bar` is suffix on foo.
        let lead_here = first && lead && t.orig[i].0 == 0;
        let trail_here = last && trail && t.orig[i].1 as usize == core.len();
        let anchor = match (lead_here, trail_here) {
            (false, false) => Anchor::Exact,
            (false, true) => Anchor::Prefix,
            (true, false) => Anchor::Suffix,
            (true, true) => Anchor::Infix,
        };
        parts.push(TokPat {
            core: t.token(i).to_string(),
            anchor,
        });
    }
    Ok(parts)
}

/// Parses the inside of a quoted phrase: whitespace-separated words, each possibly wildcarded.
pub fn parse_phrase(p: &str, text: &str) -> Result<Term, String> {
    let mut parts = Vec::new();
    for w in p.split_whitespace() {
        parts.extend(word_parts(w)?);
    }
    if parts.is_empty() {
        return Err("an empty phrase".into());
    }
    Ok(Term {
        parts,
        text: text.to_string(),
    })
}

/// Parses one entry of a `[topic.groups]` list: a word term, or a quoted (or multi-word) phrase.
pub fn parse_group_entry(e: &str) -> Result<Term, ParseError> {
    let t = e.trim();
    let offset = e.len() - e.trim_start().len();
    let wrap = |m: String| ParseError {
        position: char_pos(e, offset),
        message: m,
    };
    if t.is_empty() {
        return Err(wrap("an empty group entry".into()));
    }
    if let Some(inner) = t.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            return Err(wrap("unclosed quote: a phrase needs a closing \"".into()));
        };
        return parse_phrase(inner, t).map_err(wrap);
    }
    if t.contains(['(', ')', '"', '@'])
        || t.split_whitespace()
            .any(|w| matches!(w, "AND" | "OR" | "NOT"))
    {
        return Err(wrap(
            "a group entry is one term or a \"quoted phrase\", not an expression".into(),
        ));
    }
    if t.contains(char::is_whitespace) {
        return parse_phrase(t, t).map_err(wrap);
    }
    parse_word(t).map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(core: &str, anchor: Anchor) -> TokPat {
        TokPat {
            core: core.into(),
            anchor,
        }
    }

    /// Prints an AST back as a query (fully parenthesised) for round-trip tests.
    fn show(a: &Ast) -> String {
        match a {
            Ast::Term(t) => t.text.clone(),
            Ast::Group(g, _) => format!("@{g}"),
            Ast::And(v) => format!("({})", v.iter().map(show).collect::<Vec<_>>().join(" AND ")),
            Ast::Or(v) => format!("({})", v.iter().map(show).collect::<Vec<_>>().join(" OR ")),
            Ast::Not(x) => format!("NOT {}", show(x)),
            Ast::Near {
                left,
                right,
                n,
                ordered,
            } => {
                format!(
                    "({} {}NEAR/{n} {})",
                    show(left),
                    if *ordered { "O" } else { "" },
                    show(right)
                )
            }
            Ast::Field(Field::Title, x) => format!("title:{}", show(x)),
            Ast::Field(Field::Text, x) => format!("text:{}", show(x)),
            Ast::Lang(l) => format!("lang:{l}"),
            Ast::Site(s) => format!("site:{s}"),
        }
    }

    #[test]
    fn round_trips() {
        for (q, want) in [
            ("icbm", "icbm"),
            ("a AND b AND c", "(a AND b AND c)"),
            ("a OR (b AND NOT c)", "(a OR (b AND NOT c))"),
            ("@launch NEAR/6 @missile", "(@launch NEAR/6 @missile)"),
            (
                "\"arms deal*\" ONEAR/3 title:(tank* OR *panzer)",
                "(\"arms deal*\" ONEAR/3 title:(tank* OR *panzer))",
            ),
            (
                "lang:de AND site:www.dw.com/ AND *waffenliefer*",
                "(lang:de AND site:dw.com AND *waffenliefer*)",
            ),
            ("(a OR b) AND (c OR d)", "((a OR b) AND (c OR d))"),
            ("a NEAR/2 b NEAR/3 c", "((a NEAR/2 b) NEAR/3 c)"),
            (
                "title:@award AND text:@weapon",
                "(title:@award AND text:@weapon)",
            ),
        ] {
            let ast = parse(q).unwrap_or_else(|e| panic!("{q}: {e:?}"));
            let shown = show(&ast);
            assert_eq!(shown, want, "{q}");
            // The printed form parses to the same tree (up to group positions).
            assert_eq!(show(&parse(&shown).unwrap()), shown);
        }
    }

    #[test]
    fn term_kinds() {
        let t = |w| parse_word(w).unwrap().parts;
        assert_eq!(t("ICBM"), [tp("icbm", Anchor::Exact)]);
        assert_eq!(t("launch*"), [tp("launch", Anchor::Prefix)]);
        assert_eq!(t("*Raketen"), [tp("raketen", Anchor::Suffix)]);
        assert_eq!(t("*waffenliefer*"), [tp("waffenliefer", Anchor::Infix)]);
        assert_eq!(
            t("Marschflugkörper*"),
            [tp("marschflugkorper", Anchor::Prefix)]
        );
        assert_eq!(
            t("test-fire*"),
            [tp("test", Anchor::Exact), tp("fire", Anchor::Prefix)]
        );
        let p = parse_phrase("пуск* ракет*", "\"пуск* ракет*\"")
            .unwrap()
            .parts;
        assert_eq!(p, [tp("пуск", Anchor::Prefix), tp("ракет", Anchor::Prefix)]);
        let g = parse_group_entry("\"vente* d'armes\"").unwrap().parts;
        assert_eq!(
            g,
            [
                tp("vente", Anchor::Prefix),
                tp("d", Anchor::Exact),
                tp("armes", Anchor::Exact)
            ]
        );
    }

    fn perr(q: &str) -> (usize, String) {
        let e = parse(q).expect_err(q);
        (e.position, e.message)
    }

    #[test]
    fn error_positions() {
        let (p, m) = perr("a AND b OR c");
        assert_eq!(p, 9);
        assert!(m.contains("mixed"), "{m}");
        assert_eq!(perr("(a OR b").0, 1);
        assert!(perr("(a OR b").1.contains("unclosed"));
        assert_eq!(perr("a OR b)").0, 7);
        assert_eq!(perr("a b").0, 3);
        assert!(perr("a b").1.contains("missing operator"));
        assert_eq!(perr("a NEAR/x b").0, 3);
        assert_eq!(perr("a NEAR b").0, 3);
        assert_eq!(perr("a OR \"open").0, 6);
        assert_eq!(perr("a OR foo:bar").0, 6);
        assert!(perr("a OR foo:bar").1.contains("unknown field"));
        assert_eq!(perr("a OR *").0, 6);
        assert_eq!(perr("a OR ra*ket").0, 6);
        assert_eq!(perr("a AND").0, 6);
        assert_eq!(perr("").0, 1);
        assert_eq!(perr("ракета AND (b OR c").0, 12);
        assert_eq!(perr("a NEAR/3 NOT b").0, 10);
        assert_eq!(perr("lang:german AND a").0, 1);
        assert_eq!(perr("a AND @").0, 7);
    }
}
