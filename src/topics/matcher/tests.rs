use std::collections::BTreeMap;

use super::super::query;
use super::super::{Matcher, Severity, TopicConfig};
use super::compile::Interner;
use super::scan::WalkMemo;
use super::snippet::clean_piece;
use super::*;

fn topic(id: &str, query: &str, exclude: Option<&str>, groups: &[(&str, &[&str])]) -> TopicConfig {
    TopicConfig {
        id: id.into(),
        description: None,
        query: query.into(),
        exclude: exclude.map(str::to_string),
        severity: Severity::Medium,
        sinks: Vec::new(),
        groups: groups
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect::<BTreeMap<_, _>>(),
        enabled: true,
        rate_limit: None,
        digest: None,
        model: None,
        learned: None,
    }
}

fn doc<'a>(title: &'a str, text: &'a str) -> Doc<'a> {
    Doc {
        title,
        text,
        lang: None,
        site: None,
    }
}

/// Whether `query` matches a document whose text is `text`.
fn hit(query: &str, text: &str) -> bool {
    let m = Matcher::compile(&[topic("t", query, None, &[])]).unwrap_or_else(|e| panic!("{e}"));
    !m.match_doc(&doc("", text)).is_empty()
}

#[test]
fn term_kinds_against_tokens() {
    assert!(hit("icbm", "North Korea fired an ICBM."));
    assert!(!hit("icbm", "The icbms were moved."));
    assert!(hit("launch*", "It launched two."));
    assert!(!hit("launch*", "Relaunched today."));
    assert!(hit("*raketen", "zwei Kurzstreckenraketen"));
    assert!(!hit("*raketen", "Raketenabwehr gekauft"));
    assert!(hit("*waffenliefer*", "neue Waffenlieferungen"));
    assert!(hit("*waffenliefer*", "Waffenlieferung"));
    assert!(!hit("*waffenliefer*", "Waffen werden geliefert"));
    assert!(hit("ракет*", "запустила ракету"));
    assert!(hit("ракет*", "две ракеты"));
    assert!(hit("\"поставок оружи*\"", "из-за поставок оружия США"));
    assert!(hit("marschflugkörper*", "MARSCHFLUGKORPER"));
    assert!(hit("strasse", "Straße"));
    assert!(hit("елка", "Ёлка"));
}

#[test]
fn phrases_across_hyphens_and_pieces() {
    assert!(hit("\"test fire*\"", "Iran test-fired a missile"));
    assert!(hit("test-fire*", "Iran test-fired a missile"));
    assert!(hit("test-fire*", "Iran test fires a missile"));
    assert!(hit("fired", "Iran test-fired a missile"));
    assert!(hit("\"arms deal*\"", "a new arms deals package"));
    assert!(!hit("\"arms deal*\"", "arms for a deal"));
    assert!(hit("\"vente* d armes\"", "les ventes d'armes"));
    assert!(hit("\"пуск* ракет*\"", "пуск ракеты"));
    assert!(hit("kurz\u{ad}strecken*", "Kurzstreckenraketen"));
    assert!(hit(
        "kurzstreckenraketen",
        "Kurz\u{ad}strecken\u{ad}raketen"
    ));
}

#[test]
fn near_and_onear_distances() {
    // NEAR/n: at most n tokens between, either order.
    assert!(hit("fired NEAR/2 missile", "fired two ballistic missile"));
    assert!(!hit("fired NEAR/1 missile", "fired two ballistic missile"));
    assert!(hit("fired NEAR/0 missile", "missile fired"));
    assert!(hit("fired NEAR/2 missile", "missile was not fired"));
    assert!(!hit("fired NEAR/1 missile", "missile was not fired"));
    // ONEAR/n: left before right.
    assert!(hit("fired ONEAR/2 missile", "fired a missile"));
    assert!(!hit("fired ONEAR/5 missile", "missile was fired"));
    // Never across title and text.
    let m = Matcher::compile(&[topic("t", "fired NEAR/3 missile", None, &[])]).unwrap();
    assert!(m.match_doc(&doc("Missile", "fired")).is_empty());
    // A token does not pair with itself.
    assert!(!hit("arms NEAR/3 arms*", "arms"));
    assert!(hit("arms NEAR/3 arms*", "arms and arms"));
    // Groups and phrases as operands.
    let m = Matcher::compile(&[topic(
        "t",
        "@launch NEAR/4 @missile",
        None,
        &[
            ("launch", &["abgefeuert", "запуст*"]),
            ("missile", &["*raketen", "\"ballistic missile*\""]),
        ],
    )])
    .unwrap();
    assert!(
        !m.match_doc(&doc(
            "",
            "Pjöngjang hat zwei ballistische Kurzstreckenraketen abgefeuert"
        ))
        .is_empty()
    );
    assert!(
        !m.match_doc(&doc("", "КНДР запустила ballistic missiles"))
            .is_empty()
    );
    assert!(
        m.match_doc(&doc(
            "",
            "abgefeuert wurden gestern viele Schüsse, aber keine Kurzstreckenraketen"
        ))
        .is_empty()
    );
}

#[test]
fn fields_lang_site_and_not() {
    let m = Matcher::compile(&[
        topic("title", "title:missile*", None, &[]),
        topic("text", "text:missile*", None, &[]),
        topic("de", "lang:de AND *raketen", None, &[]),
        topic("site", "site:example.com AND missile*", None, &[]),
        topic("not", "missile* AND NOT defen*", None, &[]),
    ])
    .unwrap();
    let ids = |d: &Doc| {
        m.match_doc(d)
            .into_iter()
            .map(|t| t.topic)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&doc("Missiles", "nothing")), ["title", "not"]);
    assert_eq!(ids(&doc("nothing", "missile defence")), ["text"]);
    let mut d = doc("Kurzstreckenraketen", "");
    assert!(ids(&d).is_empty());
    d.lang = Some("de-DE");
    assert_eq!(ids(&d), ["de"]);
    let mut d = doc("", "a missile");
    d.site = Some("news.example.com");
    assert_eq!(ids(&d), ["text", "site", "not"]);
    d.site = Some("badexample.com");
    assert_eq!(ids(&d), ["text", "not"]);
}

#[test]
fn exclusions() {
    let m = Matcher::compile(&[topic(
        "t",
        "launch* NEAR/5 rocket*",
        Some("firework* OR \"product launch*\""),
        &[],
    )])
    .unwrap();
    assert!(
        !m.match_doc(&doc("", "The rebels launched rockets at the town"))
            .is_empty()
    );
    assert!(
        m.match_doc(&doc(
            "New Year",
            "Fireworks: rockets launched over the harbour"
        ))
        .is_empty()
    );
}

#[test]
fn terms_and_snippet_mark_the_matched_words() {
    let m = Matcher::compile(&[topic(
        "t",
        "@launch NEAR/6 @missile",
        None,
        &[
            ("launch", &["abgefeuert"]),
            ("missile", &["*raketen", "*rakete"]),
        ],
    )])
    .unwrap();
    let text = "Der Gipfel begann, nachdem Pjöngjang zwei ballistische Kurzstreckenraketen im Osten \
                des Landes abgefeuert hatte. [[Nicht]] markieren.";
    let got = m.match_doc(&doc("Gipfel", text));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].terms, ["*raketen", "abgefeuert"]);
    assert!(
        got[0].snippet.contains(
            "zwei ballistische [[Kurzstreckenraketen]] im Osten des Landes [[abgefeuert]] hatte."
        ),
        "{}",
        got[0].snippet
    );
    assert!(got[0].snippet.contains("[ [Nicht] ]"), "{}", got[0].snippet);
    // A phrase is marked as one span; a long text is cut with an ellipsis.
    let m = Matcher::compile(&[topic("t", "\"arms deal*\"", None, &[])]).unwrap();
    let long = format!(
        "{} They signed an arms deal on Monday. {}",
        "word ".repeat(100),
        "tail ".repeat(100)
    );
    let s = &m.match_doc(&doc("", &long))[0].snippet;
    assert!(s.contains("[[arms deal]]"), "{s}");
    assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
    assert!(s.len() < 400, "{s}");
}

#[test]
fn compile_errors_name_topic_field_and_position() {
    let e = Matcher::compile(&[topic("t", "a AND b OR c", None, &[])]).unwrap_err();
    assert_eq!(
        (e.topic.as_str(), e.field.as_str(), e.position),
        ("t", "query", 9)
    );
    let shown = e.to_string();
    assert!(
        shown.contains("\n    a AND b OR c\n            ^"),
        "{shown}"
    );
    let e = Matcher::compile(&[topic("t", "@nope OR x", None, &[("yes", &["y"])])]).unwrap_err();
    assert_eq!((e.field.as_str(), e.position), ("query", 1));
    assert!(
        e.message.contains("unknown group @nope") && e.message.contains("yes"),
        "{}",
        e.message
    );
    let e = Matcher::compile(&[topic("t", "x", Some("(y"), &[])]).unwrap_err();
    assert_eq!((e.field.as_str(), e.position), ("exclude", 1));
    let e = Matcher::compile(&[topic("t", "@g", None, &[("g", &["ok", "bad*word"])])]).unwrap_err();
    assert_eq!(e.field, "groups.g[1]");
    // Unused groups are checked too.
    let e = Matcher::compile(&[topic("t", "x", None, &[("g", &["\"open"])])]).unwrap_err();
    assert_eq!(e.field, "groups.g[0]");
}

#[test]
fn many_topics_share_one_automaton() {
    let topics: Vec<TopicConfig> = (0..200)
        .map(|i| {
            topic(
                &format!("t{i}"),
                &format!("word{i} NEAR/3 (other{i}* OR *tail{i})"),
                None,
                &[],
            )
        })
        .collect();
    let m = Matcher::compile(&topics).unwrap();
    assert_eq!(m.len(), 200);
    let got = m.match_doc(&doc(
        "",
        "word17 and other17x, word18 alone, and word19 xtail19",
    ));
    let ids: Vec<_> = got.iter().map(|t| t.topic.as_str()).collect();
    assert_eq!(ids, ["t17", "t19"]);
}

/// `push_clean` (with its byte fast paths) against the char-by-char definition.
#[test]
fn push_clean_folds_blanks_like_the_definition() {
    fn reference(s: &str) -> String {
        let mut out = String::new();
        let mut blank = false;
        for c in s.chars() {
            if c.is_whitespace() || c.is_control() {
                blank = true;
            } else {
                if blank {
                    out.push(' ');
                    blank = false;
                }
                out.push(c);
            }
        }
        if blank {
            out.push(' ');
        }
        out.replace("[[", "[ [").replace("]]", "] ]")
    }
    for s in [
        "a b  c\td\u{85}e\u{a0}f\u{2003}g\u{3000}h",
        " lead and trail ",
        "x [[y]] z [a] ]]",
        "Straße über  ёлка\u{200b}x \u{7f}y\r\nz",
        "«quoted» — dash – a\u{2028}b",
        "",
        " ",
        "  \n ",
    ] {
        assert_eq!(clean_piece(s), reference(s), "{s:?}");
    }
}

/// The tries and the infix automaton find exactly the (token pattern, token) pairs the
/// anchors define, checked against a direct comparison of every pattern with every token.
#[test]
fn scan_finds_exactly_the_anchored_occurrences() {
    let words = [
        "ab",
        "abc",
        "b",
        "bc",
        "c",
        "ca",
        "abca",
        "ракет",
        "ракета",
        "та",
        "a",
        "ü",
        "u",
    ];
    let mut terms = Vec::new();
    for w in words {
        terms.extend([
            w.to_string(),
            format!("{w}*"),
            format!("*{w}"),
            format!("*{w}*"),
        ]);
    }
    let query = terms.join(" OR ");
    let m = Matcher::compile(&[topic("t", &query, None, &[])]).unwrap();
    let e = &m.engine;
    let text = "abc abca cab bcab b ab aab ракета ракеты тараката Über uber a ca caca";
    let toks = normalize::tokenize(text);
    let mut got = Vec::new();
    e.scan(
        &toks,
        0,
        &mut got,
        &mut WalkMemo::default(),
        &mut WalkMemo::default(),
    );
    got.sort_unstable();
    got.dedup();
    let mut interner = Interner::default();
    let mut want = Vec::new();
    for t in &terms {
        let parts = query::parse_word(t).unwrap().parts;
        assert_eq!(parts.len(), 1);
        let tp = interner.tokpat(&parts[0]);
        let core = parts[0].core.as_str();
        for i in 0..toks.len() {
            let tok = toks.token(i);
            let ok = match parts[0].anchor {
                Anchor::Exact => tok == core,
                Anchor::Prefix => tok.starts_with(core),
                Anchor::Suffix => tok.ends_with(core),
                Anchor::Infix => tok.contains(core),
            };
            if ok {
                want.push((tp, i as u32));
            }
        }
    }
    want.sort_unstable();
    want.dedup(); // `ü` and `u` fold to one core
    // Token pattern ids are interned in the same order by both.
    assert_eq!(got, want);
    assert!(got.len() > 40, "{}", got.len());
}
