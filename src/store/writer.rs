//! The single writer: a dedicated thread owns the write connection; async code sends it jobs.
//!
//! The job queue is bounded (`QUEUE`): a caller waits for room instead of piling prepared
//! commits up in memory, which is the last link of the daemon's backpressure (writer → polls in
//! flight → fetching).

use tokio::sync::{mpsc, oneshot};

use super::Store;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// Jobs waiting for the writer at most; a further `call` waits until one has run.
pub const QUEUE: usize = 32;

/// A handle to the writer thread. Cloning shares the same thread. Jobs run one at a time, in order.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Moves the store to a new thread. The thread ends when every handle is dropped, after the
    /// jobs already sent have run (so an open transaction always finishes).
    pub fn spawn(store: Store) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("newswatch-writer".into())
            .spawn(move || {
                let mut store = store;
                while let Some(job) = rx.blocking_recv() {
                    job(&mut store);
                }
            })
            .expect("spawn writer thread");
        Writer { tx }
    }

    /// Runs `f` on the writer thread and returns its result. Waits for room in the queue first.
    pub async fn call<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |s| {
                let _ = tx.send(f(s));
            }))
            .await
            .map_err(|_| anyhow::anyhow!("the store writer has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the store writer dropped a job (it panicked)"))?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_callers_wait_instead_of_growing() {
        let dir = tempfile::tempdir().unwrap();
        let w = Writer::spawn(Store::open(&dir.path().join("t.db")).unwrap());
        let (gate, wait) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        // The writer thread takes this job and blocks in it until the gate opens.
        let first = tokio::spawn({
            let w = w.clone();
            async move {
                w.call(move |_| {
                    let _ = started.send(());
                    wait.recv().ok();
                    Ok(())
                })
                .await
            }
        });
        // The callers start only once the writer is blocked: spawned together, a caller's job
        // could run first and the queue would never fill (a loaded machine did that).
        running.await.unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..QUEUE + 8)
            .map(|_| {
                let (w, done) = (w.clone(), done.clone());
                tokio::spawn(async move {
                    w.call(|_| Ok(())).await.unwrap();
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // The callers fill the queue (however slowly a loaded machine schedules them)...
        for _ in 0..200 {
            if w.tx.capacity() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(w.tx.capacity(), 0, "the queue is full");
        // ...and no further: QUEUE jobs wait in it, the 8 others wait for room; none ran.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(w.tx.capacity(), 0);
        assert_eq!(done.load(Ordering::SeqCst), 0);
        gate.send(()).unwrap();
        first.await.unwrap().unwrap();
        for c in callers {
            c.await.unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), QUEUE + 8);
        assert_eq!(w.tx.capacity(), QUEUE);
    }
}
