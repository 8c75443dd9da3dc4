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
