//! `newswatch match` and `newswatch topics` as a user runs them, with the shipped config.toml
//! topics: the seed article, German compounds, Russian inflections, decoys, bad input lines, and
//! broken queries reported with positions.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn shipped_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.toml")
}

/// Runs `newswatch --config CONFIG ARGS` with `stdin`; returns (exit code, stdout, stderr).
fn newswatch(config: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(dir.path().join("test.db"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Matches `docs` with the shipped topics; returns one output object per input line.
fn run_match(docs: &[Value]) -> Vec<Value> {
    let input: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let (code, out, err) = newswatch(&shipped_config(), &["match", "--format", "jsonl"], &input);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn topic_ids(o: &Value) -> Vec<String> {
    o["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

fn doc(id: &str, lang: &str, title: &str, text: &str) -> Value {
    json!({"id": id, "lang": lang, "title": title, "text": text})
}

/// Matches `(id, lang, title, text, expected topics)` cases with the shipped topics and checks
/// each result, and that every match names the terms that fired and marks them in its snippet.
fn assert_cases(cases: &[(&str, &str, &str, &str, Vec<&str>)]) {
    let docs: Vec<Value> = cases.iter().map(|c| doc(c.0, c.1, c.2, c.3)).collect();
    let out = run_match(&docs);
    assert_eq!(out.len(), cases.len());
    for (c, o) in cases.iter().zip(&out) {
        assert_eq!(o["id"], c.0);
        assert_eq!(topic_ids(o), c.4, "{} {} {}: {o}", c.0, c.2, c.3);
        for t in o["topics"].as_array().unwrap() {
            assert!(!t["terms"].as_array().unwrap().is_empty(), "{o}");
            assert!(t["snippet"].as_str().unwrap().contains("[["), "{o}");
        }
    }
}

#[test]
fn seed_article_matches_both_topics_with_marked_terms() {
    let seed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/topics/seed-article.txt"),
    )
    .unwrap();
    let (title, text) = seed.split_once('\n').unwrap();
    let out = run_match(&[
        json!({"id": "seed", "title": title.trim(), "text": text, "link": "https://www.politico.eu/x"}),
    ]);
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert_eq!(o["id"], "seed");
    assert_eq!(topic_ids(o), ["arms-deals", "missile-launches"], "{o}");
    let topics = o["topics"].as_array().unwrap();
    let arms = &topics[0];
    let terms: Vec<&str> = arms["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(terms.contains(&"waffenhandel*"), "{terms:?}");
    let missiles = &topics[1];
    let snippet = missiles["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("[[Kurzstreckenraketen]]") && snippet.contains("[[abgefeuert]]"),
        "{snippet}"
    );
    let terms: Vec<&str> = missiles["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(terms.contains(&"abgefeuert"), "{terms:?}");
    let arms_snippet = arms["snippet"].as_str().unwrap();
    assert!(arms_snippet.contains("[["), "{arms_snippet}");
}

#[test]
fn compounds_and_inflections_match_and_decoys_do_not() {
    let cases = [
        // (id, lang, title, text, expected topics)
        (
            "de1",
            "de",
            "Nordkorea feuert Kurzstreckenraketen ab",
            "",
            vec!["missile-launches"],
        ),
        (
            "de2",
            "de",
            "Bundesregierung genehmigt weitere Waffenlieferungen an die Ukraine",
            "",
            vec!["arms-deals"],
        ),
        (
            "de3",
            "de",
            "Russland will Artilleriemunition aus Nordkorea kaufen",
            "",
            vec!["arms-deals"],
        ),
        (
            "ru1",
            "ru",
            "",
            "КНДР запустила баллистическую ракету в сторону Японского моря",
            vec!["missile-launches"],
        ),
        (
            "ru2",
            "ru",
            "",
            "Армия выпустила две ракеты по целям в Курской области",
            vec!["missile-launches"],
        ),
        (
            "ru3",
            "ru",
            "",
            "Конфликт стал глобальным из-за поставок оружия США и Европой",
            vec!["arms-deals"],
        ),
        (
            "fr1",
            "fr",
            "La Corée du Nord procède à un tir de missile balistique",
            "",
            vec!["missile-launches"],
        ),
        (
            "fr2",
            "fr",
            "Paris signe une vente d'armes avec l'Inde",
            "",
            vec!["arms-deals"],
        ),
        (
            "en1",
            "en",
            "North Korea test-fires two short-range ballistic missiles",
            "",
            vec!["missile-launches"],
        ),
        (
            "en2",
            "en",
            "US approves $2 billion arms sale to Taiwan",
            "",
            vec!["arms-deals"],
        ),
        // Decoys. A missile-defence purchase is an arms deal, not a launch.
        (
            "x1",
            "de",
            "Deutschland kauft Raketenabwehrsystem Arrow 3",
            "Das System soll 2025 einsatzbereit sein.",
            vec!["arms-deals"],
        ),
        (
            "x2",
            "en",
            "The new arms race in space",
            "Analysts warn of an arms race between the powers.",
            vec![],
        ),
        (
            "x3",
            "en",
            "Apple launches new iPhone",
            "Apple launched its new phone and tested the market.",
            vec![],
        ),
        (
            "x4",
            "en",
            "New Year fireworks",
            "Thousands of fireworks rockets were launched over the harbour.",
            vec![],
        ),
        (
            "x5",
            "en",
            "Oil prices rocket to record high",
            "Prices rocketed after the announcement.",
            vec![],
        ),
        (
            "x6",
            "de",
            "Silvester",
            "Silvesterraketen wurden in den Himmel geschossen und abgefeuert.",
            vec![],
        ),
    ];
    assert_cases(&cases);
}

/// The classes of error seen on news the topics were never tuned on (issue 13), each with texts
/// written for this test in the language where the class was seen: the decoy must not match, the
/// real event beside it must.
#[test]
fn error_classes_seen_on_unseen_news() {
    let cases = [
        // Civilian and space launches are not missile launches (en).
        (
            "space1",
            "en",
            "Startup's rocket lifts weather satellite into orbit",
            "The private rocket was launched from a coastal spaceport on Tuesday morning and reached orbit nine minutes later, the company said.",
            vec![],
        ),
        (
            "space2",
            "en",
            "Launch date set for the agency's lunar probe",
            "The space agency said the rocket carrying the probe will launch in March from its launch complex.",
            vec![],
        ),
        (
            "space3",
            "en",
            "Navy fires two cruise missiles at radar sites",
            "The missiles were launched from a destroyer shortly after midnight, officials said.",
            vec!["missile-launches"],
        ),
        // "Missile" thrown at football, and contracts for missiles (en).
        (
            "sport1",
            "en",
            "Cup tie halted after linesman struck by missile",
            "The referee took the players off for ten minutes after a coin was thrown from the away end of the stadium and hit the linesman; police are reviewing footage of the fans.",
            vec![],
        ),
        (
            "contract1",
            "en",
            "Defense firm wins $900 million contract for interceptor missiles",
            "The contract covers production of the missiles and launchers for the army through 2029.",
            vec!["arms-deals"],
        ),
        // Permission to strike with long-range missiles, no launch reported (ru).
        (
            "perm1",
            "ru",
            "",
            "Вашингтон разрешил Киеву наносить удары дальнобойными ракетами по территории России, сообщили источники газеты.",
            vec![],
        ),
        (
            "perm3",
            "ru",
            "",
            "Решение администрации об ударах дальнобойными ракетами вглубь России обсуждают в Конгрессе.",
            vec![],
        ),
        (
            "perm2",
            "ru",
            "",
            "Ночью по Харькову был нанесен удар баллистическими ракетами, пострадали шесть человек.",
            vec!["missile-launches"],
        ),
        // German headlines where missiles hit a place (de).
        (
            "auf1",
            "de",
            "Zehn Raketen auf Charkiw in einer Nacht",
            "",
            vec!["missile-launches"],
        ),
        (
            "auf2",
            "de",
            "Wieder Raketen auf Grenzdörfer im Norden",
            "",
            vec!["missile-launches"],
        ),
        // German tank and ammunition debates and deliveries (de).
        (
            "panzer1",
            "de",
            "Niederlande liefern weitere Panzerhaubitzen an die Ukraine",
            "",
            vec!["arms-deals"],
        ),
        (
            "panzer2",
            "de",
            "Kanzler zögert bei Leopard-Panzern",
            "",
            vec!["arms-deals"],
        ),
        (
            "panzer3",
            "de",
            "Neues Munitionspaket aus Berlin",
            "",
            vec!["arms-deals"],
        ),
        (
            "panzer4",
            "de",
            "Streit in der Koalition: Panzer-Kurswechsel im Kanzleramt",
            "",
            vec!["arms-deals"],
        ),
        (
            "panzer5",
            "de",
            "Bundesregierung sagt Kiew weitere Flugabwehrsysteme zu",
            "",
            vec!["arms-deals"],
        ),
        // Police seizures and criminal guns are not arms deals (fr, ru); calls for rearmament
        // without a purchase are not either (de).
        (
            "police1",
            "fr",
            "Un stock d'armes découvert dans un garage",
            "La police a saisi vingt fusils et des munitions lors d'une perquisition; deux hommes ont été mis en examen pour trafic d'armes.",
            vec![],
        ),
        (
            "police2",
            "ru",
            "",
            "Полиция задержала мужчину, который продавал оружие и боеприпасы через мессенджер; возбуждено уголовное дело.",
            vec![],
        ),
        (
            "police3",
            "fr",
            "Un lance-roquettes saisi dans une cave",
            "Les policiers ont trouvé l'arme lors d'une perquisition.",
            vec![],
        ),
        (
            "rearm1",
            "de",
            "Verband fordert massive Aufrüstung der Bundeswehr",
            "",
            vec![],
        ),
    ];
    assert_cases(&cases);
}

/// Classes of error read on the tune part of dev + dev2 (never the set-aside part), each fixed in
/// the lexicons and groups of the shipped config and checked here with texts written for this test.
#[test]
fn error_classes_read_on_the_tune_part() {
    let cases = [
        // Russian transfers phrased with verbs of promising, requesting, ordering and buying, and
        // purchases as noun phrases (ru).
        (
            "ruverb1",
            "ru",
            "",
            "Норвегия пообещала Киеву ещё два зенитных комплекса ПВО до конца зимы, сообщил министр обороны.",
            vec!["arms-deals"],
        ),
        (
            "ruverb2",
            "ru",
            "",
            "Министерство обороны закажет у завода в Арзамасе сто бронемашин для пограничных войск.",
            vec!["arms-deals"],
        ),
        (
            "ruverb3",
            "ru",
            "",
            "Алжир сократил закупки российского вооружения, хотя ремонт старой техники обходится дешевле.",
            vec!["arms-deals"],
        ),
        // Equipped with missiles, a property of a ship, is no transfer (ru).
        (
            "ruverb4",
            "ru",
            "",
            "Новый фрегат оснащён крылатыми ракетами и зенитным комплексом, корабль вошёл в состав флота.",
            vec![],
        ),
        // Laying down arms is a surrender, not a transfer (ru).
        (
            "laydown1",
            "ru",
            "",
            "Окружённые солдаты сложили оружие и сдались, запись передана журналистам агентства.",
            vec![],
        ),
        // A contract for upkeep work on weapons is no transfer; one for the weapons is (en).
        (
            "upkeep1",
            "en",
            "Avionics firm gets $40 million Navy contract",
            "The contract covers software maintenance and simulator training for the fleet's weapons systems.",
            vec![],
        ),
        (
            "upkeep2",
            "en",
            "Contractor gets $300 million Army contract",
            "The award funds production of guided missiles for the Army through 2028.",
            vec!["arms-deals"],
        ),
        // German headline compounds of a weapon and a debate, and arming a named recipient (de).
        (
            "debate1",
            "de",
            "Opposition verlangt Ende der Kampfjetdebatte",
            "",
            vec!["arms-deals"],
        ),
        (
            "arming1",
            "de",
            "Westen berät über die Aufrüstung der Ukraine",
            "",
            vec!["arms-deals"],
        ),
        // "Fusée" in a report of a missile test is no space launch; a space launcher is (fr).
        (
            "fusee1",
            "fr",
            "L'armée dit avoir testé un nouveau missile de croisière",
            "Les images montrent la trace de la fusée au-dessus de la mer avant l'impact.",
            vec!["missile-launches"],
        ),
        (
            "fusee2",
            "fr",
            "Le lanceur spatial met un satellite météo en orbite",
            "La fusée a décollé de Kourou et le lancement s'est déroulé sans incident.",
            vec![],
        ),
        // Arms purchases named as a noun phrase, and a recipient getting a specific weapon (en).
        (
            "purchase1",
            "en",
            "Neighbours alarmed by the navy's arms purchases",
            "",
            vec!["arms-deals"],
        ),
        (
            "get1",
            "en",
            "Island to get surface-to-air missiles in spring",
            "",
            vec!["arms-deals"],
        ),
        // A headline weapon "from" somewhere in a battle report is used, not delivered (en).
        (
            "origin1",
            "en",
            "Artillery from the north keeps firing at the port",
            "",
            vec![],
        ),
        (
            "origin2",
            "en",
            "Howitzers from Norway for the Baltic brigades",
            "",
            vec!["arms-deals"],
        ),
        // An airliner destroyed by a missile: the missile was fired (fr).
        (
            "airliner1",
            "fr",
            "Crash de l'avion de ligne : une vidéo montre l'impact du missile",
            "",
            vec!["missile-launches"],
        ),
        // Missiles reported used (past) are launched; missiles that will be used are not (ru).
        (
            "used1",
            "ru",
            "",
            "Ночью по аэродрому использовали до десяти ракет, заявили в штабе округа.",
            vec!["missile-launches"],
        ),
        (
            "used2",
            "ru",
            "",
            "Ракеты большой дальности, вероятно, будут использованы против войск на границе, пишет газета.",
            vec![],
        ),
    ];
    assert_cases(&cases);
}

/// `match` decides the language as ingest does: a declared language the text contradicts is
/// corrected, a missing one detected, so `lang:` means the same on both paths.
#[test]
fn match_decides_the_language_as_ingest_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[topic]]\nid = \"de-only\"\nquery = 'lang:de AND panzer*'\n",
    )
    .unwrap();
    let german = "Die Regierung hat am Mittwoch entschieden, dass die Panzer in den nächsten Wochen geliefert werden, und der Minister sagte, dass es keine weiteren Verzögerungen geben wird.";
    let input = [
        json!({"id": "declared-en", "lang": "en", "title": "Panzer", "text": german}),
        json!({"id": "missing", "title": "Panzer", "text": german}),
        json!({"id": "short-de", "lang": "de", "title": "Panzer", "text": ""}),
        json!({"id": "short-en", "lang": "en", "title": "Panzer", "text": ""}),
    ]
    .iter()
    .map(|d| format!("{d}\n"))
    .collect::<String>();
    let (code, out, err) = newswatch(&config, &["match"], &input);
    assert_eq!(code, 0, "{err}");
    let got: Vec<Vec<String>> = out
        .lines()
        .map(|l| topic_ids(&serde_json::from_str(l).unwrap()))
        .collect();
    let expected: Vec<Vec<String>> = [
        newswatch::clean::lang::language("Panzer", german, Some("en"), None),
        newswatch::clean::lang::language("Panzer", german, None, None),
        newswatch::clean::lang::language("Panzer", "", Some("de"), None),
        newswatch::clean::lang::language("Panzer", "", Some("en"), None),
    ]
    .iter()
    .map(|l| {
        if l.as_deref() == Some("de") {
            vec!["de-only".to_string()]
        } else {
            vec![]
        }
    })
    .collect();
    assert_eq!(got, expected);
    assert_eq!(
        got,
        [vec!["de-only"], vec!["de-only"], vec!["de-only"], vec![]]
    );
}

/// A topic with a learned model (`model = "FILE"`, a model of this test's own writing): a query
/// match is kept only when the score reaches `low`, the model alone matches from `high`, every
/// match of the topic ends with its score, and a model-only match names the words that weighed
/// most and marks them. `match --without-models` gives the query alone; a broken model file is a
/// config error naming the file and the line.
#[test]
fn a_topic_model_keeps_drops_and_adds_matches() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("launch.model.tsv");
    std::fs::write(
        &model,
        "# a model written for this test\nlow\t0.3\nhigh\t0.9\nbias\t-2\n\
         w:missile\t1.5\nw:salvo\t5\np:hyper\t1\nw:parade\t-3\n",
    )
    .unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[topic]]\nid = \"launch\"\nquery = 'missile*'\nmodel = \"launch.model.tsv\"\n",
    )
    .unwrap();
    let input: String = [
        doc("kept", "en", "Missile fired over the sea", ""),
        doc("dropped", "en", "Missile parade in the capital", ""),
        doc("added", "en", "A salvo of hypersonic rockets", ""),
        doc("none", "en", "Rockets at the fair", ""),
    ]
    .iter()
    .map(|d| format!("{d}\n"))
    .collect();
    let (code, out, err) = newswatch(&config, &["match"], &input);
    assert_eq!(code, 0, "{err}");
    let got: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<Vec<String>> = got.iter().map(topic_ids).collect();
    assert_eq!(ids, [vec!["launch"], vec![], vec!["launch"], vec![]]);
    // score(kept) = 1 / (1 + e^0.5); score(added) = 1 / (1 + e^-4).
    assert_eq!(
        got[0]["topics"][0]["terms"],
        json!(["missile*", "score 0.38"])
    );
    assert_eq!(
        got[2]["topics"][0]["terms"],
        json!(["salvo", "hyper*", "score 0.98"])
    );
    let snippet = got[2]["topics"][0]["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("[[salvo]]") && snippet.contains("[[hypersonic]]"),
        "{snippet}"
    );

    let (code, out, err) = newswatch(&config, &["match", "--without-models"], &input);
    assert_eq!(code, 0, "{err}");
    let ids: Vec<Vec<String>> = out
        .lines()
        .map(|l| topic_ids(&serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(ids, [vec!["launch"], vec!["launch"], vec![], vec![]]);

    std::fs::write(&model, "low\t0.3\nhigh\tsoon\n").unwrap();
    let (code, _, err) = newswatch(&config, &["match"], &input);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("launch.model.tsv") && err.contains("line 2"),
        "{err}"
    );
}

/// The crash and evaluation scripts copy config.toml into a folder of their own and run from the
/// project's folder: the shipped models are found there too; from anywhere else the error names
/// the missing file.
#[test]
fn a_copied_config_finds_the_shipped_models_from_the_project_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::copy(shipped_config(), &config).unwrap();
    let run = |cwd: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .current_dir(cwd)
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(dir.path().join("test.db"))
            .args(["topics", "list"])
            .output()
            .unwrap()
    };
    let out = run(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");

    let out = run(dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("contrib/topics/") && err.contains(".model.tsv"),
        "{err}"
    );
}

#[test]
fn a_bad_line_gets_an_error_and_the_rest_go_on() {
    let input = "{\"id\":\"a\",\"title\":\"Iran test-fired a missile\",\"text\":\"\"}\n\
                 not json at all\n\
                 \n\
                 {\"id\":\"c\",\"title\":7}\n\
                 {\"id\":\"d\",\"title\":\"Ракетный удар по Харькову\",\"text\":\"\"}\n";
    let (code, out, err) = newswatch(&shipped_config(), &["match"], input);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(topic_ids(&lines[0]), ["missile-launches"]);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("bad input line")
    );
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["id"], "c");
    assert!(lines[2]["error"].is_string());
    assert_eq!(topic_ids(&lines[3]), ["missile-launches"]);
}

#[test]
fn input_file_and_missing_lang_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\":1,\"title\":\"Pyongyang fires ballistic missile into the sea\",\"text\":\"\"}\n",
    )
    .unwrap();
    let (code, out, err) = newswatch(
        &shipped_config(),
        &["match", "--input", input.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let o: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(o["id"], 1);
    assert_eq!(topic_ids(&o), ["missile-launches"]);
}

#[test]
fn topics_list_and_check_on_the_shipped_config() {
    let (code, out, err) = newswatch(
        &shipped_config(),
        &["topics", "list", "--format", "json"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["arms-deals", "missile-launches"]);
    let (code, out, err) = newswatch(&shipped_config(), &["topics", "check"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 topic(s) ok"), "{out}");
}

#[test]
fn a_broken_query_exits_2_with_topic_field_position_and_caret() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[[topic]]\nid = \"broken\"\nquery = 'missile* AND launch* OR fired'\n\n[[topic]]\nid = \"grp\"\nquery = '@g'\n[topic.groups]\ng = ['ok', '\"open']\n",
    )
    .unwrap();
    let (code, _, err) = newswatch(&cfg, &["topics", "check"], "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("topic \"broken\": query: at position 22"),
        "{err}"
    );
    assert!(err.contains("AND and OR mixed"), "{err}");
    assert!(err.contains("missile* AND launch* OR fired\n"), "{err}");
    assert!(err.contains(&format!("\n    {}^", " ".repeat(21))), "{err}");
}

#[test]
fn topics_test_backtests_the_archive() {
    let scratch = crate::harness::db::Scratch::new();
    let db = scratch.db.clone();
    // An empty but migrated store: `feeds list` creates it.
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .arg("--config")
            .arg(shipped_config())
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, _, err) = run(&["topics", "test", "no-such-topic"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no topic"), "{err}");
    let (code, _, err) = run(&["topics", "test", "arms-deals", "--since", "soon"]);
    assert_eq!(code, 2, "{err}");
    // A real store with three articles: two recent (one about a launch), one old launch story.
    {
        drop(newswatch::store::Store::open(&db).unwrap());
        let mut conn = crate::harness::db::Conn::open(&db);
        let now = chrono::Utc::now().timestamp_millis();
        let old = now - 90 * 86_400_000;
        let mut insert = |id: i64, title: &str, text: &str, at: i64| {
            conn.execute(
                "INSERT INTO articles (id, identity, link, title, text, lang, fetched_at, content_hash, simhash,
                 band0, band1, band2, band3) VALUES (?1, ?2, ?3, ?4, ?5, 'en', ?6, ?2, 0, 0, 0, 0, 0)",
                &[&id, &format!("h:{id}"), &format!("https://example.com/{id}"), &title, &text, &at],
            );
        };
        insert(
            1,
            "North Korea fires ballistic missile",
            "Pyongyang launched a missile into the sea.",
            now,
        );
        insert(2, "Markets calm", "Nothing happened today.", now);
        insert(3, "Iran test-fires cruise missile", "An old story.", old);
    }
    let (code, out, err) = run(&[
        "topics",
        "test",
        "missile-launches",
        "--since",
        "30d",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let hits = v.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{out}");
    assert_eq!(hits[0]["id"], 1);
    assert!(hits[0]["snippet"].as_str().unwrap().contains("[["), "{out}");
    let (code, out, err) = run(&["topics", "test", "missile-launches", "--since", "365d"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Iran test-fires") && out.contains("North Korea"),
        "{out}"
    );
    assert!(err.contains("2 of 3 articles"), "{err}");
}
