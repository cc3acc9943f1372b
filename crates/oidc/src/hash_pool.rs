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
//!
//! A worker keeps its 19 MiB between hashes while they keep coming (a
//! hash on fresh memory costs 40 % more: its pages faulted in and zeroed),
//! and gives it back once it has been idle for [`KEEP_IDLE`]: a process
//! that hashed at its busiest does not hold that memory through the
//! night, nor a start's seeding through the process's life.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The pool refused the work: every worker is busy and the queue is full.
/// Nothing was done; the caller answers 503 with `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the password hashing pool is full")]
pub struct Busy;

/// Seconds a refused person is asked to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 1;

/// How long a worker keeps its Argon2 memory with no hash to run: past it,
/// the memory goes back to the system, and the next hash allocates again.
pub const KEEP_IDLE: Duration = Duration::from_secs(2);

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
        Self::keeping(workers, queue, KEEP_IDLE)
    }

    /// As [`HashPool::new`], each worker keeping its memory `keep_idle`
    /// with no hash to run.
    pub fn keeping(workers: usize, queue: usize, keep_idle: Duration) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&receiver, keep_idle))?;
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

/// Argon2id with each thread's memory kept for its next hash.
///
/// The `argon2` crate allocates, zeroes and frees its 19 MiB at each hash;
/// glibc then keeps freed blocks of that size in the thread's arena, so a
/// process's memory grew with every hash its threads ever ran. Here each
/// thread allocates its block array once and reuses it, until [`release`]:
/// a pool's worker releases it when idle. A thread outside the pool keeps
/// it for its life, so the servers hash only on the pool (a start's
/// seeding too: on a blocking thread it held 19 MiB a thread, half of the
/// demo's memory after its first start). The PHC strings are the crate's
/// own: a hash made here verifies with `argon2::PasswordVerifier`, and the
/// other way round.
pub mod argon2id {
    use std::cell::RefCell;

    use argon2::password_hash::{Output, PasswordHash, SaltString, rand_core::OsRng};
    use argon2::{Algorithm, Argon2, Block, Params, Version};

    use crate::types::constant_time_eq;

    thread_local! {
        static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }

    /// Gives this thread's memory back: after a hash that no other follows
    /// soon (a start's seeding), rather than at the worker's idle timeout.
    pub fn release() {
        BLOCKS.with(|blocks| {
            if let Ok(mut blocks) = blocks.try_borrow_mut() {
                *blocks = Vec::new();
            }
        });
    }

    /// How many blocks (of 1 KiB) this thread holds for its next hash.
    pub fn held() -> usize {
        BLOCKS.with(|blocks| blocks.try_borrow().map_or(0, |blocks| blocks.len()))
    }

    fn hasher<'key>(pepper: Option<&'key [u8]>, params: Params) -> Option<Argon2<'key>> {
        match pepper {
            Some(pepper) => {
                Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params).ok()
            }
            None => Some(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
        }
    }

    /// Runs Argon2id into `out` on this thread's reused blocks.
    fn compute(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
        BLOCKS.with(|blocks| {
            let Ok(mut blocks) = blocks.try_borrow_mut() else {
                return false;
            };
            let needed = argon2.params().block_count();
            if blocks.len() != needed {
                blocks.clear();
                blocks.shrink_to_fit();
                blocks.resize(needed, Block::default());
            }
            argon2
                .hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice())
                .is_ok()
        })
    }

    /// The PHC string of a new hash (OWASP parameters, random salt), keyed
    /// with `pepper` when given; `None` only if Argon2 itself fails.
    pub fn hash(pepper: Option<&[u8]>, password: &str) -> Option<String> {
        let params = Params::default();
        let argon2 = hasher(pepper, params.clone())?;
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).ok()?;
        let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
        if !compute(&argon2, password.as_bytes(), salt_bytes, &mut out) {
            return None;
        }
        phc(&params, &salt, &out)
    }

    /// The PHC string of an Argon2id output under `params` and `salt`.
    fn phc(params: &Params, salt: &SaltString, out: &[u8]) -> Option<String> {
        let hash = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: argon2::password_hash::ParamsString::try_from(params).ok()?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(out).ok()?),
        };
        Some(hash.to_string())
    }

    /// A PHC string no password matches, with our hashes' parameters: a
    /// random salt and random output, made without hashing. Verifying
    /// against it costs what verifying against a real hash costs (for an
    /// unknown identifier, so that timing does not tell whether an account
    /// exists); making it costs nothing, and a process's start runs no
    /// Argon2 for it.
    pub fn decoy() -> Option<String> {
        use argon2::password_hash::rand_core::RngCore as _;
        let params = Params::default();
        let salt = SaltString::generate(&mut OsRng);
        let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
        OsRng.fill_bytes(&mut out);
        phc(&params, &salt, &out)
    }

    /// Whether `password` is the one hashed in `phc` (an Argon2id PHC
    /// string), keyed with `pepper` when given. Anything unreadable is no.
    pub fn verify(pepper: Option<&[u8]>, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        // Bounded: an oversized cost in a stored string must not take the
        // machine (our own hashes use 19 MiB).
        if params.m_cost() > 64 * 1024 || params.t_cost() > 10 || params.p_cost() > 4 {
            return false;
        }
        let Some(argon2) = hasher(pepper, params) else {
            return false;
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        compute(&argon2, password.as_bytes(), salt_bytes, &mut out)
            && constant_time_eq(&out, expected.as_bytes())
    }

    #[cfg(test)]
    mod tests {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};

        use super::*;

        #[test]
        fn a_decoy_reads_as_one_of_our_hashes_and_matches_nothing() {
            let decoy = decoy().unwrap();
            let ours = hash(Some(b"pepper"), "s3cret").unwrap();
            let (decoy_parsed, ours_parsed) = (
                PasswordHash::new(&decoy).unwrap(),
                PasswordHash::new(&ours).unwrap(),
            );
            assert_eq!(decoy_parsed.params, ours_parsed.params);
            assert_eq!(
                decoy_parsed.hash.unwrap().len(),
                ours_parsed.hash.unwrap().len()
            );
            assert!(!verify(Some(b"pepper"), "s3cret", &decoy));
            assert!(!verify(None, "", &decoy));
            assert_ne!(decoy, super::decoy().unwrap());
        }

        #[test]
        fn our_hashes_and_the_crates_verify_each_other() {
            let ours = hash(None, "s3cret").unwrap();
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(b"s3cret", &parsed)
                    .is_ok()
            );
            assert!(verify(None, "s3cret", &ours));
            assert!(!verify(None, "s3creT", &ours));
            let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
            let theirs = Argon2::default()
                .hash_password(b"s3cret", &salt)
                .unwrap()
                .to_string();
            assert!(verify(None, "s3cret", &theirs));
            assert!(!verify(None, "other", &theirs));
            assert!(!verify(None, "s3cret", "garbage"));
            assert!(!verify(
                None,
                "s3cret",
                "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
            ));
        }

        #[test]
        fn a_peppered_hash_needs_its_pepper() {
            let peppered = hash(Some(b"pepper"), "s3cret").unwrap();
            assert!(verify(Some(b"pepper"), "s3cret", &peppered));
            assert!(!verify(Some(b"other"), "s3cret", &peppered));
            assert!(!verify(None, "s3cret", &peppered));
        }
    }
}

/// A worker: takes the next job until the pool is gone, and gives its
/// Argon2 memory back after `keep_idle` with none. A job that panics
/// (Argon2 does not) loses its answer, not the worker.
///
/// The workers wait in turn: one holds the receiver, the others its lock.
/// Each gives its memory back at its own turn's timeout, so an idle pool
/// has given all of it back within `workers × keep_idle`.
fn work(receiver: &Mutex<Receiver<Job>>, keep_idle: Duration) {
    loop {
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv_timeout(keep_idle);
        match next {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(RecvTimeoutError::Timeout) => argon2id::release(),
            Err(RecvTimeoutError::Disconnected) => return,
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
    async fn a_worker_keeps_its_memory_between_hashes_and_gives_it_back_when_idle() {
        let blocks = argon2::Params::default().block_count();
        let hash = || argon2id::hash(None, "s3cret").is_some();
        // Idle for a minute: the memory of one hash is there for the next.
        let busy = HashPool::keeping(1, 1, Duration::from_secs(60)).unwrap();
        assert_eq!(busy.run(hash).await, Ok(true));
        assert_eq!(busy.run(argon2id::held).await, Ok(blocks));
        // Idle for a few milliseconds: given back, and the next hash still
        // works on new memory.
        let idle = HashPool::keeping(1, 1, Duration::from_millis(5)).unwrap();
        assert_eq!(idle.run(hash).await, Ok(true));
        let mut held = blocks;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            held = idle.run(argon2id::held).await.unwrap();
            if held == 0 {
                break;
            }
        }
        assert_eq!(held, 0, "an idle worker still holds its Argon2 memory");
        assert_eq!(idle.run(hash).await, Ok(true));
    }

    #[tokio::test]
    async fn a_job_that_panics_loses_its_answer_not_the_worker() {
        let pool = HashPool::new(1, 1).unwrap();
        let panicked = pool.run(|| -> u8 { panic!("a bug") }).await;
        assert_eq!(panicked, Err(Busy));
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}
