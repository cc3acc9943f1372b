//! Group commit: the writes that many requests make at once share one
//! transaction, so one commit carries them all.
//!
//! SQLite's cost of a small write is its commit: each page the transaction
//! changed is written to the WAL, checksummed, and later copied back by a
//! checkpoint (issue 18's profile of a single sign-on: the commits were
//! three quarters of SQLite's share, the statements themselves a tenth).
//! Entries appended together mostly change the same pages (the tables'
//! and the date index's last leaves), so a group of writes costs little
//! more than one of them.
//!
//! A write joins the waiting group. The first of a group leads it: it lets
//! every task that is ready run first (one `yield_now`, so each of those
//! can join), then commits the group, each write inside a savepoint. A
//! write that fails is rolled back to its savepoint alone, and its caller
//! gets its own error; the others are kept. When the commit fails, every
//! caller of the group gets that failure, and nothing of the group is
//! written. A caller is answered only once its write is committed, as
//! before: a write is as durable as it was, only cheaper.
//!
//! A leader whose task is dropped while it waits (the client went away)
//! still commits its group, when its guard is dropped: the other callers
//! never wait on a task that is gone. A write that panics loses its group
//! (each caller gets an error), never the writes after it.

use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use super::Sqlite;
use crate::StoreError;

/// The writes waiting for the next commit, and whether a leader will
/// commit them.
#[derive(Default)]
pub(super) struct Group {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    writes: Vec<Box<dyn Write>>,
    led: bool,
}

/// A write waiting in a group.
trait Write: Send {
    /// Runs the write in the group's transaction; whether it succeeded.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;

    /// Answers its caller: its result, or the failure that kept the
    /// group's transaction from being committed.
    fn settle(self: Box<Self>, failed: Option<&StoreError>);
}

/// A caller's write and the way back to it.
struct Pending<T, F> {
    work: Option<F>,
    done: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let done = work(tx);
        let wrote = done.is_ok();
        self.done = Some(done);
        wrote
    }

    fn settle(self: Box<Self>, failed: Option<&StoreError>) {
        let answer = match (self.done, failed) {
            // Its own error stands, whatever became of the others.
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(done)), None) => Ok(done),
            (_, Some(failure)) => Err(again(failure)),
            (None, None) => Err(StoreError::Backend("the write was never run".into())),
        };
        // A caller that went away no longer wants its answer.
        let _ = self.reply.send(answer);
    }
}

/// The same failure, for one more caller of the group.
fn again(failure: &StoreError) -> StoreError {
    match failure {
        StoreError::Conflict => StoreError::Conflict,
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Corrupt => StoreError::Corrupt,
        StoreError::Backend(error) => StoreError::Backend(error.to_string().into()),
    }
}

/// The leader of a group: commits what waits when dropped, until nothing
/// does.
struct Leading<'a>(&'a Sqlite);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        loop {
            let writes = {
                let mut waiting = self
                    .0
                    .group
                    .waiting
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if waiting.writes.is_empty() {
                    waiting.led = false;
                    return;
                }
                std::mem::take(&mut waiting.writes)
            };
            // A write that panicked (a bug: none should) loses its group,
            // whose callers are told so when their answers are dropped,
            // and not the groups after it: the leader still lets go.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| self.0.commit(writes)));
        }
    }
}

impl Sqlite {
    /// Runs `work` in the next group commit; its result once committed.
    pub(super) async fn grouped<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Box::new(Pending {
            work: Some(work),
            done: None,
            reply,
        });
        let leads = {
            let mut waiting = self
                .group
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            waiting.writes.push(pending);
            !std::mem::replace(&mut waiting.led, true)
        };
        if leads {
            let leading = Leading(self);
            tokio::task::yield_now().await;
            drop(leading);
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the group commit was lost".into())))
    }

    /// Commits `writes` in one transaction, each in its own savepoint when
    /// there are several, then answers each caller.
    fn commit(&self, mut writes: Vec<Box<dyn Write>>) {
        let several = writes.len() > 1;
        let committed = self.run(|connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut wrote = false;
            for write in &mut writes {
                if several {
                    tx.prepare_cached("SAVEPOINT write")?.execute([])?;
                }
                let kept = write.run(&tx);
                if several && !kept {
                    tx.prepare_cached("ROLLBACK TO write")?.execute([])?;
                }
                if several {
                    tx.prepare_cached("RELEASE write")?.execute([])?;
                }
                wrote |= kept;
            }
            // A lone write that failed leaves nothing behind.
            if wrote {
                tx.commit()?;
            }
            Ok(())
        });
        let failed = committed.err();
        for write in writes {
            write.settle(failed.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::path::PathBuf;
    use std::sync::Arc;

    use rusqlite::params;

    use super::*;

    /// A database in a folder of its own, removed at drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            let name = format!("passerelle-group-{:016x}", rand::random::<u64>());
            Self(std::env::temp_dir().join(name))
        }

        fn db(&self) -> PathBuf {
            self.0.join("group.sqlite")
        }

        /// The bytes its WAL holds: what its commits wrote.
        fn wal_bytes(&self) -> u64 {
            std::fs::metadata(self.0.join("group.sqlite-wal")).map_or(0, |file| file.len())
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn open() -> (Scratch, Arc<Sqlite>) {
        let scratch = Scratch::new();
        let sqlite = Sqlite::open(&scratch.db()).await.unwrap();
        (scratch, Arc::new(sqlite))
    }

    /// Pushes `payload` to the outbox, then fails when `fail` says so: a
    /// write that changed a row before failing.
    async fn push(sqlite: &Sqlite, payload: &'static [u8], fail: bool) -> Result<i64, StoreError> {
        sqlite
            .grouped(move |tx| {
                let id: i64 = tx.query_row(
                    "INSERT INTO outbox (payload, due_at) VALUES (?, 0) RETURNING id",
                    params![payload],
                    |row| row.get(0),
                )?;
                if fail {
                    Err(StoreError::Conflict)
                } else {
                    Ok(id)
                }
            })
            .await
    }

    fn payloads(sqlite: &Sqlite) -> Vec<Vec<u8>> {
        sqlite
            .all("SELECT payload FROM outbox ORDER BY id", [], |row| {
                row.get(0)
            })
            .unwrap()
    }

    fn waiting(sqlite: &Sqlite) -> (usize, bool) {
        let waiting = sqlite.group.waiting.lock().unwrap();
        (waiting.writes.len(), waiting.led)
    }

    #[tokio::test]
    async fn writes_made_at_once_share_one_commit_and_a_failed_one_is_undone_alone() {
        let (scratch, sqlite) = open().await;
        // What one write alone adds to the WAL, after a first one made the
        // outbox's pages.
        push(&sqlite, b"warm", false).await.unwrap();
        let before = scratch.wal_bytes();
        push(&sqlite, b"alone", false).await.unwrap();
        let alone = scratch.wal_bytes() - before;
        assert!(alone > 0);

        let before = scratch.wal_bytes();
        let (first, failing, last) = tokio::join!(
            push(&sqlite, b"first", false),
            push(&sqlite, b"failing", true),
            push(&sqlite, b"last", false),
        );
        assert!(first.is_ok() && last.is_ok());
        assert!(matches!(failing, Err(StoreError::Conflict)));
        // Three writes, one commit: the pages they share are written once.
        assert_eq!(scratch.wal_bytes() - before, alone);
        assert_eq!(
            payloads(&sqlite),
            [&b"warm"[..], b"alone", b"first", b"last"].map(<[u8]>::to_vec)
        );
        assert_eq!(waiting(&sqlite), (0, false));
    }

    #[tokio::test]
    async fn a_lone_write_that_fails_leaves_nothing() {
        let (_scratch, sqlite) = open().await;
        assert!(matches!(
            push(&sqlite, b"failing", true).await,
            Err(StoreError::Conflict)
        ));
        assert!(payloads(&sqlite).is_empty());
        push(&sqlite, b"next", false).await.unwrap();
        assert_eq!(payloads(&sqlite), [b"next".to_vec()]);
    }

    #[tokio::test]
    async fn a_failed_commit_answers_every_caller_and_writes_nothing() {
        let (scratch, sqlite) = open().await;
        // Another process holds the file's write lock, and this one waits
        // for it no time.
        let other = rusqlite::Connection::open(scratch.db()).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        sqlite
            .run(|connection| Ok(connection.busy_timeout(std::time::Duration::ZERO)?))
            .unwrap();
        let (first, second) = tokio::join!(
            push(&sqlite, b"first", false),
            push(&sqlite, b"second", false)
        );
        assert!(matches!(first, Err(StoreError::Backend(_))));
        assert!(matches!(second, Err(StoreError::Backend(_))));
        other.execute_batch("ROLLBACK").unwrap();
        assert!(payloads(&sqlite).is_empty());
        assert_eq!(waiting(&sqlite), (0, false));
        push(&sqlite, b"after", false).await.unwrap();
        assert_eq!(payloads(&sqlite), [b"after".to_vec()]);
    }

    #[tokio::test]
    async fn a_write_that_panics_loses_its_group_and_no_other() {
        let (_scratch, sqlite) = open().await;
        let panicking = sqlite.grouped(|_| -> Result<(), StoreError> { panic!("a bug") });
        let (panicked, beside) = tokio::join!(panicking, push(&sqlite, b"beside", false));
        assert!(matches!(panicked, Err(StoreError::Backend(_))));
        assert!(matches!(beside, Err(StoreError::Backend(_))));
        assert!(payloads(&sqlite).is_empty());
        assert_eq!(waiting(&sqlite), (0, false));
        push(&sqlite, b"after", false).await.unwrap();
        assert_eq!(payloads(&sqlite), [b"after".to_vec()]);
    }

    #[tokio::test]
    async fn a_leader_dropped_while_it_waits_still_commits_its_group() {
        let (_scratch, sqlite) = open().await;
        let mut leader = Box::pin(push(&sqlite, b"leader", false));
        // Polled once, it has joined the group, leads it, and yields.
        let polled = std::future::poll_fn(|context| {
            std::task::Poll::Ready(leader.as_mut().poll(context).is_pending())
        })
        .await;
        assert!(polled);
        assert_eq!(waiting(&sqlite), (1, true));
        let follower = tokio::spawn({
            let sqlite = sqlite.clone();
            async move { push(&sqlite, b"follower", false).await }
        });
        for _ in 0..100 {
            if waiting(&sqlite).0 == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(waiting(&sqlite), (2, true));
        drop(leader);
        follower.await.unwrap().unwrap();
        assert_eq!(
            payloads(&sqlite),
            [b"leader".to_vec(), b"follower".to_vec()]
        );
        assert_eq!(waiting(&sqlite), (0, false));
    }
}
