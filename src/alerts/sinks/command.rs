//! `type = "command"`: runs a program (no shell) with the message JSON on stdin and
//! `NEWSWATCH_ALERT_ID`, `NEWSWATCH_TOPIC`, `NEWSWATCH_SEVERITY`, `NEWSWATCH_EVENT` in its
//! environment. Exit status 0 is a delivery; anything else, or running past `timeout`, is a
//! failure (the process is killed, and `kill_on_drop` covers every other way out).
//! Its stdout is discarded; the first 2 KiB of stderr go into the error message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::SinkError;
use crate::alerts::{Message, Secret, one_line};
use crate::util::serde_duration;

/// `[[sink]] type = "command"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The program: a name looked up in PATH, or a path (relative to the config file).
    pub program: String,
    /// Its arguments, passed as they are (no shell, no expansion).
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables; values may be `env:NAME` / `file:PATH`.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// The program is killed after this long (default 30s).
    #[serde(default = "d30s", with = "serde_duration")]
    pub timeout: Duration,
}

fn d30s() -> Duration {
    Duration::from_secs(30)
}

impl CommandConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.program.trim().is_empty() {
            return Err("program: must not be empty".into());
        }
        if self.timeout.is_zero() {
            return Err("timeout: must be longer than zero".into());
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains(['=', '\0']) {
                return Err(format!("env: invalid variable name {k:?}"));
            }
            v.check().map_err(|e| format!("env.{k}: {e}"))?;
        }
        Ok(())
    }
}

pub struct CommandSink {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub timeout: Duration,
}

const STDERR_CAP: usize = 2048;

impl CommandSink {
    pub fn build(c: &CommandConfig, base_dir: &Path) -> Result<CommandSink, String> {
        let program = if c.program.contains('/') {
            let p = base_dir.join(&c.program);
            if !p.is_file() {
                return Err(format!("program: {} does not exist", p.display()));
            }
            p
        } else {
            PathBuf::from(&c.program)
        };
        let env = c
            .env
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.resolve(base_dir).map_err(|e| format!("env.{k}: {e}"))?,
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(CommandSink {
            program,
            args: c.args.clone(),
            env,
            timeout: c.timeout,
        })
    }

    pub async fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let name = self.program.display().to_string();
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NEWSWATCH_ALERT_ID", msg.uid())
            .env("NEWSWATCH_TOPIC", msg.topic())
            .env("NEWSWATCH_SEVERITY", msg.severity().name())
            .env(
                "NEWSWATCH_EVENT",
                if matches!(msg, Message::Digest(_)) {
                    "digest"
                } else {
                    "alert"
                },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SinkError::new(format!("cannot run {name}: {e}")))?;
        let mut body = msg.to_json().into_bytes();
        body.push(b'\n');
        let stdin = child.stdin.take();
        let stderr = child.stderr.take();
        let write = async move {
            if let Some(mut s) = stdin {
                // A program that does not read its input is not an error (EPIPE is ignored).
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            }
        };
        let read = async move {
            let mut kept = Vec::new();
            if let Some(mut e) = stderr {
                let mut buf = [0u8; 1024];
                while let Ok(n) = e.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if kept.len() < STDERR_CAP {
                        kept.extend_from_slice(&buf[..n.min(STDERR_CAP - kept.len())]);
                    }
                }
            }
            kept
        };
        let run = async {
            let (_, err, status) = tokio::join!(write, read, child.wait());
            (err, status)
        };
        let finished = tokio::time::timeout(self.timeout, run).await;
        match finished {
            Ok((_, Ok(status))) if status.success() => Ok(()),
            Ok((err, Ok(status))) => {
                let err = one_line(String::from_utf8_lossy(&err).trim());
                Err(SinkError::new(format!(
                    "{name} exited with {status}{}",
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!(": {err}")
                    }
                )))
            }
            Ok((_, Err(e))) => Err(SinkError::new(format!("waiting for {name}: {e}"))),
            Err(_) => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                Err(SinkError::new(format!(
                    "{name} timed out after {:?} and was killed",
                    self.timeout
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::alert;
    use super::*;

    fn sh(script: &str, timeout: Duration) -> CommandSink {
        let c = CommandConfig {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into(), "sh".into()],
            env: BTreeMap::from([("NW_EXTRA".to_string(), Secret::new("extra-value"))]),
            timeout,
        };
        c.validate().unwrap();
        CommandSink::build(&c, Path::new("/")).unwrap()
    }

    #[tokio::test]
    async fn gets_the_json_on_stdin_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        let s = sh(
            &format!(
                "cat > '{}'; echo \"$NEWSWATCH_ALERT_ID $NW_EXTRA\" >> '{}'",
                out.display(),
                out.display()
            ),
            Duration::from_secs(10),
        );
        s.send(&Message::Alert(alert())).await.unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        let mut lines = got.lines();
        let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(v["uid"], "nw-test-1");
        assert_eq!(lines.next().unwrap(), "nw-test-1 extra-value");
    }

    #[tokio::test]
    async fn failure_reports_status_and_stderr() {
        let s = sh(
            "echo 'no route to pager' >&2; exit 3",
            Duration::from_secs(10),
        );
        let e = s.send(&Message::Alert(alert())).await.unwrap_err();
        assert!(
            e.message.contains("no route to pager") && e.message.contains('3'),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_hanging_command_is_killed_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let s = sh(
            &format!("echo $$ > '{}'; exec sleep 30", pidfile.display()),
            Duration::from_millis(500),
        );
        let t = std::time::Instant::now();
        let e = s.send(&Message::Alert(alert())).await.unwrap_err();
        assert!(e.message.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .to_string();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still exists"
        );
    }

    #[test]
    fn missing_program_path_is_a_build_error() {
        let c = CommandConfig {
            program: "./no-such-notifier".into(),
            args: vec![],
            env: BTreeMap::new(),
            timeout: d30s(),
        };
        let e = CommandSink::build(&c, Path::new("/tmp")).err().unwrap();
        assert!(e.contains("no-such-notifier"), "{e}");
    }
}
