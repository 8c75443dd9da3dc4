//! Crashes and schema versions: kill -9 in the middle of a large ingest loses nothing committed and
//! stores nothing twice; migrations are idempotent; a newer database is refused.

use crate::harness::*;

/// Distinct prose per (feed, item), so no two items are near-duplicates of each other.
fn words(seed: u64, n: usize) -> String {
    const W: &[&str] = &[
        "harbour",
        "minister",
        "council",
        "river",
        "budget",
        "school",
        "railway",
        "festival",
        "court",
        "election",
        "storm",
        "museum",
        "factory",
        "bridge",
        "hospital",
        "farmers",
        "airport",
        "library",
        "market",
        "police",
        "orchestra",
        "league",
        "vaccine",
        "tunnel",
        "energy",
        "forest",
        "union",
        "mayor",
        "garden",
        "harvest",
    ];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            W[(x % W.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn big_feed(n: usize, items: usize) -> String {
    let items: Vec<(String, String, String)> = (0..items)
        .map(|i| {
            (
                format!("f{n}-i{i}"),
                format!("Item {i} of feed {n}"),
                format!("<p>{}</p>", words((n * 1000 + i) as u64 + 1, 60)),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    rss(&format!("Feed {n}"), &refs)
}

#[test]
fn kill_9_mid_ingest_then_restart_stores_everything_once() {
    let env = Env::new(&config_with(&[], ""));
    let files: Vec<String> = (0..200)
        .map(|n| {
            let p = env.path(&format!("feed{n}.xml"));
            std::fs::write(&p, big_feed(n, 30)).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec!["ingest".to_string()];
    args.extend(files.iter().cloned());
    let ingest_jsonl = || {
        env.cmd()
            .args(&args)
            .args(["--format", "jsonl"])
            .output()
            .unwrap()
    };
    let mut child = env.cmd().args(&args).spawn().unwrap();
    // Wait until some but not all files are committed, then kill -9.
    let started = wait_for(
        || {
            crate::harness::db::try_count(&env.db, "SELECT count(*) FROM articles").unwrap_or(0)
                > 300
        },
        60,
    );
    signal(&child, SIGKILL);
    let _ = child.wait();
    assert!(started, "ingest did not start committing");
    let committed = env.count("SELECT count(*) FROM articles");
    assert!(
        committed < 6_000,
        "the kill came too late to test anything ({committed})"
    );
    // Every committed fetch is whole: articles come in complete files of 30.
    assert_eq!(committed % 30, 0, "a half-committed file: {committed}");
    assert_eq!(env.count("SELECT count(*) FROM fetch_log") * 30, committed);

    // Restart: ingest everything again.
    let o = ingest_jsonl();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.count("SELECT count(*) FROM articles"), 6_000);
    assert_eq!(
        env.count("SELECT count(DISTINCT guid) FROM articles"),
        6_000
    );
    let statuses: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let unchanged = statuses
        .iter()
        .filter(|v| v["status"] == "unchanged")
        .count() as i64;
    assert_eq!(
        unchanged, committed,
        "what was committed before the kill is recognised"
    );

    // And once more: nothing new.
    let o = ingest_jsonl();
    assert!(
        stdout(&o)
            .lines()
            .all(|l| l.contains("\"status\":\"unchanged\""))
    );
    assert_eq!(env.count("SELECT count(*) FROM articles"), 6_000);
    if !crate::harness::db::on_postgres() {
        let ok: String = env.conn().one("PRAGMA integrity_check", &[]);
        assert_eq!(ok, "ok");
    }
}

#[test]
fn migrations_are_idempotent_and_a_newer_database_is_refused() {
    crate::sqlite_only!(
        "user_version, sqlite_master and WAL are SQLite's; postgres.rs tests PostgreSQL's migrations"
    );
    let env = Env::new(&config_with(&[], ""));
    // A read-only command neither creates nor migrates a database.
    let o = env.run(&["feeds", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no database"), "{}", stderr(&o));
    assert!(!env.db.exists());
    assert!(env.run(&["poll", "--once"]).status.success());
    let v1: i64 = env.conn().one("PRAGMA user_version", &[]);
    assert_eq!(v1, newswatch::store::SCHEMA_VERSION);
    let tables = env.count("SELECT count(*) FROM sqlite_master");
    assert!(env.run(&["feeds", "list"]).status.success());
    assert_eq!(env.count("SELECT count(*) FROM sqlite_master"), tables);
    // In-process, twice.
    drop(newswatch::store::Store::open(&env.db).unwrap());
    drop(newswatch::store::Store::open(&env.db).unwrap());
    assert_eq!(env.count("SELECT count(*) FROM sqlite_master"), tables);
    let mut c = env.conn();
    let mode: String = c.one("PRAGMA journal_mode", &[]);
    assert_eq!(mode, "wal");
    // A database from the future.
    c.execute(&format!("PRAGMA user_version = {}", v1 + 1), &[]);
    drop(c);
    let o = env.run(&["feeds", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("newer than this newswatch"), "{e}");
    let o = env.run(&["search", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("newer than this newswatch"));
}

#[test]
fn ingest_reports_each_item_and_a_bad_file_does_not_stop_the_rest() {
    let env = Env::new(&config_with(&[], ""));
    let good = env.path("good.xml");
    std::fs::write(&good, big_feed(1, 3)).unwrap();
    let bad = env.path("bad.xml");
    std::fs::write(&bad, "<rss><channel><item><title>x</ti").unwrap();
    let missing = env.path("missing.xml");
    let o = env.run(&[
        "ingest",
        "--format",
        "jsonl",
        bad.to_str().unwrap(),
        missing.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0]["error"].as_str().unwrap().contains("malformed"));
    assert!(lines[1]["error"].as_str().unwrap().contains("cannot read"));
    for l in &lines[2..] {
        assert_eq!(l["status"], "new");
        assert!(l["id"].as_i64().unwrap() > 0);
        assert!(l["duplicate_of"].is_null());
        assert!(l["topics"].is_array());
    }
}
