//! The SQLite backend: one file, for a single-node deployment.
//!
//! SQLite has one writer at a time. An operation that must be atomic is a
//! single statement (counting a hit) or a `BEGIN IMMEDIATE` transaction
//! (taking a code), which takes the write lock before reading.
//!
//! Statements run inline, on the calling task's thread, over one connection
//! per file behind a mutex: a statement on a local file takes microseconds,
//! less than the two thread switches a connection worker would add to each
//! one (issue 18's profile: they were a third of the hub's time). The cost
//! of that choice: when another process holds the file's write lock, the
//! caller's thread waits for it (busy timeout 5 s); one process per file,
//! the embedded default, never waits. Several processes share PostgreSQL.
//!
//! The writes many requests make at once, the trail's entries and the
//! mail outbox's, share one commit ([`group`]): a commit is most of what a
//! small write costs.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::{
    Account, AccountStatus, Accounts, CertificationRequest, CertificationRequests, Codes,
    Confirmation, ConfirmationCodes, Dossier, DossierStatus, Dossiers, IdentityProofs, KeptProof,
    LoginTransactions, OpenSessions, Outbox, Person, Preferences, Purge, QrClaim, Queued,
    REVOCATION_KEPT_SECS, RateLimits, Revocation, Revocations, Sessions, StoreError, Taken, Tokens,
    Trace, TraceRow, Traces, TrailHead, TrailKey, UnixSeconds, UsedOnce, WalletIdentities,
    WalletIdentity, found, refused, same_hash,
};

/// The schema, one entry per version: entry `n` takes a database from
/// `PRAGMA user_version = n` to `n + 1`. Append, never edit: deployed files
/// have run the old entries.
const SCHEMA: &[&str] = &[
    "
    CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_expiry ON sessions (expires_at);
    CREATE TABLE codes (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX codes_expiry ON codes (expires_at);
    CREATE TABLE tokens (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX tokens_expiry ON tokens (expires_at);
    CREATE TABLE rate_windows (
        key TEXT PRIMARY KEY,
        hits INTEGER NOT NULL,
        ends_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX rate_windows_expiry ON rate_windows (ends_at);
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        email TEXT NOT NULL,
        identity TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'locked')),
        created_at INTEGER NOT NULL
    ) STRICT;
",
    "
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        payload BLOB NOT NULL,
        due_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX outbox_due ON outbox (due_at);
",
    "
    CREATE TABLE traces (
        pseudonym TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        body BLOB NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (pseudonym, seq)
    ) STRICT;
    CREATE INDEX traces_at ON traces (at);
    CREATE TABLE trail_heads (
        pseudonym TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL
    ) STRICT;
    CREATE TABLE preferences (
        pseudonym TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;
",
    "
    CREATE TABLE dossiers (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
        content BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX dossiers_owner ON dossiers (service, owner);
    CREATE UNIQUE INDEX dossiers_one_draft ON dossiers (service, owner, kind)
        WHERE status = 'draft';
",
    "
    ALTER TABLE traces ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
    CREATE TABLE revocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pseudonym TEXT NOT NULL,
        provider TEXT NOT NULL,
        at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX revocations_at ON revocations (at);
    CREATE TABLE open_sessions (
        grp TEXT NOT NULL,
        member TEXT NOT NULL,
        value BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (grp, member)
    ) STRICT;
    CREATE INDEX open_sessions_expiry ON open_sessions (expires_at);
",
    // The wallet provider's own tables. Its identities used to be password
    // accounts with an empty hash, and the rest browser sessions under
    // prefixed keys: those rows are left as they are, not carried over (a
    // demo data folder's wallet identities are made again by activating
    // the card), and the old sessions expire on their own.
    "
    CREATE TABLE wallet_identities (
        id TEXT PRIMARY KEY,
        binding TEXT UNIQUE,
        email TEXT NOT NULL,
        record BLOB NOT NULL,
        revision INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE wallet_deletion_links (
        key TEXT PRIMARY KEY,
        identity TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX wallet_deletion_links_identity ON wallet_deletion_links (identity);
    CREATE INDEX wallet_deletion_links_expiry ON wallet_deletion_links (expires_at);
    CREATE TABLE certification_requests (
        id TEXT PRIMARY KEY,
        identity TEXT NOT NULL UNIQUE,
        binding TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        decision BLOB
    ) STRICT;
    CREATE INDEX certification_requests_expiry ON certification_requests (expires_at);
    CREATE TABLE identity_proofs (
        id TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
        kept_until INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX identity_proofs_expiry ON identity_proofs (kept_until);
    CREATE TABLE login_transactions (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX login_transactions_expiry ON login_transactions (expires_at);
    CREATE TABLE login_refs (
        ref TEXT PRIMARY KEY,
        login TEXT NOT NULL,
        claimed INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX login_refs_expiry ON login_refs (expires_at);
    CREATE TABLE login_claims (
        claim TEXT PRIMARY KEY,
        login TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX login_claims_expiry ON login_claims (expires_at);
    CREATE TABLE confirmation_codes (
        key TEXT PRIMARY KEY,
        code_hash TEXT NOT NULL,
        value BLOB NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX confirmation_codes_expiry ON confirmation_codes (expires_at);
    CREATE TABLE used_once (
        key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX used_once_expiry ON used_once (expires_at);
",
    // The trail's second chain format: each entry carries its
    // predecessor's date (store::Trace::prev_at), each head its own.
    "
    ALTER TABLE traces ADD COLUMN prev_at INTEGER;
    ALTER TABLE trail_heads ADD COLUMN at INTEGER;
    UPDATE trail_heads SET at = (
        SELECT traces.at FROM traces
        WHERE traces.pseudonym = trail_heads.pseudonym AND traces.seq = trail_heads.seq
    );
",
];

mod group;

/// One connection over one SQLite file.
pub(crate) struct Sqlite {
    connection: Mutex<Connection>,
    /// The writes waiting for the next group commit.
    group: group::Group,
}

/// Any unique-key violation is a taken key, id or login; the rest is the
/// backend failing.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match &error {
            rusqlite::Error::SqliteFailure(failure, _)
                if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Conflict
            }
            _ => StoreError::Backend(Box::new(error)),
        }
    }
}

/// The statements each connection keeps prepared: every one we run.
const PREPARED: usize = 128;

impl Sqlite {
    /// Opens (creating if needed) the file and brings its schema up to date.
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(folder) = path.parent() {
            tokio::fs::create_dir_all(folder)
                .await
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        let connection = Connection::open(path)?;
        // WAL lets readers of other processes go on while one writes.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // Safe under WAL (a crash loses at most the last commits, never
        // corrupts) and much faster than FULL.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.set_prepared_statement_cache_capacity(PREPARED);
        let sqlite = Self {
            connection: Mutex::new(connection),
            group: group::Group::default(),
        };
        sqlite.upgrade_schema()?;
        Ok(sqlite)
    }

    /// Runs `work` on the connection.
    fn run<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        work(&mut connection)
    }

    /// Runs `work` in a `BEGIN IMMEDIATE` transaction, committed when it
    /// succeeds: the write lock is taken before anything is read.
    fn immediate<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run(|connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = work(&tx)?;
            tx.commit()?;
            Ok(done)
        })
    }

    /// Runs the schema entries this file has not run yet, under the write
    /// lock taken before reading the version, so two processes opening the
    /// same new file cannot both create the tables.
    fn upgrade_schema(&self) -> Result<(), StoreError> {
        self.immediate(|tx| {
            let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            let done = usize::try_from(version).map_err(|_| StoreError::Corrupt)?;
            if done > SCHEMA.len() {
                return Err(StoreError::Backend(
                    format!("database schema v{done} is newer than this program's").into(),
                ));
            }
            for (step, sql) in SCHEMA.iter().enumerate().skip(done) {
                tx.execute_batch(sql)?;
                // PRAGMA takes no bound parameters; `step + 1` is our own number.
                tx.execute_batch(&format!("PRAGMA user_version = {}", step + 1))?;
            }
            Ok(())
        })
    }

    /// Runs one statement; the rows it changed.
    fn execute(
        &self,
        sql: &'static str,
        values: impl rusqlite::Params,
    ) -> Result<usize, StoreError> {
        self.run(|connection| Ok(connection.prepare_cached(sql)?.execute(values)?))
    }

    /// The first row of a statement, read by `read`, when there is one.
    fn optional<T>(
        &self,
        sql: &'static str,
        values: impl rusqlite::Params,
        read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        self.run(|connection| {
            Ok(connection
                .prepare_cached(sql)?
                .query_row(values, read)
                .optional()?)
        })
    }

    /// Every row of a statement, each read by `read`.
    fn all<T>(
        &self,
        sql: &'static str,
        values: impl rusqlite::Params,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.run(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement.query_map(values, read)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    // The key-value tables share three statement shapes; each caller
    // passes its own complete SQL, so no SQL is ever built from strings.

    /// The value under `key` of a key-value table, when live at `now`.
    fn fetch_live(
        &self,
        sql: &'static str,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.optional(sql, params![key, now], |row| row.get(0))
    }

    /// Writes `value` under `key` until `expires_at` (an insert or upsert).
    fn write(
        &self,
        sql: &'static str,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(sql, params![key, value, expires_at])?;
        Ok(())
    }

    /// Deletes the row under `key`, there or not.
    fn delete_key(&self, sql: &'static str, key: &str) -> Result<(), StoreError> {
        self.execute(sql, params![key])?;
        Ok(())
    }

    /// Queues a message in the outbox, due at `due_at`, `attempts` made.
    async fn queue(
        &self,
        payload: &[u8],
        due_at: UnixSeconds,
        attempts: i64,
    ) -> Result<i64, StoreError> {
        let payload = payload.to_vec();
        self.grouped(move |tx| {
            Ok(tx
                .prepare_cached(
                    "INSERT INTO outbox (payload, due_at, attempts) VALUES (?, ?, ?) RETURNING id",
                )?
                .query_row(params![payload, due_at, attempts], |row| row.get(0))?)
        })
        .await
    }

    /// The number a `SELECT count(*)` answers.
    fn count_rows(&self, sql: &'static str) -> Result<u64, StoreError> {
        let count: Option<i64> = self.optional(sql, [], |row| row.get(0))?;
        u64::try_from(count.unwrap_or(0)).map_err(|_| StoreError::Corrupt)
    }

    /// One row read by a fallible mapping (`SELECT *` of a typed table).
    fn optional_row<T>(
        &self,
        sql: &'static str,
        values: impl rusqlite::Params,
        read: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.optional(sql, values, |row| Ok(read(row)))?.transpose()
    }

    /// Every row read by a fallible mapping.
    fn all_rows<T>(
        &self,
        sql: &'static str,
        values: impl rusqlite::Params,
        read: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.all(sql, values, |row| Ok(read(row)))?
            .into_iter()
            .collect()
    }
}

#[async_trait]
impl Sessions for Sqlite {
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM sessions WHERE key = ? AND ? < expires_at";
        self.fetch_live(sql, key, now)
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (key, value, expires_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
        self.write(sql, key, value, expires_at)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM sessions WHERE key = ?", key)
    }
}

#[async_trait]
impl Codes for Sqlite {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO codes (key, value, expires_at) VALUES (?, ?, ?)";
        self.write(sql, key, value, expires_at)
    }

    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError> {
        // RETURNING shows the row after the update, when the value is
        // already erased, so read and claim in one transaction instead.
        // IMMEDIATE takes the write lock first: concurrent takes queue, and
        // exactly one sees `used = 0`.
        self.immediate(|tx| {
            let live: Option<(Vec<u8>, bool)> = tx
                .prepare_cached("SELECT value, used FROM codes WHERE key = ? AND ? < expires_at")?
                .query_row(params![key, now], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            Ok(match live {
                None => Taken::Missing,
                Some((_, true)) => Taken::Replayed,
                Some((value, false)) => {
                    tx.prepare_cached("UPDATE codes SET used = 1, value = x'' WHERE key = ?")?
                        .execute(params![key])?;
                    Taken::Fresh(value)
                }
            })
        })
    }
}

#[async_trait]
impl Tokens for Sqlite {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO tokens (key, value, expires_at) VALUES (?, ?, ?)";
        self.write(sql, key, value, expires_at)
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM tokens WHERE key = ? AND ? < expires_at";
        self.fetch_live(sql, key, now)
    }

    async fn revoke(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM tokens WHERE key = ?", key)
    }
}

#[async_trait]
impl RateLimits for Sqlite {
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError> {
        // One upsert, so concurrent hits never lose a count. In SQLite's
        // DO UPDATE, bare column names are the row's values before the update.
        let hits: Option<i64> = self.optional(
            "INSERT INTO rate_windows (key, hits, ends_at) VALUES (?1, 1, ?3)
             ON CONFLICT (key) DO UPDATE SET
                 hits = CASE WHEN ends_at <= ?2 THEN 1 ELSE min(hits + 1, 4294967295) END,
                 ends_at = CASE WHEN ends_at <= ?2 THEN ?3 ELSE ends_at END
             RETURNING hits",
            params![key, now, now.saturating_add(window_secs)],
            |row| row.get(0),
        )?;
        u32::try_from(hits.ok_or(StoreError::Corrupt)?).map_err(|_| StoreError::Corrupt)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM rate_windows WHERE key = ?", key)
    }
}

/// Reads an `accounts` row; a status we never write means the row is corrupt.
fn account_from_row(row: &Row<'_>) -> Result<Account, StoreError> {
    let status: String = row.get("status")?;
    Ok(Account {
        id: row.get("id")?,
        login: row.get("login")?,
        password_hash: row.get("password_hash")?,
        email: row.get("email")?,
        identity: row.get("identity")?,
        status: AccountStatus::parse(&status).ok_or(StoreError::Corrupt)?,
        created_at: row.get("created_at")?,
    })
}

#[async_trait]
impl Accounts for Sqlite {
    async fn create(&self, account: &Account) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO accounts (id, login, password_hash, email, identity, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                account.id,
                account.login,
                account.password_hash,
                account.email,
                account.identity,
                account.status.as_str(),
                account.created_at
            ],
        )?;
        Ok(())
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let sql = "SELECT * FROM accounts WHERE login = ?";
        self.optional_row(sql, params![login], account_from_row)
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let sql = "SELECT * FROM accounts WHERE id = ?";
        self.optional_row(sql, params![id], account_from_row)
    }

    async fn update(&self, account: &Account) -> Result<(), StoreError> {
        let done = self.execute(
            "UPDATE accounts SET login = ?, password_hash = ?, email = ?, identity = ?,
                 status = ?, created_at = ?
             WHERE id = ?",
            params![
                account.login,
                account.password_hash,
                account.email,
                account.identity,
                account.status.as_str(),
                account.created_at,
                account.id
            ],
        )?;
        found(done != 0)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.count_rows("SELECT count(*) FROM accounts")
    }
}

#[async_trait]
impl Purge for Sqlite {
    async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        let mut purged = 0;
        for sql in [
            "DELETE FROM sessions WHERE expires_at <= ?",
            "DELETE FROM codes WHERE expires_at <= ?",
            "DELETE FROM tokens WHERE expires_at <= ?",
            "DELETE FROM rate_windows WHERE ends_at <= ?",
            "DELETE FROM open_sessions WHERE expires_at <= ?",
            "DELETE FROM wallet_deletion_links WHERE expires_at <= ?",
            "DELETE FROM certification_requests WHERE decision IS NULL AND expires_at < ?",
            "DELETE FROM identity_proofs WHERE kept_until <= ?",
            "DELETE FROM login_transactions WHERE expires_at <= ?",
            "DELETE FROM login_refs WHERE expires_at <= ?",
            "DELETE FROM login_claims WHERE expires_at <= ?",
            "DELETE FROM confirmation_codes WHERE expires_at <= ?",
            "DELETE FROM used_once WHERE expires_at <= ?",
        ] {
            purged += self.execute(sql, params![now])? as u64;
        }
        purged += self.execute(
            "DELETE FROM revocations WHERE at <= ?",
            params![now - REVOCATION_KEPT_SECS],
        )? as u64;
        Ok(purged)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.optional("SELECT 1", [], |row| row.get::<_, i64>(0))?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for Sqlite {
    async fn push(&self, payload: &[u8], due_at: UnixSeconds) -> Result<i64, StoreError> {
        self.queue(payload, due_at, 0).await
    }

    async fn push_claimed(
        &self,
        payload: &[u8],
        lease_until: UnixSeconds,
    ) -> Result<i64, StoreError> {
        self.queue(payload, lease_until, 1).await
    }

    async fn claim(
        &self,
        now: UnixSeconds,
        lease_until: UnixSeconds,
        limit: u32,
    ) -> Result<Vec<Queued>, StoreError> {
        // One statement: two workers never claim the same row.
        let rows: Vec<(i64, Vec<u8>, i64)> = self
            .grouped(move |tx| {
                let mut claim = tx.prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, due_at = ?2
                     WHERE id IN (
                         SELECT id FROM outbox WHERE due_at <= ?1 ORDER BY due_at, id LIMIT ?3
                     )
                     RETURNING id, payload, attempts",
                )?;
                let rows = claim.query_map(params![now, lease_until, i64::from(limit)], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let mut claimed = rows
            .into_iter()
            .map(|(id, payload, attempts)| {
                Ok(Queued {
                    id,
                    payload,
                    attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|queued| queued.id);
        Ok(claimed)
    }

    async fn remove(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.grouped(move |tx| {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?")?;
            for id in ids {
                delete.execute(params![id])?;
            }
            Ok(())
        })
        .await
    }

    async fn postpone(&self, id: i64, due_at: UnixSeconds) -> Result<(), StoreError> {
        let done = self.execute(
            "UPDATE outbox SET due_at = ? WHERE id = ?",
            params![due_at, id],
        )?;
        found(done != 0)
    }

    async fn waiting(&self) -> Result<u64, StoreError> {
        self.count_rows("SELECT count(*) FROM outbox")
    }
}

#[async_trait]
impl Traces for Sqlite {
    async fn append(
        &self,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        // The head moves in the same transaction as the insert, taken for
        // writing from the start: a second writer waits (busy timeout),
        // then chains onto the first one's entry. Entries appended at once
        // share a commit, each chained onto the one before it.
        let (pseudonym, body, key) = (pseudonym.to_owned(), body.to_vec(), key.clone());
        self.grouped(move |tx| {
            let head = tx
                .prepare_cached("SELECT seq, hash, at FROM trail_heads WHERE pseudonym = ?")?
                .query_row(params![pseudonym], |row| {
                    Ok(TrailHead {
                        seq: row.get(0)?,
                        hash: row.get(1)?,
                        at: row.get(2)?,
                    })
                })
                .optional()?;
            let trace = Trace::after(head, &pseudonym, at, &body, &key)?;
            tx.prepare_cached(
                "INSERT INTO traces (pseudonym, seq, at, body, prev_hash, prev_at, key_id, hash)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                pseudonym,
                trace.seq,
                at,
                body,
                trace.prev_hash.as_slice(),
                trace.prev_at,
                key.id,
                trace.hash.as_slice()
            ])?;
            tx.prepare_cached(
                "INSERT INTO trail_heads (pseudonym, seq, hash, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (pseudonym) DO UPDATE SET seq = ?2, hash = ?3, at = ?4",
            )?
            .execute(params![pseudonym, trace.seq, trace.hash.as_slice(), at])?;
            Ok(trace)
        })
        .await
    }

    /// The head is read as the entry is written, in the same transaction.
    async fn person(&self, pseudonym: &str) -> Result<Person, StoreError> {
        let settings = Preferences::load(self, pseudonym).await?;
        Ok(Person::read(pseudonym, settings, None))
    }

    async fn trail(&self, pseudonym: &str, since: UnixSeconds) -> Result<Vec<Trace>, StoreError> {
        let rows: Vec<TraceRow> = self.all(
            "SELECT seq, at, body, prev_hash, prev_at, key_id, hash FROM traces
             WHERE pseudonym = ? AND at >= ? ORDER BY seq",
            params![pseudonym, since],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            },
        )?;
        rows.into_iter().map(Trace::from_row).collect()
    }

    async fn forget_before(&self, before: UnixSeconds) -> Result<u64, StoreError> {
        Ok(self.execute("DELETE FROM traces WHERE at < ?", params![before])? as u64)
    }
}

#[async_trait]
impl Preferences for Sqlite {
    async fn load(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.optional(
            "SELECT value FROM preferences WHERE pseudonym = ?",
            params![pseudonym],
            |row| row.get(0),
        )
    }

    async fn save(&self, pseudonym: &str, value: &[u8]) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO preferences (pseudonym, value) VALUES (?1, ?2)
             ON CONFLICT (pseudonym) DO UPDATE SET value = ?2",
            params![pseudonym, value],
        )?;
        Ok(())
    }
}

#[async_trait]
impl Revocations for Sqlite {
    async fn push(
        &self,
        pseudonym: &str,
        provider: &str,
        at: UnixSeconds,
    ) -> Result<i64, StoreError> {
        self.optional(
            "INSERT INTO revocations (pseudonym, provider, at) VALUES (?, ?, ?) RETURNING id",
            params![pseudonym, provider, at],
            |row| row.get(0),
        )?
        .ok_or(StoreError::Corrupt)
    }

    async fn after(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        self.all(
            "SELECT id, pseudonym, provider, at FROM revocations WHERE id > ? ORDER BY id LIMIT ?",
            params![after, i64::from(limit)],
            |row| {
                Ok(Revocation {
                    id: row.get(0)?,
                    pseudonym: row.get(1)?,
                    provider: row.get(2)?,
                    at: row.get(3)?,
                })
            },
        )
    }
}

#[async_trait]
impl OpenSessions for Sqlite {
    async fn put(
        &self,
        group: &str,
        member: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO open_sessions (grp, member, value, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (grp, member) DO UPDATE SET value = ?3, expires_at = ?4",
            params![group, member, value, expires_at],
        )?;
        Ok(())
    }

    async fn take_group(&self, group: &str, now: UnixSeconds) -> Result<Vec<Vec<u8>>, StoreError> {
        // One statement: concurrent takers each get the rows they deleted.
        let rows: Vec<(Vec<u8>, i64)> = self.all(
            "DELETE FROM open_sessions WHERE grp = ? RETURNING value, expires_at",
            params![group],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(rows
            .into_iter()
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(value, _)| value)
            .collect())
    }
}

fn dossier_from_row(row: &Row<'_>) -> Result<Dossier, StoreError> {
    let status: String = row.get("status")?;
    Ok(Dossier {
        id: row.get("id")?,
        service: row.get("service")?,
        owner: row.get("owner")?,
        kind: row.get("kind")?,
        status: DossierStatus::parse(&status).ok_or(StoreError::Corrupt)?,
        content: row.get("content")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

#[async_trait]
impl Dossiers for Sqlite {
    async fn create(&self, dossier: &Dossier) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO dossiers (id, service, owner, kind, status, content, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                dossier.id,
                dossier.service,
                dossier.owner,
                dossier.kind,
                dossier.status.as_str(),
                dossier.content,
                dossier.created_at,
                dossier.updated_at
            ],
        )?;
        Ok(())
    }

    async fn update(&self, dossier: &Dossier) -> Result<(), StoreError> {
        let done = self.execute(
            "UPDATE dossiers SET status = ?, content = ?, updated_at = ?
             WHERE id = ? AND service = ? AND owner = ?",
            params![
                dossier.status.as_str(),
                dossier.content,
                dossier.updated_at,
                dossier.id,
                dossier.service,
                dossier.owner
            ],
        )?;
        found(done != 0)
    }

    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        let sql = "SELECT * FROM dossiers WHERE id = ?";
        self.optional_row(sql, params![id], dossier_from_row)
    }

    async fn of_owner(&self, service: &str, owner: &str) -> Result<Vec<Dossier>, StoreError> {
        self.all_rows(
            "SELECT * FROM dossiers WHERE service = ? AND owner = ?
             ORDER BY updated_at DESC, id DESC",
            params![service, owner],
            dossier_from_row,
        )
    }
}

/// Reads a `wallet_identities` row of a live identity.
fn wallet_identity_from_row(row: &Row<'_>) -> Result<WalletIdentity, StoreError> {
    let binding: Option<String> = row.get("binding")?;
    Ok(WalletIdentity {
        id: row.get("id")?,
        binding: binding.ok_or(StoreError::Corrupt)?,
        email: row.get("email")?,
        record: row.get("record")?,
        revision: row.get("revision")?,
        created_at: row.get("created_at")?,
    })
}

#[async_trait]
impl WalletIdentities for Sqlite {
    async fn create(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO wallet_identities (id, binding, email, record, revision, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
            params![
                identity.id,
                identity.binding,
                identity.email,
                identity.record,
                identity.revision,
                identity.created_at
            ],
        )?;
        Ok(())
    }

    async fn find_by_binding(&self, binding: &str) -> Result<Option<WalletIdentity>, StoreError> {
        let sql = "SELECT * FROM wallet_identities WHERE binding = ?";
        self.optional_row(sql, params![binding], wallet_identity_from_row)
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<WalletIdentity>, StoreError> {
        let sql = "SELECT * FROM wallet_identities WHERE id = ? AND binding IS NOT NULL";
        self.optional_row(sql, params![id], wallet_identity_from_row)
    }

    async fn update(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        let done = self.execute(
            "UPDATE wallet_identities SET email = ?, record = ?, revision = revision + 1
             WHERE id = ? AND binding IS NOT NULL AND revision = ?",
            params![
                identity.email,
                identity.record,
                identity.id,
                identity.revision
            ],
        )?;
        if done == 1 {
            return Ok(());
        }
        let still_there = WalletIdentities::find_by_id(self, &identity.id).await?;
        Err(refused(still_there.is_some()))
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.immediate(|tx| {
            tx.prepare_cached(
                "UPDATE wallet_identities SET binding = NULL, email = '', record = x'',
                     revision = revision + 1
                 WHERE id = ? AND binding IS NOT NULL",
            )?
            .execute(params![id])?;
            tx.prepare_cached("DELETE FROM wallet_deletion_links WHERE identity = ?")?
                .execute(params![id])?;
            Ok(())
        })
    }

    async fn add_deletion_link(
        &self,
        key: &str,
        id: &str,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO wallet_deletion_links (key, identity, expires_at) VALUES (?, ?, ?)",
            params![key, id, expires_at],
        )?;
        Ok(())
    }

    async fn find_by_deletion_link(
        &self,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<WalletIdentity>, StoreError> {
        self.optional_row(
            "SELECT i.* FROM wallet_deletion_links l JOIN wallet_identities i ON i.id = l.identity
             WHERE l.key = ? AND ? < l.expires_at AND i.binding IS NOT NULL",
            params![key, now],
            wallet_identity_from_row,
        )
    }
}

fn certification_request_from_row(row: &Row<'_>) -> Result<CertificationRequest, StoreError> {
    Ok(CertificationRequest {
        id: row.get("id")?,
        identity: row.get("identity")?,
        binding: row.get("binding")?,
        issued_at: row.get("issued_at")?,
        expires_at: row.get("expires_at")?,
        decision: row.get("decision")?,
    })
}

#[async_trait]
impl CertificationRequests for Sqlite {
    async fn create(
        &self,
        request: &CertificationRequest,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        // One row per identity (a unique index): the lapsed one goes first,
        // then the insert is refused while another is in course.
        self.immediate(|tx| {
            tx.prepare_cached(
                "DELETE FROM certification_requests
                 WHERE identity = ? AND decision IS NULL AND expires_at < ?",
            )?
            .execute(params![request.identity, now])?;
            tx.prepare_cached(
                "INSERT INTO certification_requests
                     (id, identity, binding, issued_at, expires_at, decision)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                request.id,
                request.identity,
                request.binding,
                request.issued_at,
                request.expires_at,
                request.decision.as_deref()
            ])?;
            Ok(())
        })
    }

    async fn get(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        self.optional_row(
            "SELECT * FROM certification_requests
             WHERE id = ? AND (decision IS NOT NULL OR ? <= expires_at)",
            params![id, now],
            certification_request_from_row,
        )
    }

    async fn in_course(
        &self,
        identity: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        self.optional_row(
            "SELECT * FROM certification_requests
             WHERE identity = ? AND (decision IS NOT NULL OR ? <= expires_at)",
            params![identity, now],
            certification_request_from_row,
        )
    }

    async fn decide(&self, id: &str, decision: &[u8], now: UnixSeconds) -> Result<(), StoreError> {
        // One statement: of two agents, the second finds it decided.
        let done = self.execute(
            "UPDATE certification_requests SET decision = ?
             WHERE id = ? AND decision IS NULL AND ? <= expires_at",
            params![decision, id, now],
        )?;
        if done == 1 {
            return Ok(());
        }
        let still_there = CertificationRequests::get(self, id, now).await?;
        Err(refused(still_there.is_some()))
    }

    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM certification_requests WHERE id = ?", id)
    }
}

#[async_trait]
impl IdentityProofs for Sqlite {
    async fn keep(
        &self,
        id: &str,
        value: &[u8],
        kept_until: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO identity_proofs (id, value, kept_until) VALUES (?, ?, ?)";
        self.write(sql, id, value, kept_until)
    }

    async fn load(&self, id: &str, now: UnixSeconds) -> Result<Option<KeptProof>, StoreError> {
        self.optional(
            "SELECT value, used FROM identity_proofs WHERE id = ? AND ? < kept_until",
            params![id, now],
            |row| {
                Ok(KeptProof {
                    value: row.get(0)?,
                    used: row.get(1)?,
                })
            },
        )
    }

    async fn consume(&self, id: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        let done = self.execute(
            "UPDATE identity_proofs SET used = 1 WHERE id = ? AND used = 0 AND ? < kept_until",
            params![id, now],
        )?;
        Ok(done == 1)
    }
}

#[async_trait]
impl LoginTransactions for Sqlite {
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO login_transactions (key, value, expires_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
        self.write(sql, key, value, expires_at)
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM login_transactions WHERE key = ? AND ? < expires_at";
        self.fetch_live(sql, key, now)
    }

    async fn finish(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM login_transactions WHERE key = ?", key)
    }

    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        self.immediate(|tx| {
            if let Some(old) = replaces {
                tx.prepare_cached("DELETE FROM login_refs WHERE ref = ? AND claimed = 0")?
                    .execute(params![old])?;
            }
            tx.prepare_cached("INSERT INTO login_refs (ref, login, expires_at) VALUES (?, ?, ?)")?
                .execute(params![qr_ref, key, expires_at])?;
            Ok(())
        })
    }

    async fn claim(
        &self,
        qr_ref: &str,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<QrClaim, StoreError> {
        // The write lock first: concurrent claims queue, and one finds the
        // reference unclaimed.
        self.immediate(|tx| {
            let shown: Option<(String, bool)> = tx
                .prepare_cached(
                    "SELECT login, claimed FROM login_refs WHERE ref = ? AND ? < expires_at",
                )?
                .query_row(params![qr_ref, now], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let login = match shown {
                None => return Ok(QrClaim::Unknown),
                Some((_, true)) => return Ok(QrClaim::AlreadyClaimed),
                Some((login, false)) => login,
            };
            let until: Option<i64> = tx
                .prepare_cached(
                    "SELECT expires_at FROM login_transactions WHERE key = ? AND ? < expires_at",
                )?
                .query_row(params![login, now], |row| row.get(0))
                .optional()?;
            let Some(until) = until else {
                return Ok(QrClaim::Unknown);
            };
            tx.prepare_cached("UPDATE login_refs SET claimed = 1, expires_at = ? WHERE ref = ?")?
                .execute(params![until, qr_ref])?;
            tx.prepare_cached(
                "INSERT INTO login_claims (claim, login, expires_at) VALUES (?, ?, ?)",
            )?
            .execute(params![claim, login, until])?;
            Ok(QrClaim::Claimed(login))
        })
    }

    async fn claimed(
        &self,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.optional(
            "SELECT t.key, t.value FROM login_claims c JOIN login_transactions t ON t.key = c.login
             WHERE c.claim = ?1 AND ?2 < c.expires_at AND ?2 < t.expires_at",
            params![claim, now],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    }

    async fn release(&self, claim: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM login_claims WHERE claim = ?", claim)
    }
}

#[async_trait]
impl ConfirmationCodes for Sqlite {
    async fn put(
        &self,
        key: &str,
        code_hash: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO confirmation_codes (key, code_hash, value, expires_at) VALUES (?, ?, ?, ?)",
            params![key, code_hash, value, expires_at],
        )?;
        Ok(())
    }

    async fn confirm(
        &self,
        key: &str,
        guess_hash: &str,
        max_tries: u32,
        now: UnixSeconds,
    ) -> Result<Confirmation, StoreError> {
        // The write lock first: every guess is counted, and one right
        // guess gets the value.
        self.immediate(|tx| {
            let mailed: Option<(String, Vec<u8>, i64)> = tx
                .prepare_cached(
                    "SELECT code_hash, value, tries FROM confirmation_codes
                     WHERE key = ? AND ? < expires_at",
                )?
                .query_row(params![key, now], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some((code_hash, value, tries)) = mailed else {
                return Ok(Confirmation::Missing);
            };
            let delete = "DELETE FROM confirmation_codes WHERE key = ?";
            Ok(if same_hash(&code_hash, guess_hash) {
                tx.prepare_cached(delete)?.execute(params![key])?;
                Confirmation::Confirmed(value)
            } else {
                let tries = u32::try_from(tries)
                    .map_err(|_| StoreError::Corrupt)?
                    .saturating_add(1);
                let tries_left = max_tries.saturating_sub(tries);
                if tries_left == 0 {
                    tx.prepare_cached(delete)?.execute(params![key])?;
                } else {
                    tx.prepare_cached("UPDATE confirmation_codes SET tries = ? WHERE key = ?")?
                        .execute(params![i64::from(tries), key])?;
                }
                Confirmation::Wrong { tries_left }
            })
        })
    }
}

#[async_trait]
impl UsedOnce for Sqlite {
    async fn mark(
        &self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        // One upsert: a live mark is left alone and returns no row.
        let marked: Option<String> = self.optional(
            "INSERT INTO used_once (key, expires_at) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE expires_at <= ?3
             RETURNING key",
            params![key, until, now],
            |row| row.get(0),
        )?;
        Ok(marked.is_some())
    }
}
