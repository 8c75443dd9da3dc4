//! Matcher throughput: documents per second on one core for the shipped topics and for 1,000 and
//! 10,000 generated topics, plus the compile (automaton rebuild) time.
//!
//! Run: `cargo bench --bench match`. Two corpora: the development set's texts
//! (`/work/shared/eval/topics-dev.jsonl`, real news in four languages: the measure, skipped
//! if the file is not there), and those plus 2,000 generated multilingual documents (EN/DE/RU/FR,
//! 300-2,000 characters, dense with topic vocabulary: a harder case). Prints medians over several
//! rounds: documents per second of wall time, and per second of the thread's CPU time (`cpu`: the
//! figure to read on a loaded machine, where other processes take turns on the core). With
//! `MATCH_BENCH_DUMP=DIR` it also writes every match (document, topic, terms, snippet)
//! of each topic set to `DIR/NAME.tsv` (`DIR/dev_NAME.tsv` for the development set alone),
//! to check that an optimisation changed no result. `MATCH_BENCH_ONLY=TEXT` runs only the topic sets
//! whose name contains TEXT (e.g. `shipped`, `10,000 generated`), for profiling one of them.

use std::time::{Duration, Instant};

use newswatch::topics::{Doc, Matcher, Severity, TopicConfig};

// The allocator the `newswatch` binary uses (src/main.rs), so the bench measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EN: &[&str] = &[
    "the",
    "government",
    "said",
    "on",
    "monday",
    "that",
    "it",
    "would",
    "talks",
    "with",
    "officials",
    "in",
    "capital",
    "missile",
    "missiles",
    "launched",
    "fired",
    "arms",
    "deal",
    "sale",
    "tanks",
    "deliveries",
    "ukraine",
    "north",
    "korea",
    "ballistic",
    "test-fired",
    "minister",
    "defence",
    "company",
    "shares",
    "rose",
    "percent",
    "market",
    "election",
    "president",
    "weapons",
    "ammunition",
    "contract",
    "navy",
    "army",
    "report",
    "week",
    "agency",
];
const DE: &[&str] = &[
    "die",
    "Bundesregierung",
    "hat",
    "am",
    "Montag",
    "erklärt",
    "dass",
    "Waffenlieferungen",
    "an",
    "die",
    "Ukraine",
    "Kurzstreckenraketen",
    "abgefeuert",
    "Nordkorea",
    "Artilleriemunition",
    "kaufen",
    "Gespräche",
    "Präsident",
    "Wirtschaft",
    "Unternehmen",
    "Straße",
    "Regierung",
    "Panzer",
    "Lieferung",
    "Munition",
    "Krieg",
    "Minister",
    "Raketenabwehr",
    "Bericht",
    "Woche",
    "über",
    "für",
    "mit",
    "nach",
    "einer",
    "Marschflugkörper",
];
const RU: &[&str] = &[
    "правительство",
    "заявило",
    "в",
    "понедельник",
    "что",
    "поставок",
    "оружия",
    "ракету",
    "ракеты",
    "запустила",
    "КНДР",
    "Украине",
    "министр",
    "обороны",
    "удар",
    "по",
    "городу",
    "экономика",
    "рынок",
    "выборы",
    "президент",
    "сообщили",
    "источники",
    "ещё",
    "танков",
    "боеприпасов",
    "на",
    "и",
    "с",
    "неделе",
];
const FR: &[&str] = &[
    "le",
    "gouvernement",
    "a",
    "déclaré",
    "lundi",
    "que",
    "vente",
    "d'armes",
    "missile",
    "balistique",
    "tir",
    "la",
    "Corée",
    "du",
    "Nord",
    "armée",
    "ministre",
    "économie",
    "marché",
    "élection",
    "président",
    "des",
    "chars",
    "livraison",
    "munitions",
    "semaine",
    "rapport",
    "avec",
    "pour",
];

fn sentence(rng: &mut fastrand::Rng, words: &[&str], n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let w = words[rng.usize(..words.len())];
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push_str(w);
        }
    }
    s.push_str(". ");
    s
}

/// The generated documents, and the development set's items (empty if it is not there).
type Docs = Vec<(String, String, &'static str)>;
fn corpus() -> (Docs, Docs) {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut docs = Vec::new();
    for i in 0..2000 {
        let (words, lang) = match i % 4 {
            0 => (EN, "en"),
            1 => (DE, "de"),
            2 => (RU, "ru"),
            _ => (FR, "fr"),
        };
        let title = sentence(&mut rng, words, 8)
            .trim_end_matches(". ")
            .to_string();
        let target = rng.usize(300..2000);
        let mut text = String::new();
        while text.len() < target {
            let n = rng.usize(8..20);
            text.push_str(&sentence(&mut rng, words, n));
        }
        docs.push((title, text, lang));
    }
    let mut dev_docs = Vec::new();
    if let Ok(dev) = std::fs::read_to_string("/work/shared/eval/topics-dev.jsonl") {
        for line in dev.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                let lang = match v["lang"].as_str() {
                    Some("de") => "de",
                    Some("ru") => "ru",
                    Some("fr") => "fr",
                    _ => "en",
                };
                dev_docs.push((
                    v["title"].as_str().unwrap_or("").into(),
                    v["text"].as_str().unwrap_or("").into(),
                    lang,
                ));
            }
        }
    }
    (docs, dev_docs)
}

/// `n` generated topics: random words (mostly not in the corpus) and some corpus words, with
/// every term kind, NEAR, phrases, groups and exclusions.
fn generated_topics(n: usize) -> Vec<TopicConfig> {
    let mut rng = fastrand::Rng::with_seed(7);
    let vocab: Vec<&str> = EN.iter().chain(DE).chain(RU).chain(FR).copied().collect();
    let word = |rng: &mut fastrand::Rng| -> String {
        if rng.u8(..) < 8 {
            vocab[rng.usize(..vocab.len())].to_lowercase()
        } else {
            let len = rng.usize(5..10);
            (0..len)
                .map(|_| rng.alphabetic().to_ascii_lowercase())
                .collect()
        }
    };
    (0..n)
        .map(|i| {
            let a = word(&mut rng);
            let b = word(&mut rng);
            let c = word(&mut rng);
            let d = word(&mut rng);
            let e = word(&mut rng);
            let query = match i % 4 {
                0 => format!("({a}* OR \"{b} {c}*\") NEAR/6 @g"),
                1 => format!("*{a} AND ({b} OR {c}*)"),
                2 => format!("\"{a} {b}\" OR (*{c}* ONEAR/4 @g)"),
                _ => format!("title:{a}* OR ({b} NEAR/3 {c} AND NOT {d})"),
            };
            let mut groups = std::collections::BTreeMap::new();
            groups.insert(
                "g".to_string(),
                vec![format!("{d}*"), format!("*{e}"), word(&mut rng)],
            );
            TopicConfig {
                id: format!("gen-{i}"),
                description: None,
                query,
                exclude: Some(format!("\"{} {}\"", word(&mut rng), word(&mut rng))),
                severity: Severity::Medium,
                sinks: Vec::new(),
                groups,
                enabled: true,
                rate_limit: None,
                digest: None,
                model: None,
                learned: None,
            }
        })
        .collect()
}

/// The CPU time this thread has used: unlike the wall clock, it does not count the time other
/// processes held the core, so a loaded machine still measures one core's throughput.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(corpus: &str, name: &str, topics: &[TopicConfig], docs: &[(String, String, &str)]) {
    if let Ok(only) = std::env::var("MATCH_BENCH_ONLY")
        && !name.contains(only.as_str())
    {
        return;
    }
    let mut compile = Vec::new();
    let mut matcher = None;
    for _ in 0..3 {
        let t = Instant::now();
        matcher = Some(Matcher::compile(topics).expect("topics compile"));
        compile.push(t.elapsed());
    }
    let m = matcher.expect("compiled");
    let mut rounds = Vec::new();
    let mut cpu_rounds = Vec::new();
    let mut matched = 0;
    // At least 3 rounds, and about 8,000 documents in all for a small corpus.
    for _ in 0..(8000 / docs.len()).clamp(3, 15) {
        let t = Instant::now();
        let cpu = thread_cpu();
        matched = 0;
        for (title, text, lang) in docs {
            let got = m.match_doc(&Doc {
                title,
                text,
                lang: Some(lang),
                site: None,
            });
            matched += got.len();
        }
        rounds.push(t.elapsed());
        cpu_rounds.push(thread_cpu() - cpu);
    }
    let per_round = median(rounds);
    let cpu_round = median(cpu_rounds);
    if let Ok(dir) = std::env::var("MATCH_BENCH_DUMP") {
        // Every match of every document, for comparing two versions of the matcher.
        let mut out = String::new();
        for (i, (title, text, lang)) in docs.iter().enumerate() {
            for t in m.match_doc(&Doc {
                title,
                text,
                lang: Some(lang),
                site: None,
            }) {
                out.push_str(&format!("{i}\t{}\t{:?}\t{}\n", t.topic, t.terms, t.snippet));
            }
        }
        let file = format!("{dir}/{corpus}{}.tsv", name.replace([' ', ','], "_"));
        std::fs::write(&file, out).expect("write the dump");
    }
    let bytes: usize = docs.iter().map(|d| d.0.len() + d.1.len()).sum();
    println!(
        "{name:>22}: {:>6} topics {:>6} patterns  compile {:>8.2} ms  match {:>8.0} docs/s  {:>6.1} MB/s  cpu {:>8.0} docs/s  ({} matches / {} docs)",
        m.len(),
        m.pattern_count(),
        median(compile).as_secs_f64() * 1e3,
        docs.len() as f64 / per_round.as_secs_f64(),
        bytes as f64 / per_round.as_secs_f64() / 1e6,
        docs.len() as f64 / cpu_round.as_secs_f64(),
        matched,
        docs.len()
    );
}

fn main() {
    let (generated, dev) = corpus();
    let cfg_path = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
    let shipped = newswatch::config::Config::load(std::path::Path::new(cfg_path))
        .expect("shipped config.toml loads")
        .topics;
    // The shipped topics without their models: the same run's baseline for the models' cost.
    let queries_only: Vec<TopicConfig> = shipped
        .iter()
        .map(|t| TopicConfig {
            learned: None,
            ..t.clone()
        })
        .collect();
    let sets = [
        ("shipped queries only", queries_only),
        ("shipped topics", shipped.clone()),
        ("1,000 generated", generated_topics(1_000)),
        ("10,000 generated", generated_topics(10_000)),
        ("10,000 + shipped", {
            let mut ten = generated_topics(10_000);
            ten.extend(shipped);
            ten
        }),
    ];
    // The measure is the development set's texts (real news, few of them on a topic). The
    // mixed corpus adds 2,000 generated documents dense with topic vocabulary (1.4 matches per
    // document with the shipped topics), a harder case for evaluation and snippets.
    let mixed: Docs = generated.into_iter().chain(dev.iter().cloned()).collect();
    for (label, prefix, docs) in [
        ("dev-set texts", "dev_", &dev),
        ("dev set + generated", "", &mixed),
    ] {
        if docs.is_empty() {
            continue;
        }
        let avg = docs.iter().map(|d| d.0.len() + d.1.len()).sum::<usize>() / docs.len();
        println!(
            "corpus {label}: {} docs, {avg} bytes on average; single thread, medians",
            docs.len()
        );
        for (name, topics) in &sets {
            bench(prefix, name, topics, docs);
        }
    }
}
