//! The topic query language (`topics::query`) and the matcher compiled from it. Input: line 1 the
//! query, line 2 an exclude (empty: none), line 3 a group entry, the rest a document the compiled
//! topic is matched against. Invariants checked: no panic, no hang; an error's position lies in
//! its field's text (its caret line can be drawn).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use newswatch::topics::{Doc, Matcher, Severity, TopicConfig, query};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut parts = s.splitn(4, '\n');
    let q = parts.next().unwrap_or_default();
    let exclude = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let text = parts.next().unwrap_or_default();

    if let Err(e) = query::parse(q) {
        assert!(
            e.position <= q.chars().count() + 1,
            "position {} past the end of {q:?}",
            e.position
        );
    }
    let _ = query::parse_group_entry(group);

    let topic = TopicConfig {
        id: "t".into(),
        description: None,
        query: q.to_string(),
        exclude: (!exclude.is_empty()).then(|| exclude.to_string()),
        severity: Severity::Medium,
        sinks: Vec::new(),
        groups: BTreeMap::from([("g".to_string(), vec![group.to_string()])]),
        enabled: true,
        rate_limit: None,
        digest: None,
        model: None,
        learned: None,
    };
    match Matcher::compile(&[topic]) {
        Ok(m) => {
            let doc = Doc {
                title: q,
                text,
                lang: Some("en"),
                site: Some("fuzz.example"),
            };
            let _ = m.match_doc(&doc);
        }
        Err(e) => {
            let _ = e.caret();
            let _ = e.to_string();
        }
    }
});
