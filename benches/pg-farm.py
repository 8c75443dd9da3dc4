#!/usr/bin/env python3
"""Several `newswatch run` daemons on one PostgreSQL database against the loopback feed farm.

usage: benches/pg-farm.py BIN FEEDFARM_PY [--pg URL] [--feeds 3000] [--daemons 3] [--kills 0]
                          [--seconds 120] [--every 5] [--config config.toml] [--dedup-window 1s]
                          [--catchup-seconds S]

--kills 0: the daemons run until every feed has been polled once (or --seconds pass); prints the
first cycle's time (first fetch to the last feed's first fetch), how many feeds were polled twice
within that cycle, and fetch-log rows per feed. Run with --daemons 1 and 3 for the comparison.
--kills K: K times, one of the daemons (at random) is killed with SIGKILL at a random moment and
restarted; then one `poll --once`, timed (the catch-up: feeds and items it committed, feeds per
second); prints whether every item the farm published is stored once (an article or a sighting of
one), and alert uids and matches stored twice (as kill9.py).
The database is created on the server of --pg (default $NEWSWATCH_TEST_PG) and dropped after.
"""
import argparse, json, os, random, re, signal, socket, subprocess, sys, tempfile, time, urllib.request
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def psql(url, sql):
    r = subprocess.run(["psql", "-At", "-F", "\t", "-d", url, "-c", sql], check=True, capture_output=True, text=True)
    return [l.split("\t") for l in r.stdout.splitlines() if l]


def config(path, interval, least, dedup_window=None):
    txt = (open(path).read()
           .replace('default_interval = "30m"', f'default_interval = "{interval}"')
           .replace('min_interval = "5m"', f'min_interval = "{least}"')
           .replace('max_interval = "6h"', 'max_interval = "20m"')
           .replace("per_host_concurrency = 2", "per_host_concurrency = 64")
           .replace("concurrency = 16", "concurrency = 64")
           .replace("enabled = true", "enabled = false")
           # A topic's model file is named relative to the shipped config, not the temp dir.
           .replace('model = "', f'model = "{ROOT}/'))
    if dedup_window:
        # The farm's texts are rotations of one word cycle: with the default window every item is a
        # near-duplicate of the first article. A short window leaves the exact copies only, so
        # there are articles, matches and alerts to count.
        txt += f'\n[dedup]\nwindow = "{dedup_window}"\n'
    return re.sub(r'\[\[feed\]\]\nurl = "https://[^"]*"\nname = "[^"]*"\n', "", txt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin"); ap.add_argument("farm")
    ap.add_argument("--pg", default=os.environ.get("NEWSWATCH_TEST_PG", "postgres://postgres@127.0.0.1/postgres"))
    ap.add_argument("--config", default=os.path.join(ROOT, "config.toml"))
    ap.add_argument("--feeds", type=int, default=3000); ap.add_argument("--daemons", type=int, default=3)
    ap.add_argument("--kills", type=int, default=0); ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--every", type=float, default=5.0); ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dedup-window", help='[dedup] window for the daemons, e.g. "1s"')
    ap.add_argument("--catchup-seconds", type=float,
                    help="stop the closing poll --once after this long (its rate is still printed)")
    a = ap.parse_args()
    random.seed(a.seed)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    budget = int(a.seconds + a.kills * 6 + 900)
    farm = subprocess.Popen(["timeout", str(budget), sys.executable, a.farm, str(port), "--feeds", str(a.feeds),
                             "--items", "400" if a.kills else "20", "--every", str(a.every)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    name = f"nw_farm_{os.getpid()}"
    u = urlsplit(a.pg)
    db = urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))
    work = tempfile.mkdtemp()
    procs = []
    try:
        for _ in range(100):
            try: urllib.request.urlopen(f"http://127.0.0.1:{port}/truth.json", timeout=1); break
            except Exception: time.sleep(0.1)
        psql(a.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"); psql(a.pg, f"CREATE DATABASE {name}")
        opml = os.path.join(work, "farm.opml")
        urllib.request.urlretrieve(f"http://127.0.0.1:{port}/opml.xml", opml)
        cfg = os.path.join(work, "config.toml")
        # Counting cycles: one poll per feed per 10 minutes. Killing: polls every few seconds.
        open(cfg, "w").write(config(a.config, "10s", "5s", a.dedup_window) if a.kills
                             else config(a.config, "10m", "10m", a.dedup_window))
        nw = [a.bin, "--config", cfg, "--db", db]
        r = subprocess.run(nw + ["feeds", "import", opml], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-500:]
        log = open(os.path.join(work, "run.log"), "w")
        start = lambda: subprocess.Popen(nw + ["run"], stdout=log, stderr=log)
        t0 = time.time()
        procs = [start() for _ in range(a.daemons)]
        if a.kills == 0:
            while time.time() - t0 < a.seconds:
                time.sleep(1)
                if int(psql(db, "SELECT count(DISTINCT feed_id) FROM fetch_log")[0][0]) >= a.feeds: break
            wall = time.time() - t0
            first, last, polled = psql(db, "SELECT min(f), max(f), count(*) FROM (SELECT feed_id, min(at) AS f FROM fetch_log GROUP BY feed_id) t")[0]
            cycle_end = int(last)
            twice = psql(db, f"SELECT count(*) FROM (SELECT feed_id FROM fetch_log WHERE at <= {cycle_end} GROUP BY feed_id HAVING count(*) > 1) t")[0][0]
            overlap = psql(db, "SELECT count(*) FROM fetch_log x JOIN fetch_log y ON x.feed_id = y.feed_id AND x.id < y.id "
                               "AND x.at < y.at + y.duration_ms AND y.at < x.at + x.duration_ms")[0][0]
            # Items stored in the cycle (a feed's item count grows with time: --every).
            items = psql(db, f"SELECT coalesce(sum(new_items + updated_items + duplicates), 0) FROM fetch_log WHERE at <= {cycle_end}")[0][0]
            print(json.dumps({"daemons": a.daemons, "feeds": a.feeds, "polled": int(polled), "items": int(items),
                              "first_cycle_s": (int(last) - int(first)) / 1000, "wall_s": round(wall, 1),
                              "polled_twice_in_first_cycle": int(twice), "overlapping_polls": int(overlap)}))
            return
        for k in range(a.kills):
            time.sleep(random.uniform(0.3, 4.0))
            i = random.randrange(len(procs))
            procs[i].send_signal(signal.SIGKILL); procs[i].wait()
            procs[i] = start()
        for p in procs:
            p.send_signal(signal.SIGTERM); p.wait()
        procs = []
        truth = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/truth.json"))
        t1 = time.time()
        try:
            r = subprocess.run(nw + ["poll", "--once"], capture_output=True, text=True, timeout=a.catchup_seconds)
        except subprocess.TimeoutExpired:
            # Cut short: the rate stands, the stored-once counts below do not.
            r = subprocess.CompletedProcess([], "timeout")
        catchup = time.time() - t1
        feeds_caught, items_caught = psql(db, "SELECT count(*), coalesce(sum(new_items + updated_items + duplicates), 0) "
                                              f"FROM fetch_log WHERE at >= {int(t1 * 1000)}")[0]
        links = {}
        for (l,) in psql(db, "SELECT link FROM articles"):
            links[l] = links.get(l, 0) + 1
        sl = {l for (l,) in psql(db, "SELECT link FROM sightings")}
        expected = missing = both = 0
        for i, n in truth.items():
            for k in range(int(n)):
                expected += 1
                l = f"http://127.0.0.1/story/{i.lstrip('f')}/{k}"
                if l not in links and l not in sl:
                    missing += 1
                both += l in links and l in sl
        # Deliveries: the log sink writes one line per alert delivered, with its uid.
        log.close()
        delivered = {}
        for line in open(os.path.join(work, "run.log"), errors="replace"):
            m = re.search(r"alert_uid=(\S+)", line)
            if m:
                delivered[m.group(1)] = delivered.get(m.group(1), 0) + 1
        one = lambda q: int(psql(db, q)[0][0])
        print(json.dumps({"daemons": a.daemons, "kills": a.kills, "feeds": a.feeds, "expected": expected,
                          "missing": missing, "articles": sum(links.values()),
                          "dup_articles": sum(1 for c in links.values() if c > 1),
                          "article_and_sighting": both,
                          "dup_sightings": one("SELECT count(*) FROM (SELECT link, feed_id FROM sightings GROUP BY 1, 2 HAVING count(*) > 1) t"),
                          "matches": one("SELECT count(*) FROM matches"),
                          "dup_matches": one("SELECT count(*) FROM (SELECT article_id, topic FROM matches GROUP BY 1, 2 HAVING count(*) > 1) t"),
                          "alerts": one("SELECT count(*) FROM alerts"),
                          "dup_alert_uids": one("SELECT count(*) FROM (SELECT uid FROM alerts GROUP BY uid HAVING count(*) > 1) t"),
                          "deliveries": sum(delivered.values()),
                          "uids_delivered_twice": sum(1 for c in delivered.values() if c > 1),
                          "last_poll_rc": r.returncode, "catchup_s": round(catchup, 1),
                          "catchup_feeds": int(feeds_caught), "catchup_items": int(items_caught),
                          "catchup_feeds_per_s": round(int(feeds_caught) / catchup, 1)}))
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL); p.wait()
        farm.terminate()
        try: psql(a.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception: pass


if __name__ == "__main__":
    sys.exit(main())
