//! The ordered parallel worker pool of the batch commands (`ingest`, `extract`): every input is
//! worked on by scoped threads on all cores, in any order, and the results reach the calling
//! thread in input order. Invariants: each index is worked once; results are yielded in index order
//! `0..n` whatever order they finish in; when the consumer stops early the workers stop after their
//! current item; at most `bound` finished results wait in the channel (early ones wait in order).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Worker threads for `n` inputs: one per core, never more than the inputs.
pub fn threads(n: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(2, |p| p.get())
        .min(n.max(1))
}

/// Runs `work(i)` for every index of `order` (a permutation of `0..order.len()`, the order the
/// workers take them in) on `threads` threads, and calls `consume` on this thread with the results
/// in index order.
pub fn ordered<T, W, C, R>(order: &[usize], threads: usize, bound: usize, work: W, consume: C) -> R
where
    T: Send,
    W: Fn(usize) -> T + Sync,
    C: FnOnce(InOrder<T>) -> R,
{
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, T)>(bound.max(1));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if tx.send((i, work(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // `consume` owns the receiver: when it returns, the workers' next send fails and they stop.
        consume(InOrder {
            rx,
            early: BTreeMap::new(),
            next: 0,
            n: order.len(),
        })
    })
}

/// The results of [`ordered`], as `(index, result)` in index order.
pub struct InOrder<T> {
    rx: mpsc::Receiver<(usize, T)>,
    early: BTreeMap<usize, T>,
    next: usize,
    n: usize,
}

impl<T> Iterator for InOrder<T> {
    type Item = (usize, T);

    fn next(&mut self) -> Option<(usize, T)> {
        if self.next >= self.n {
            return None;
        }
        loop {
            if let Some(t) = self.early.remove(&self.next) {
                self.next += 1;
                return Some((self.next - 1, t));
            }
            // Err: every worker is gone (one panicked); the scope re-raises the panic.
            let (i, t) = self.rx.recv().ok()?;
            self.early.insert(i, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_index_order_whatever_the_work_order() {
        let order = [3, 0, 4, 1, 2, 5, 6, 7];
        let got: Vec<(usize, usize)> = ordered(
            &order,
            3,
            2,
            |i| {
                // Later indexes finish first.
                std::thread::sleep(std::time::Duration::from_millis((8 - i as u64) * 2));
                i * 10
            },
            |r| r.collect(),
        );
        let want: Vec<(usize, usize)> = (0..8).map(|i| (i, i * 10)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_workers() {
        let done = AtomicUsize::new(0);
        let order: Vec<usize> = (0..10_000).collect();
        let first = ordered(
            &order,
            2,
            1,
            |i| {
                done.fetch_add(1, Ordering::Relaxed);
                i
            },
            |mut r| r.next(),
        );
        assert_eq!(first, Some((0, 0)));
        assert!(done.load(Ordering::Relaxed) < 10_000);
    }
}
