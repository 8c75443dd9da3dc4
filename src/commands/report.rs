//! `newswatch report [--topic T] [--since 7d] [--until] [--by day|feed|topic|lang]
//! [--format table|md|csv|json|html] [--out F]`: counts over time and by group, top stories per
//! topic, and for html a self-contained page with an SVG chart. Times are in `[report] timezone`.

use crate::cli::ReportArgs;
use crate::commands::Ctx;
use crate::error::{CliError, CliResult};
use crate::report::{self, ReportParams, parse_tz};
use crate::util::{now_ms, since_ms};

/// `--until` takes the same forms as `--since` (a duration back from now, e.g. `1d`) or an
/// RFC 3339 time / a date (`2026-11-01`, midnight UTC).
fn parse_point(s: &str) -> Result<i64, String> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis());
    }
    since_ms(s).map_err(|e| format!("{e} (or give an RFC 3339 time or a date YYYY-MM-DD)"))
}

pub fn run(ctx: &Ctx, a: &ReportArgs) -> CliResult {
    let tz = parse_tz(&ctx.config.report.timezone)
        .map_err(|e| CliError::usage(format!("report.timezone: {e}")))?;
    let since = parse_point(&a.since).map_err(|e| CliError::usage(format!("--since: {e}")))?;
    let until = match &a.until {
        Some(u) => parse_point(u).map_err(|e| CliError::usage(format!("--until: {e}")))?,
        None => now_ms() + 1,
    };
    if until <= since {
        return Err(CliError::usage("--until must be later than --since"));
    }
    let conn = ctx.reader()?;
    let params = ReportParams {
        since_ms: since,
        until_ms: until,
        topic: a.topic.clone(),
        by: a.by,
        tz,
        top_n: 10,
    };
    let r = report::build(&*conn, &params)?;
    let text = report::render(&r, a.format)?;
    match &a.out {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            CliError::Runtime(anyhow::anyhow!("cannot write {}: {e}", path.display()))
        })?,
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
