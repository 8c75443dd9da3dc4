//! `type = "stdout"`: each message as one JSON line on standard output (the `Message` JSON:
//! `{"type":"alert",...}` or `{"type":"digest",...}`). Each line is written and flushed under one
//! lock, so lines from concurrent deliveries never interleave.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::SinkError;
use crate::alerts::Message;

/// `[[sink]] type = "stdout"`: no options.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {}

pub struct StdoutSink {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl StdoutSink {
    pub fn stdout() -> StdoutSink {
        StdoutSink::to_writer(Box::new(std::io::stdout()))
    }

    /// A sink writing to any writer (tests capture into a buffer).
    pub fn to_writer(w: Box<dyn Write + Send>) -> StdoutSink {
        StdoutSink {
            out: Arc::new(Mutex::new(w)),
        }
    }

    pub fn send(&self, msg: &Message) -> Result<(), SinkError> {
        let mut line = msg.to_json();
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(line.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| SinkError::new(format!("cannot write to stdout: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::testutil::Buf;

    #[test]
    fn writes_json_lines() {
        let buf = Buf::default();
        let sink = StdoutSink::to_writer(Box::new(buf.clone()));
        let a = super::super::testutil::alert();
        sink.send(&Message::Alert(a.clone())).unwrap();
        sink.send(&Message::Alert(a)).unwrap();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["type"], "alert");
        assert_eq!(v["uid"], "nw-test-1");
        assert_eq!(
            v["snippet"],
            "Pyongyang [[fired]] two short-range ballistic [[missiles]] this morning"
        );
    }

    #[test]
    fn a_closed_stdout_is_an_error() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = StdoutSink::to_writer(Box::new(Broken));
        assert!(
            sink.send(&Message::Alert(super::super::testutil::alert()))
                .is_err()
        );
    }
}
