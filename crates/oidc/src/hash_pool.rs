//! Argon2id on a bounded pool: about one worker per core and a short queue.
//!
//! Each Argon2id hash or verification takes 19 MiB and tens of
//! milliseconds. On an unbounded blocking pool, memory grows with the
//! number of people typing a password at the same moment (4 GB measured at
//! 128 concurrent logins), and glibc keeps the freed arenas of the many
//! threads that ran them. Here the work runs only on the pool's own fixed
//! threads, so at most `workers` hashes are in memory at once; past
//! `workers` running and `queue` waiting, [`HashPool::run`] answers
//! [`Busy`] at once, and the page says so (503 with `Retry-After`) rather
//! than queue without end. One pool serves a whole process: the hub's
//! client secrets, every password provider, the town hall's agents.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

/// The pool refused the work: every worker is busy and the queue is full.
/// Nothing was done; the caller answers 503 with `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the password hashing pool is full")]
pub struct Busy;

/// Seconds a refused person is asked to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 1;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads behind a bounded queue. Cloning shares it.
#[derive(Clone)]
pub struct HashPool {
    sender: SyncSender<Job>,
    workers: usize,
    queue: usize,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .finish()
    }
}

impl HashPool {
    /// `workers` threads (at least one) and `queue` waiting jobs at most.
    /// The threads end when the last clone of the pool is dropped.
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(Self {
            sender,
            workers,
            queue,
        })
    }

    /// One worker per core, eight per core waiting: a waiting job costs no
    /// Argon2 memory (only its request), and waits at most eight hashes'
    /// time (about a third of a second) before its turn.
    pub fn per_core() -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, 8 * cores)
    }

    /// How many hashes may run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many may wait.
    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Runs `job` on a worker and waits for its answer; [`Busy`] at once
    /// when the queue is full (the job is then not run).
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(job());
        });
        match self.sender.try_send(job) {
            Ok(()) => answered.await.map_err(|_| Busy),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

/// A worker: takes the next job until the pool is gone. A job that panics
/// (Argon2 does not) loses its answer, not the worker.
fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match next {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_its_workers_and_queue_the_pool_answers_busy_at_once_and_runs_nothing_more() {
        let pool = HashPool::new(2, 3).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut jobs = Vec::new();
        for _ in 0..5 {
            let (pool, ran) = (pool.clone(), ran.clone());
            jobs.push(tokio::spawn(async move {
                pool.run(move || {
                    std::thread::sleep(Duration::from_millis(400));
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .await
            }));
            // Time for a worker to take the job, so that the queue holds
            // only what waits.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Two running, three waiting: the sixth is refused at once.
        let refused = pool.run(|| ()).await;
        assert_eq!(refused, Err(Busy));
        for job in jobs {
            assert_eq!(job.await.unwrap(), Ok(()));
        }
        assert_eq!(ran.load(Ordering::SeqCst), 5);
        assert_eq!(pool.run(|| 42).await, Ok(42));
    }

    #[tokio::test]
    async fn a_job_that_panics_loses_its_answer_not_the_worker() {
        let pool = HashPool::new(1, 1).unwrap();
        let panicked = pool.run(|| -> u8 { panic!("a bug") }).await;
        assert_eq!(panicked, Err(Busy));
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}
