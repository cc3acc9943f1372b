//! The connections to PostgreSQL: at most [`MAX_CONNECTIONS`], each used by
//! one call at a time, and one round trip a query.
//!
//! sqlx's own pool checks a connection twice around every query: when it is
//! taken (`test_before_acquire`, on by default) and, always, when it is given
//! back, each time a `Sync` and a wait for the server's `ReadyForQuery`. A
//! query took three round trips, and the issue 18 cluster's hub spent a fifth
//! of a single sign-on's CPU on them (BENCHMARKS.md, run 24). Neither check
//! is needed for correctness with PostgreSQL: sqlx's connection waits for any
//! answer still due (a query whose caller went away) before it sends the next
//! query. What they bought is finding a broken connection before a query
//! fails on it. Here:
//!
//! - a query that fails for any reason but the server's own answer (an SQL
//!   error, a row that does not decode) throws its connection away, so that
//!   a dead connection fails one call at most;
//! - a connection idle for [`PING_IDLE`] or more is checked before use, as
//!   sqlx did for all, so a server restarted while the hub was quiet costs
//!   no failed login;
//! - a transaction not committed throws its connection away: PostgreSQL rolls
//!   back a transaction whose connection closes, and the next call never finds
//!   a half-done one;
//! - a connection is not used past [`MAX_LIFETIME`] (sqlx's default), so that
//!   a failover or a new server behind the same name is picked up, and one
//!   idle for [`IDLE_TIMEOUT`] is closed within a minute (sqlx's default too).
//!
//! Waiting for a connection, opening one and checking one share one deadline
//! ([`super::ACQUIRE_TIMEOUT`]): past it the call fails, never hangs.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use sqlx::postgres::{
    PgConnectOptions, PgDatabaseError, PgQueryResult, PgRow, PgSeverity, PgStatement, PgTypeInfo,
};
use sqlx::{Connection, Describe, Either, Execute, Executor, PgConnection, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Connections a process opens to one database at most.
const MAX_CONNECTIONS: usize = 8;

/// A connection idle this long is checked (a round trip) before use.
pub const PING_IDLE: Duration = Duration::from_secs(1);

/// A connection is not used again this long after it was opened.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// An idle connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type BoxStream<'a, T> = Pin<Box<dyn futures_util::Stream<Item = T> + Send + 'a>>;

/// The connections to one database, as one schema sees it. Cloning shares
/// them.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    options: PgConnectOptions,
    timeout: Duration,
    /// One permit a connection, open or to be opened.
    permits: Arc<Semaphore>,
    /// Connections not in use, the most recently used last.
    idle: Mutex<Vec<Idle>>,
}

impl Shared {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes the connections idle for [`IDLE_TIMEOUT`] or more: the first
/// ones, since each is put back last.
fn close_stale(idle: &mut Vec<Idle>, now: Instant) {
    let stale = idle
        .iter()
        .take_while(|idle| now.duration_since(idle.since) >= IDLE_TIMEOUT)
        .count();
    for stale in idle.drain(..stale) {
        close(stale.connection);
    }
}

struct Idle {
    connection: PgConnection,
    opened: Instant,
    since: Instant,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("idle", &self.shared.lock_idle().len())
            .field("free", &self.shared.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of at most [`MAX_CONNECTIONS`]; none is opened yet.
    pub(crate) fn new(options: PgConnectOptions, timeout: Duration) -> Self {
        let shared = Arc::new(Shared {
            options,
            timeout,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            idle: Mutex::new(Vec::new()),
        });
        // Once a minute, the connections idle too long are closed, also
        // when no query comes to give one back; the task ends with the pool.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = Arc::downgrade(&shared);
            runtime.spawn(async move {
                let mut minutes = tokio::time::interval(Duration::from_secs(60));
                loop {
                    minutes.tick().await;
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    close_stale(&mut shared.lock_idle(), Instant::now());
                }
            });
        }
        Self { shared }
    }

    /// A connection for one call: the most recently used idle one (checked
    /// first when it has rested [`PING_IDLE`]), else a new one.
    async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let deadline = Instant::now() + self.shared.timeout;
        let permit = tokio::time::timeout_at(deadline, self.shared.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let Some(idle) = self.shared.lock_idle().pop() else {
                break;
            };
            if idle.opened.elapsed() >= MAX_LIFETIME {
                close(idle.connection);
                continue;
            }
            let mut connection = idle.connection;
            if idle.since.elapsed() >= PING_IDLE {
                match tokio::time::timeout_at(deadline, connection.ping()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => continue, // gone while idle: thrown away
                    Err(_) => return Err(sqlx::Error::PoolTimedOut),
                }
            }
            return Ok(Conn::new(self, connection, idle.opened, permit));
        }
        let connection = connect(&self.shared.options, deadline).await?;
        Ok(Conn::new(self, connection, Instant::now(), permit))
    }

    /// A transaction on a connection of its own.
    pub(crate) async fn begin(&self) -> Result<Transaction, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let begun = conn.connection().execute("BEGIN").await;
        conn.settle(&begun);
        begun?;
        Ok(Transaction { conn, open: true })
    }
}

/// A new connection, given up at `deadline`.
pub(crate) async fn connect(
    options: &PgConnectOptions,
    deadline: Instant,
) -> Result<PgConnection, sqlx::Error> {
    tokio::time::timeout_at(deadline, PgConnection::connect_with(options))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

/// Ends a connection politely (a `Terminate`), in the background.
fn close(connection: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = connection.close().await;
        });
    }
}

/// Whether `error` leaves the connection as it was: the server's own answer
/// to the query (but a fatal one, sent as it ends the connection), or a row
/// that did not decode. Anything else (the socket, the protocol, a timeout)
/// may have left it broken or out of step.
fn leaves_connection_sound(error: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(database) = error {
        return database
            .try_downcast_ref::<PgDatabaseError>()
            .is_none_or(|error| {
                !matches!(error.severity(), PgSeverity::Fatal | PgSeverity::Panic)
            });
    }
    matches!(
        error,
        sqlx::Error::RowNotFound
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_)
            | sqlx::Error::TypeNotFound { .. }
    )
}

/// A connection in use; given back when dropped, unless it may be broken.
struct Conn {
    pool: Pool,
    connection: Option<PgConnection>,
    opened: Instant,
    /// Thrown away when dropped.
    broken: bool,
    /// Released after the connection is back among the idle ones.
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    fn new(
        pool: &Pool,
        connection: PgConnection,
        opened: Instant,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            pool: pool.clone(),
            connection: Some(connection),
            opened,
            broken: false,
            _permit: permit,
        }
    }

    fn connection(&mut self) -> &mut PgConnection {
        // Always `Some` until dropped.
        self.connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("a connection in use has its connection"))
    }

    /// Notes how a query ended: a failure that may have broken the
    /// connection throws it away.
    fn settle<T>(&mut self, result: &Result<T, sqlx::Error>) {
        if let Err(error) = result
            && !leaves_connection_sound(error)
        {
            self.broken = true;
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.broken {
            return; // the socket closes with it
        }
        // Its age is checked when it is next taken, its rest by the reaper.
        self.pool.shared.lock_idle().push(Idle {
            connection,
            opened: self.opened,
            since: Instant::now(),
        });
    }
}

/// A transaction: `BEGIN` sent, `COMMIT` by [`Transaction::commit`]. One
/// dropped before its commit takes its connection with it, and PostgreSQL
/// rolls it back.
pub(crate) struct Transaction {
    conn: Conn,
    open: bool,
}

impl Transaction {
    /// Commits.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = self.conn.connection().execute("COMMIT").await;
        self.conn.settle(&committed);
        committed?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.open {
            self.conn.broken = true;
        }
    }
}

impl Deref for Transaction {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .connection
            .as_ref()
            .unwrap_or_else(|| unreachable!("a transaction has its connection"))
    }
}

impl DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.connection()
    }
}

/// Queries run on the pool as on sqlx's: each takes a connection for its
/// own time.
impl<'p> Executor<'p> for &'_ Pool {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        // The answers are read whole, then handed on: a query of ours
        // returns a few rows, and the connection is back at once.
        let answers = async move {
            let mut conn = match pool.acquire().await {
                Ok(conn) => conn,
                Err(error) => return vec![Err(error)],
            };
            let answers: Vec<_> = conn.connection().fetch_many(query).collect().await;
            // An error ends the answers.
            if let Some(last) = answers.last() {
                conn.settle(last);
            }
            answers
        };
        Box::pin(stream::once(answers).map(stream::iter).flatten())
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let row = conn.connection().fetch_optional(query).await;
            conn.settle(&row);
            row
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>> {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let statement = conn.connection().prepare_with(sql, parameters).await;
            conn.settle(&statement);
            statement
        })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>> {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let described = conn.connection().describe(sql).await;
            conn.settle(&described);
            described
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_of_the_query_keep_the_connection() {
        assert!(leaves_connection_sound(&sqlx::Error::RowNotFound));
        assert!(!leaves_connection_sound(&sqlx::Error::Io(
            std::io::Error::other("reset")
        )));
        assert!(!leaves_connection_sound(&sqlx::Error::Protocol(
            "out of step".into()
        )));
        assert!(!leaves_connection_sound(&sqlx::Error::PoolTimedOut));
    }
}
