//! The store on both backends. Each scenario runs on a SQLite file and, when
//! `NEWSWATCH_TEST_PG` names a PostgreSQL server (e.g. `postgres://postgres@127.0.0.1/postgres`),
//! on a database of its own that the test creates and drops. Without the variable the PostgreSQL
//! half prints that it was skipped. Then what only several daemons on one database need: leases
//! on feeds and alerts, copies of one story committed at once by two stores, migrations started
//! together.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use crate::harness::db::PgDb;
use crate::harness::{Env, Server, config_with, rss, stderr, stdout};
use newswatch::config::Config;
use newswatch::model::Article;
use newswatch::pipeline::Pipeline;
use newswatch::store::feeds_log::FetchLog;
use newswatch::store::{FeedState, FetchCommit, MatchPolicy, Store};

/// A database of its own on the server named by `NEWSWATCH_TEST_PG`, dropped at the end; `None`
/// (with the skip printed) when no server is named.
pub(crate) fn pg_db(test: &str) -> Option<PgDb> {
    let Some(admin) = crate::harness::db::pg_admin() else {
        // Past the test harness's capture, so a plain `cargo test` shows it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL tests skipped ({test}): NEWSWATCH_TEST_PG is not set"
        );
        return None;
    };
    Some(PgDb::create(&admin))
}

/// An env whose `--db` is the given database (a SQLite file in the env, or a PostgreSQL URL).
fn env_on(config: &str, db: Option<&PgDb>) -> Env {
    let mut env = Env::new(config);
    if let Some(pg) = db {
        env.db = PathBuf::from(&pg.url);
    }
    env
}

fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const STORY: &str = "The harbour authority of Valmora confirmed on Tuesday that the old lighthouse \
    on the northern pier will be restored over the coming summer, after engineers found the stone \
    tower sound and the lantern room repairable. Work begins in May and the pier stays open to \
    walkers, the authority said, while boats keep to the southern channel during the works.";

/// Ingest: new, exact copy, near copy, update, unchanged; then the read-only commands.
fn ingest_and_read(db: Option<&PgDb>) {
    let env = env_on(
        &config_with(
            &[],
            "[[topic]]\nid = \"lighthouse\"\nquery = \"lighthouse\"\n",
        ),
        db,
    );
    let a = env.path("a.xml");
    std::fs::write(&a, rss("A", &[("a1", "Lighthouse to be restored", STORY)])).unwrap();
    let b = env.path("b.xml");
    std::fs::write(
        &b,
        rss(
            "B",
            &[
                ("b1", "Lighthouse to be restored", STORY),
                ("b2", "Valmora lighthouse restoration", STORY),
            ],
        ),
    )
    .unwrap();
    let o = env.run(&["ingest", "--format", "jsonl", a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(jsonl(&stdout(&o))[0]["status"], "new");
    let o = env.run(&["ingest", "--format", "jsonl", b.to_str().unwrap()]);
    let out = jsonl(&stdout(&o));
    assert_eq!(out[0]["status"], "duplicate", "{out:?}");
    assert_eq!(out[1]["status"], "near_duplicate", "{out:?}");
    // The same file again: nothing new; an edited item is updated in place.
    let o = env.run(&["ingest", "--format", "jsonl", a.to_str().unwrap()]);
    assert_eq!(jsonl(&stdout(&o))[0]["status"], "unchanged");
    std::fs::write(
        &a,
        rss(
            "A",
            &[(
                "a1",
                "Lighthouse to be restored",
                &format!("{STORY} Update: the works start in June."),
            )],
        ),
    )
    .unwrap();
    let o = env.run(&["ingest", "--format", "jsonl", a.to_str().unwrap()]);
    assert_eq!(jsonl(&stdout(&o))[0]["status"], "updated");

    // Read-only commands.
    let o = env.run(&["feeds", "list", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let feeds: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(feeds.as_array().unwrap().len(), 2);
    let o = env.run(&["search", "lantern", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hits: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["sources"], 2, "{hits}");
    assert!(
        hits[0]["highlight"]
            .as_str()
            .unwrap()
            .contains("[[lantern]]"),
        "{hits}"
    );
    assert_eq!(hits[0]["topics"][0], "lighthouse");
    let o = env.run(&[
        "report",
        "--since",
        "2005-01-01",
        "--by",
        "topic",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["totals"]["matches"], 1, "{r}");
    assert_eq!(r["top"][0]["stories"][0]["sources"], 2, "{r}");
    let o = env.run(&["alerts", "list", "--format", "json"]);
    let alerts: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        alerts.as_array().unwrap().len() <= 1,
        "at most one alert for one story: {alerts}"
    );
}

#[test]
fn ingest_dedup_search_report_sqlite() {
    ingest_and_read(None);
}

#[test]
fn ingest_dedup_search_report_postgres() {
    if let Some(pg) = pg_db("ingest") {
        ingest_and_read(Some(&pg));
    }
}

/// Polling over HTTP: a second poll finds nothing new; `feeds status` and the HTTP API read it.
fn poll_twice(db: Option<&PgDb>) {
    let xml = rss("F", &[("p1", "Lighthouse news", STORY)]);
    let app = axum::Router::new().route(
        "/f.xml",
        axum::routing::get(move || {
            let x = xml.clone();
            async move { x }
        }),
    );
    let server = Server::start(app);
    let env = env_on(&config_with(&[server.url("/f.xml")], ""), db);
    for want in ["1", "0"] {
        let o = env.run(&["poll", "--once", "--format", "jsonl"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r = jsonl(&stdout(&o));
        assert_eq!(r[0]["new"].to_string(), want, "{r:?}");
    }
    let o = env.run(&["feeds", "status", "--format", "json"]);
    let st: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(st[0]["articles"], 1, "{st}");
    assert_eq!(st[0]["error_count"], 0, "{st}");
}

#[test]
fn poll_sqlite() {
    poll_twice(None);
}

#[test]
fn poll_postgres() {
    if let Some(pg) = pg_db("poll") {
        poll_twice(Some(&pg));
        assert_eq!(pg.count("SELECT count(*) FROM fetch_log"), 2);
        assert_eq!(
            pg.count("SELECT count(*) FROM feeds WHERE lease_until IS NOT NULL"),
            0
        );
    }
}

#[test]
fn migrations_started_together_apply_once_and_readers_never_migrate() {
    let Some(pg) = pg_db("migrate") else {
        return;
    };
    let db = PathBuf::from(&pg.url);
    // A reader on an empty database is refused, and creates nothing.
    let e = newswatch::store::Reader::open(&db)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no newswatch schema"), "{e}");
    assert_eq!(
        pg.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );
    let go = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (db, go) = (db.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                Store::open(&db).map(|_| ()).map_err(|e| format!("{e:#}"))
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(
        pg.count("SELECT count(*) FROM newswatch_migrations"),
        newswatch::store::PG_MIGRATIONS.len() as i64
    );
    assert!(newswatch::store::Reader::open(&db).is_ok());
    // A database from the future is refused by both sides.
    pg.client()
        .execute(
            "INSERT INTO newswatch_migrations VALUES (9999, 'future', 0)",
            &[],
        )
        .unwrap();
    assert!(format!("{:#}", Store::open(&db).err().unwrap()).contains("newer"));
    assert!(format!("{:#}", newswatch::store::Reader::open(&db).err().unwrap()).contains("newer"));
}

#[test]
fn due_feeds_are_leased_to_one_store_until_the_lease_expires() {
    let Some(pg) = pg_db("lease") else { return };
    let db = PathBuf::from(&pg.url);
    let mut a = Store::open(&db).unwrap();
    let mut b = Store::open(&db).unwrap();
    let urls: Vec<String> = (0..50)
        .map(|i| format!("http://127.0.0.1:9/{i}.xml"))
        .collect();
    for u in &urls {
        a.ensure_feed(u).unwrap();
    }
    let now = newswatch::util::now_ms();
    let got_a = a.due_feeds(now, 100).unwrap();
    let got_b = b.due_feeds(now, 100).unwrap();
    assert_eq!(got_a.len(), 50);
    assert!(got_b.is_empty(), "a leased feed is not handed out twice");
    // A fetch recorded releases its feed; a daemon that died loses its leases when they expire.
    let f = &got_a[0];
    a.record_fetch(
        f.id,
        &FeedState {
            next_poll_at: now,
            error: Some("refused".into()),
            ..Default::default()
        },
        &FetchLog {
            url: f.url.clone(),
            at: now,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(b.due_feeds(now, 100).unwrap().len(), 1);
    drop(a);
    let later = now + newswatch::store::LEASE_MS + 1;
    // Every lease has expired by then (b's own one too): all 50 are taken over.
    assert_eq!(b.due_feeds(later, 100).unwrap().len(), 50);
}

fn article(feed: &str, n: usize, title: &str, text: &str) -> Article {
    let cfg = Arc::new(Config::parse("").unwrap());
    let p = Pipeline::new(cfg).unwrap();
    let xml = rss(feed, &[(&format!("{feed}-{n}"), title, text)]);
    p.prepare(xml.as_bytes(), &format!("file:///{feed}.xml"), None)
        .unwrap()
        .articles
        .remove(0)
}

fn commit(store: &mut Store, feed_id: i64, articles: Vec<Article>) {
    crate::harness::fill::commit_unmatched(store, feed_id, articles);
}

#[test]
fn two_stores_committing_copies_of_one_story_at_once_store_it_once() {
    let Some(pg) = pg_db("race") else { return };
    let db = PathBuf::from(&pg.url);
    let mut setup = Store::open(&db).unwrap();
    let feeds = setup
        .ensure_ingest_feeds(&["file:///x.xml".into(), "file:///y.xml".into()])
        .unwrap();
    let rounds = 40;
    // Round i: both feeds carry story i at once; in odd rounds under another title (a near copy).
    let stories: Vec<String> = (0..rounds)
        .map(|i: usize| {
            (0..80)
                .map(|k: usize| format!("w{}", (i * 1009 + k * 7919) % 100_003))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let go = Arc::new(Barrier::new(2));
    let threads: Vec<_> = [("x", feeds[0]), ("y", feeds[1])]
        .into_iter()
        .map(|(name, feed_id)| {
            let (db, go, stories) = (db.clone(), go.clone(), stories.clone());
            std::thread::spawn(move || {
                let mut s = Store::open(&db).unwrap();
                for (i, text) in stories.iter().enumerate() {
                    let title = if name == "y" && i % 2 == 1 {
                        format!("Another headline for story {i}")
                    } else {
                        format!("Story {i}")
                    };
                    let a = article(name, i, &title, text);
                    go.wait();
                    commit(&mut s, feed_id, vec![a]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(pg.count("SELECT count(*) FROM articles"), rounds as i64);
    assert_eq!(pg.count("SELECT count(*) FROM sightings"), rounds as i64);
    assert_eq!(
        pg.count("SELECT count(*) FROM articles WHERE sources = 2"),
        rounds as i64
    );
}

#[test]
fn due_alerts_are_leased_to_one_dispatcher() {
    let Some(pg) = pg_db("alerts") else {
        return;
    };
    let db = PathBuf::from(&pg.url);
    let mut a = Store::open(&db).unwrap();
    let feed = a.ensure_ingest_feeds(&["file:///z.xml".into()]).unwrap()[0];
    let matcher = |_: &Article| {
        vec![newswatch::topics::TopicMatch {
            topic: "t".into(),
            terms: vec!["x".into()],
            snippet: "x".into(),
        }]
    };
    let sinks = |_: &str| vec!["log".to_string()];
    let policy = MatchPolicy {
        matcher: &matcher,
        sinks_for: &sinks,
        window_ms: 86_400_000,
        full_text: false,
    };
    let articles = (0..10)
        .map(|i| {
            article(
                "z",
                i,
                &format!("Story {i}"),
                // Ten different stories (no two share a word), so each alerts on its own.
                &(0..40)
                    .map(|k| format!("w{i}x{k}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect();
    a.commit_fetch(
        FetchCommit {
            feed_id: feed,
            articles,
            state: FeedState::default(),
            log: FetchLog::default(),
        },
        &policy,
    )
    .unwrap();
    let mut b = Store::open(&db).unwrap();
    let now = newswatch::util::now_ms() + 1;
    let sinks = vec!["log".to_string()];
    let got_a = a.due_alerts(now, &sinks, 6).unwrap();
    let got_b = b.due_alerts(now, &sinks, 100).unwrap();
    assert_eq!(got_a.len(), 6);
    assert_eq!(got_b.len(), 4, "the rest, none twice");
    assert!(got_a.iter().all(|x| got_b.iter().all(|y| y.uid != x.uid)));
    // Each dispatcher gets its own leased rows back (one it could not start yet is not stuck for
    // the lease's length), never the other's.
    let uids = |v: &[newswatch::store::DueRow]| {
        let mut u: Vec<String> = v.iter().map(|r| r.uid.clone()).collect();
        u.sort();
        u
    };
    assert_eq!(uids(&b.due_alerts(now, &sinks, 100).unwrap()), uids(&got_b));
    assert_eq!(uids(&a.due_alerts(now, &sinks, 100).unwrap()), uids(&got_a));
    let later = now + newswatch::store::LEASE_MS + 1;
    assert_eq!(
        b.due_alerts(later, &sinks, 100).unwrap().len(),
        10,
        "expired leases are taken over"
    );
}

#[test]
fn sigterm_hands_the_leases_to_the_other_daemon() {
    let Some(pg) = pg_db("sigterm") else { return };
    // Feeds that never answer: the daemon holds their leases until it stops.
    let app = axum::Router::new().route(
        "/hang/{i}",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            "never"
        }),
    );
    let server = Server::start(app);
    let feeds: Vec<String> = (0..5).map(|i| server.url(&format!("/hang/{i}"))).collect();
    let mut config = config_with(&feeds, "");
    config = config.replace("timeout = \"3s\"", "timeout = \"60s\"");
    config = config.replace("read_timeout = \"2s\"", "read_timeout = \"60s\"");
    let env = env_on(&config, Some(&pg));
    let mut child = env.cmd().arg("run").spawn().unwrap();
    let leased = crate::harness::wait_for(
        || {
            crate::harness::db::try_count(
                &env.db,
                "SELECT count(*) FROM feeds WHERE lease_until IS NOT NULL",
            ) == Some(5)
        },
        30,
    );
    let now = newswatch::util::now_ms();
    let mut other = Store::open(&env.db).unwrap();
    let before = other.due_feeds(now, 100).unwrap().len();
    crate::harness::signal(&child, crate::harness::SIGTERM);
    let status = child.wait().unwrap();
    assert!(leased, "the daemon took the five feeds");
    assert_eq!(before, 0, "leased feeds are not handed out twice");
    assert!(status.success(), "{status:?}");
    // At the same moment, before any lease could have expired, the other daemon gets them all.
    assert_eq!(other.due_feeds(now, 100).unwrap().len(), 5);
}

/// A story of 80 words; `edit` of its last words changed (a near copy of it).
fn story(i: usize, edit: usize) -> String {
    let word = |k: usize| match k >= 80 - edit {
        true => format!("e{i}x{k}"),
        false => format!("w{}", (i * 1009 + k * 7919) % 100_003),
    };
    (0..80).map(word).collect::<Vec<_>>().join(" ")
}

/// An item of `feed` with its own guid and link.
fn item_at(feed: &str, guid: &str, link: &str, title: &str, text: &str) -> Article {
    let cfg = Arc::new(Config::parse("").unwrap());
    let p = Pipeline::new(cfg).unwrap();
    let xml = rss(feed, &[(guid, title, text)]).replace(
        &format!("<link>https://example.org/{guid}</link>"),
        &format!("<link>https://example.org/{link}</link>"),
    );
    let url = format!("file:///{feed}.xml");
    p.prepare(xml.as_bytes(), &url, None)
        .unwrap()
        .articles
        .remove(0)
}

/// Two batches of fetches, each committed in one transaction, whose items decide on what the
/// items before them in the same transaction wrote: an item twice in one fetch, exact copies by
/// content and by link, near copies of articles stored a moment before, an article updated and
/// then copied (its old text and its new), a sighting seen again; with matches and alerts. What
/// the store decides and keeps (outcomes, sources, sightings, matches, alerts) is the same on
/// both backends.
fn batches_on(db: &std::path::Path) -> (Vec<String>, Vec<String>) {
    use crate::harness::fill::{fetch, policy, test_matcher};
    let mut store = Store::open(db).unwrap();
    let feeds = store
        .ensure_ingest_feeds(&[
            "file:///a.xml".into(),
            "file:///b.xml".into(),
            "file:///c.xml".into(),
        ])
        .unwrap();
    let missile = |i| format!("{} missile", story(i, 0));
    let i =
        |feed: &str, guid: &str, title: &str, text: &str| item_at(feed, guid, guid, title, text);
    let rounds = [
        vec![
            vec![
                i("a", "a1", "Story 1", &story(1, 0)),
                i("a", "a1", "Story 1", &story(1, 0)),
                i("a", "a2", "Story 2", &missile(2)),
                i("a", "a3", "Story 1 again", &story(1, 3)),
                i("a", "a4", "Story 2", &missile(2)),
            ],
            vec![
                i("b", "b1", "Story 1", &story(1, 0)),
                i("b", "b2", "Story 2 elsewhere", &story(2, 4)),
                i("b", "b3", "Story 4", &story(4, 0)),
                i("b", "b4", "Story 4 twice", &story(4, 2)),
            ],
            vec![
                i("c", "c1", "Story 1 once more", &story(1, 5)),
                i("c", "c2", "Story 4", &story(4, 0)),
                item_at("c", "c3", "a2", "Story 5 under a known link", &story(5, 0)),
            ],
        ],
        vec![
            vec![
                i(
                    "a",
                    "a1",
                    "Story 1",
                    &format!("{} and updated", story(1, 0)),
                ),
                i("a", "a5", "Story 1 late", &story(1, 2)),
                i("a", "a2", "Story 2", &missile(2)),
            ],
            vec![
                i("b", "b9", "Story 1", &story(1, 0)),
                i("b", "b1", "Story 1", &story(1, 0)),
                i(
                    "b",
                    "b10",
                    "Story 1",
                    &format!("{} and updated", story(1, 0)),
                ),
            ],
            vec![
                i("c", "c9", "Missile story", &missile(9)),
                i("c", "c10", "Missile story", &missile(9)),
                i(
                    "c",
                    "c11",
                    "Missile story again",
                    &format!("{} again", missile(9)),
                ),
            ],
        ],
    ];
    let sinks = |_: &str| vec!["webhook".to_string(), "log".to_string()];
    let policy = policy(&test_matcher, &sinks, false);
    // Ids as the order in which an outcome first names them: the backends number alike or not.
    let mut ids: Vec<i64> = Vec::new();
    let mut name = |id: i64| match ids.iter().position(|&i| i == id) {
        Some(n) => n,
        None => {
            ids.push(id);
            ids.len() - 1
        }
    };
    let mut outcomes = Vec::new();
    for round in rounds {
        let batch: Vec<FetchCommit> = round
            .into_iter()
            .zip(&feeds)
            .map(|(articles, &feed_id)| fetch(feed_id, articles))
            .collect();
        for out in store.commit_batch(&batch, &policy).unwrap() {
            outcomes.push(format!(
                "new {} updated {} duplicates {} alerts {}",
                out.new, out.updated, out.duplicates, out.alerts
            ));
            for it in out.items {
                let dup = it.duplicate_of.map(&mut name);
                outcomes.push(format!(
                    "{:?} {} {:?} {:?} {:?}",
                    it.status,
                    name(it.id),
                    dup,
                    it.guid,
                    it.topics
                ));
            }
        }
    }
    drop(store);
    let mut conn = crate::harness::db::Conn::open(db);
    let mut rows: Vec<String> = conn.column(
        "SELECT a.identity || ' sources ' || a.sources || ' hash ' || a.content_hash FROM articles a",
        &[],
    );
    rows.extend(conn.column::<String>(
        "SELECT a.identity || ' sighted as ' || s.item || ' ' || s.kind || ' ' || coalesce(s.link, '-')
         FROM sightings s JOIN articles a ON a.id = s.article_id",
        &[],
    ));
    rows.extend(conn.column::<String>(
        "SELECT a.identity || ' matches ' || m.topic || ' ' || m.terms || ' alert ' || al.sink || ' ' || al.uid
         FROM matches m JOIN articles a ON a.id = m.article_id JOIN alerts al ON al.match_id = m.id",
        &[],
    ));
    rows.sort();
    (outcomes, rows)
}

#[test]
fn a_batch_decides_on_what_its_own_items_wrote_as_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (outcomes, rows) = batches_on(&dir.path().join("batch.db"));
    // The decisions themselves (on SQLite, the reference).
    let status: Vec<&str> = outcomes
        .iter()
        .filter(|l| !l.starts_with("new"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        status,
        [
            "New",
            "Unchanged",
            "New",
            "NearDuplicate",
            "Duplicate", // a
            "Duplicate",
            "NearDuplicate",
            "New",
            "NearDuplicate", // b
            "NearDuplicate",
            "Duplicate",
            "Duplicate", // c
            "Updated",
            "NearDuplicate",
            "Unchanged", // a again
            "NearDuplicate",
            "Unchanged",
            "Duplicate", // b again
            "New",
            "Duplicate",
            "NearDuplicate", // c again
        ],
        "{outcomes:#?}"
    );
    let Some(pg) = pg_db("batch") else { return };
    let (pg_outcomes, pg_rows) = batches_on(&PathBuf::from(&pg.url));
    assert_eq!(pg_outcomes, outcomes);
    assert_eq!(pg_rows, rows);
}
