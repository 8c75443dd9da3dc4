//! The daemon at scale (issue 16): `newswatch poll --once` or `newswatch run` against the loopback
//! feed farm (`feedfarm.py`, Python with aiohttp), measuring peak RSS and cycle time.
//!
//! Run: `cargo bench --bench farm -- --feeds 10000 --mode run --cycles 3`. Options: `--mode
//! poll|run`, `--bin B` (another binary, e.g. one built from main, to compare alternately),
//! `--cycles C` (passes of `poll --once`, or cycles of `run`), `--timeout S`, `--concurrency`,
//! `--farm PATH` (default `NEWSWATCH_FEEDFARM`, else `../shared/tools/feedfarm.py` from the
//! project or its parent), `--every S` (a new item per feed every S seconds).
//!
//! A cycle of `run` is every feed polled once more: feeds are due again a second after their poll
//! (`[poll]` intervals of 1 s), so the daemon polls flat out and cycle k ends when the last feed's
//! k-th fetch ends (the fetch log); cycle 1 counts from the start. Peak RSS: the maximum of
//! `/proc/PID/status` VmRSS sampled every 100 ms within the cycle, and the whole process's from
//! `wait4`. Also printed: the CPU seconds of newswatch and of the farm (both share the cores), and
//! the load average, since the machine may be shared. Not run by `cargo test`.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    feeds: usize,
    #[arg(long, default_value = "run", value_parser = ["poll", "run"])]
    mode: String,
    #[arg(long)]
    bin: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    cycles: usize,
    /// Seconds before the measured command is stopped.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long)]
    farm: Option<PathBuf>,
    #[arg(long, default_value_t = 300.0)]
    every: f64,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let a = Args::parse();
    let bin = a
        .bin
        .clone()
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_newswatch").into());
    let Some(script) = farm_script(a.farm.clone()) else {
        println!("feedfarm.py not found: give --farm PATH or set NEWSWATCH_FEEDFARM");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let farm = Farm::start(&script, &a);
    let nw = Newswatch::setup(&bin, work.path(), &farm, &a);
    println!(
        "farm: {} feeds, mode {}, bin {}, load {}",
        a.feeds,
        a.mode,
        bin.display(),
        loadavg()
    );
    match a.mode.as_str() {
        "poll" => bench_poll(&nw, &a),
        _ => bench_run(&nw, &a),
    }
    println!("farm cpu {:.1} s; load {}", farm.cpu_secs(), loadavg());
}

fn farm_script(given: Option<PathBuf>) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    given
        .into_iter()
        .chain(std::env::var_os("NEWSWATCH_FEEDFARM").map(PathBuf::from))
        .chain([
            root.join("../shared/tools/feedfarm.py"),
            root.join("../../shared/tools/feedfarm.py"),
        ])
        .find(|p| p.is_file())
}

/// `feedfarm.py` on a free port, under `timeout` so that it ends even if this process dies.
struct Farm {
    child: Child,
    port: u16,
}

impl Farm {
    fn start(script: &Path, a: &Args) -> Farm {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let budget = (a.timeout * (a.cycles as u64 + 1) + 600).to_string();
        let child = Command::new("timeout")
            .args([&budget, "python3"])
            .arg(script)
            .args([port.to_string(), "--feeds".into(), a.feeds.to_string()])
            .args(["--every", &a.every.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("run timeout python3 feedfarm.py");
        let farm = Farm { child, port };
        let start = Instant::now();
        while farm.get("/truth.json").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the farm did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        farm
    }

    /// A GET on the farm (the body ends with the connection); `None` until it answers.
    fn get(&self, path: &str) -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        (head.split(' ').nth(1) == Some("200")).then(|| body.to_string())
    }

    /// CPU seconds of the Python process (the child of `timeout`).
    fn cpu_secs(&self) -> f64 {
        let pid = self.child.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok())
            .map_or(0.0, proc_cpu_secs)
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        // SIGTERM, which `timeout` passes on to the farm (a SIGKILL would leave the farm running).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The binary with its config and database in a temp dir, the farm's feeds imported.
struct Newswatch {
    bin: PathBuf,
    config: PathBuf,
    db: PathBuf,
    feeds: usize,
}

impl Newswatch {
    fn setup(bin: &Path, dir: &Path, farm: &Farm, a: &Args) -> Newswatch {
        let shipped =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(&config, bench_config(&shipped, a.concurrency)).unwrap();
        let nw = Newswatch {
            bin: bin.into(),
            config,
            db: dir.join("nw.db"),
            feeds: a.feeds,
        };
        let opml = dir.join("farm.opml");
        std::fs::write(&opml, farm.get("/opml.xml").expect("the farm's OPML")).unwrap();
        let o = nw
            .cmd()
            .arg("feeds")
            .arg("import")
            .arg(&opml)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        nw
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--config")
            .arg(&self.config)
            .arg("--db")
            .arg(&self.db);
        // Failed polls show in the cycles' error counts.
        c.env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
    }
}

/// The shipped config (its topics and the log sink) with the example feeds and the HTTP server
/// left out, `concurrency` connections to the one farm host, and feeds due a second after a poll.
fn bench_config(shipped: &str, concurrency: usize) -> String {
    let mut out = String::new();
    let mut skip = false;
    for line in shipped.lines() {
        if line.starts_with('[') {
            skip = line == "[[feed]]" || line == "[server]";
        }
        let key = line.split('=').next().unwrap_or("").trim();
        let replaced = match key {
            "concurrency" => format!("concurrency = {concurrency}"),
            "per_host_concurrency" => format!("per_host_concurrency = {concurrency}"),
            "default_interval" | "min_interval" | "max_interval" => format!("{key} = \"1s\""),
            // A topic's model file is named relative to the shipped config, not the temp dir.
            "model" => line.replacen('"', concat!("\"", env!("CARGO_MANIFEST_DIR"), "/"), 1),
            _ => line.to_string(),
        };
        if !skip {
            out.push_str(&replaced);
            out.push('\n');
        }
    }
    out
}

/// `poll --once`, `--cycles` times: wall time and peak RSS of each pass.
fn bench_poll(nw: &Newswatch, a: &Args) {
    for pass in 1..=a.cycles {
        let t = Instant::now();
        let child = nw.cmd().args(["poll", "--once"]).spawn().unwrap();
        let usage = wait_with_timeout(child, Duration::from_secs(a.timeout));
        let articles: i64 = nw
            .conn()
            .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
            .unwrap();
        println!(
            "poll pass {pass}: {:.1} s, peak RSS {:.1} MB, cpu {:.1} s, articles {articles}, load {}",
            t.elapsed().as_secs_f64(),
            usage.max_rss_mb,
            usage.cpu_secs,
            loadavg()
        );
    }
}

/// `run` until every feed has been polled `--cycles` times (or `--timeout`), then SIGTERM.
fn bench_run(nw: &Newswatch, a: &Args) {
    let t0 = now_ms();
    let child = nw.cmd().arg("run").spawn().unwrap();
    let pid = child.id();
    let samples: Arc<Mutex<Vec<(i64, u64)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, done) = (samples.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kb) = vm_rss_kb(pid) {
                    samples.lock().unwrap().push((now_ms(), kb));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    while Instant::now() < deadline && complete_feeds(nw, a.cycles) < nw.feeds {
        std::thread::sleep(Duration::from_secs(1));
    }
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let usage = wait_with_timeout(child, Duration::from_secs(60));
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let samples = samples.lock().unwrap();
    let mut prev_end = t0;
    for c in cycles(nw) {
        let peak = samples
            .iter()
            .filter(|(t, _)| (prev_end..=c.end).contains(t))
            .map(|(_, kb)| *kb)
            .max()
            .unwrap_or(0);
        println!(
            "run cycle {}: {:.1} s, peak RSS {:.1} MB, feeds {}, new {}, duplicates {}, not modified {}, errors {}",
            c.k,
            (c.end - prev_end) as f64 / 1e3,
            peak as f64 / 1024.0,
            c.feeds,
            c.new,
            c.duplicates,
            c.not_modified,
            c.errors
        );
        prev_end = c.end;
    }
    println!(
        "run: peak RSS {:.1} MB over the run, cpu {:.1} s, load {}",
        usage.max_rss_mb,
        usage.cpu_secs,
        loadavg()
    );
}

/// Feeds with at least `cycles` fetches logged.
fn complete_feeds(nw: &Newswatch, cycles: usize) -> usize {
    nw.conn()
        .query_row(
            "SELECT count(*) FROM (SELECT 1 FROM fetch_log GROUP BY feed_id HAVING count(*) >= ?1)",
            [cycles as i64],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0) as usize
}

struct Cycle {
    k: i64,
    feeds: i64,
    end: i64,
    new: i64,
    duplicates: i64,
    not_modified: i64,
    errors: i64,
}

/// The complete cycles in the fetch log: cycle k is each feed's k-th fetch.
fn cycles(nw: &Newswatch) -> Vec<Cycle> {
    let c = nw.conn();
    let mut st = c
        .prepare(
            "SELECT k, count(*), max(at + duration_ms), total(new_items), total(duplicates), total(status = 304), total(error IS NOT NULL)
             FROM (SELECT at, duration_ms, new_items, duplicates, status, error,
                          row_number() OVER (PARTITION BY feed_id ORDER BY at, id) AS k FROM fetch_log)
             GROUP BY k ORDER BY k",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Cycle {
            k: r.get(0)?,
            feeds: r.get(1)?,
            end: r.get(2)?,
            new: r.get::<_, f64>(3)? as i64,
            duplicates: r.get::<_, f64>(4)? as i64,
            not_modified: r.get::<_, f64>(5)? as i64,
            errors: r.get::<_, f64>(6)? as i64,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .take_while(|c| c.feeds as usize == nw.feeds)
    .collect()
}

struct Usage {
    max_rss_mb: f64,
    cpu_secs: f64,
}

/// Waits for the child (SIGKILL after `limit`) and returns its resource usage from `wait4`.
fn wait_with_timeout(child: Child, limit: Duration) -> Usage {
    let pid = child.id() as i32;
    let end = Instant::now() + limit;
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        if Instant::now() >= end {
            println!("pid {pid} still running after {limit:?}: killed");
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        max_rss_mb: ru.ru_maxrss as f64 / 1024.0,
        cpu_secs: secs(ru.ru_utime) + secs(ru.ru_stime),
    }
}

fn vm_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of a live process.
fn proc_cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / ticks
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
