//! The webhook receiver: a raw HTTP/1.1 server on 127.0.0.1 that logs every request (headers,
//! body, arrival time, the status it answered) and answers each with a status and delay chosen by
//! the test. Raw, not axum, so a test sees exactly what the sender put on the wire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone)]
pub struct Req {
    pub at: Instant,
    /// The request target (`/hook`).
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub status: u16,
}

impl Req {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub type Log = Arc<Mutex<Vec<Req>>>;

/// An HTTP/1.1 receiver on 127.0.0.1. `answer(n)` gives the status and delay for the n-th request
/// (0-based). Every request is logged with the status it got.
pub async fn http_receiver_on(
    listener: tokio::net::TcpListener,
    answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static,
) -> Log {
    let log: Log = Arc::default();
    let l2 = log.clone();
    let answer = Arc::new(answer);
    let n = Arc::new(Mutex::new(0usize));
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (log, answer, n) = (l2.clone(), answer.clone(), n.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                let head_end = loop {
                    let k = s.read(&mut tmp).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let path = lines.next().and_then(|l| l.split(' ').nth(1));
                let path = path.unwrap_or_default().to_string();
                let headers: HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let k = s.read(&mut tmp).await.unwrap_or(0);
                    if k == 0 {
                        break;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                }
                let i = {
                    let mut n = n.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let (status, delay) = answer(i);
                tokio::time::sleep(delay).await;
                log.lock().unwrap().push(Req {
                    at: Instant::now(),
                    path,
                    headers,
                    body: buf[head_end..].to_vec(),
                    status,
                });
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    log
}

pub async fn http_receiver(
    answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static,
) -> (String, Log) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    (url, http_receiver_on(l, answer).await)
}
