#!/usr/bin/env python3
"""Ingest of the eval feed files into PostgreSQL against SQLite, same binary, same run.

usage: benches/pg-ingest.py [--bin PATH] [--config PATH] [--dir DIR] [--pg URL] [--repeat N]

Each round ingests every feed file under DIR (`newswatch ingest --format jsonl FILE...`) once into a
fresh SQLite file and once into a fresh PostgreSQL database (created and dropped with psql on the
server of --pg, default $NEWSWATCH_TEST_PG), alternating which goes first. Prints each run, the
medians and the ratio PostgreSQL / SQLite. Nothing here but the binary and psql.
"""
import argparse, os, statistics, subprocess, sys, tempfile, time
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def feed_files(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith((".xml", ".rss", ".atom", ".ashx")):
                out.append(os.path.join(d, n))
    return sorted(out)


def with_db(url, name):
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def psql(url, sql):
    subprocess.run(["psql", "-q", "-d", url, "-c", sql], check=True, capture_output=True)


def ingest(a, files, db):
    t = time.perf_counter()
    p = subprocess.run([a.bin, "--config", a.config, "--db", db, "ingest", "--format", "jsonl", *files],
                       capture_output=True, text=True)
    dt = time.perf_counter() - t
    items = sum(1 for l in p.stdout.splitlines() if l.strip())
    return dt, items, p.returncode


def run_sqlite(a, files):
    with tempfile.TemporaryDirectory() as tmp:
        return ingest(a, files, os.path.join(tmp, "bench.db"))


def run_pg(a, files, n):
    name = f"nw_bench_{os.getpid()}_{n}"
    psql(a.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(a.pg, f"CREATE DATABASE {name}")
    try:
        return ingest(a, files, with_db(a.pg, name))
    finally:
        psql(a.pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/newswatch"))
    ap.add_argument("--config", default=os.path.join(ROOT, "config.toml"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "../shared/eval/feeds"))
    ap.add_argument("--pg", default=os.environ.get("NEWSWATCH_TEST_PG", "postgres://postgres@127.0.0.1/postgres"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    files = feed_files(a.dir)
    print(f"{len(files)} feed files, {a.repeat} rounds, binary {a.bin}")
    times = {"sqlite": [], "postgres": []}
    for n in range(a.repeat):
        order = ["sqlite", "postgres"] if n % 2 == 0 else ["postgres", "sqlite"]
        for side in order:
            dt, items, rc = run_sqlite(a, files) if side == "sqlite" else run_pg(a, files, n)
            print(f"round {n + 1} {side:8} {dt:7.2f} s  {items} lines  exit {rc}", flush=True)
            times[side].append(dt)
    s, p = statistics.median(times["sqlite"]), statistics.median(times["postgres"])
    print(f"median: sqlite {s:.2f} s, postgres {p:.2f} s, postgres/sqlite {p / s:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
