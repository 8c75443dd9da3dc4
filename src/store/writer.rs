//! The single writer: a dedicated thread owns the write connection; async code sends it jobs.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::Store;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// A handle to the writer thread. Cloning shares the same thread. Jobs run one at a time, in order.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Moves the store to a new thread. The thread ends when every handle is dropped, after the
    /// jobs already sent have run (so an open transaction always finishes).
    pub fn spawn(store: Store) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("newswatch-writer".into())
            .spawn(move || {
                let mut store = store;
                for job in rx {
                    job(&mut store);
                }
            })
            .expect("spawn writer thread");
        Writer { tx }
    }

    /// Runs `f` on the writer thread and returns its result.
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
            .map_err(|_| anyhow::anyhow!("the store writer has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the store writer dropped a job (it panicked)"))?
    }
}
