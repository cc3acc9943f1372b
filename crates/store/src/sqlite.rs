//! The SQLite backend: one file, for a single-node deployment.
//!
//! SQLite has one writer at a time. An operation that must be atomic is a
//! single statement (counting a hit) or a `BEGIN IMMEDIATE` transaction
//! (taking a code), which takes the write lock before reading.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use crate::{
    Account, AccountStatus, Accounts, CertificationRequest, CertificationRequests, Codes,
    Confirmation, ConfirmationCodes, Dossier, DossierStatus, Dossiers, IdentityProofs, KeptProof,
    LoginTransactions, OpenSessions, Outbox, Preferences, Purge, QrClaim, Queued,
    REVOCATION_KEPT_SECS, RateLimits, Revocation, Revocations, Sessions, StoreError, Taken, Tokens,
    Trace, Traces, TrailKey, UnixSeconds, UsedOnce, WalletIdentities, WalletIdentity, same_hash,
    trace_hash,
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
];

/// A pool over one SQLite file.
pub(crate) struct Sqlite {
    pool: SqlitePool,
}

/// Any unique-key violation is a taken key, id or login; the rest is the
/// backend failing.
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Backend(Box::new(error)),
        }
    }
}

impl Sqlite {
    /// Opens (creating if needed) the file and brings its schema up to date.
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(folder) = path.parent() {
            tokio::fs::create_dir_all(folder)
                .await
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL lets readers go on while the one writer writes.
            .journal_mode(SqliteJournalMode::Wal)
            // Safe under WAL (a crash loses at most the last commits, never
            // corrupts) and much faster than FULL.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // Small: SQLite serialises writers anyway; more connections would
        // only wait on its lock.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let sqlite = Self { pool };
        sqlite.upgrade_schema().await?;
        Ok(sqlite)
    }

    /// Runs the schema entries this file has not run yet. `BEGIN IMMEDIATE`
    /// takes the write lock before reading the version, so two processes
    /// opening the same new file cannot both create the tables.
    async fn upgrade_schema(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        let done = usize::try_from(version).map_err(|_| StoreError::Corrupt)?;
        if done > SCHEMA.len() {
            return Err(StoreError::Backend(
                format!("database schema v{done} is newer than this program's").into(),
            ));
        }
        for (step, sql) in SCHEMA.iter().enumerate().skip(done) {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            // PRAGMA takes no bound parameters; `step + 1` is our own number.
            sqlx::raw_sql(&format!("PRAGMA user_version = {}", step + 1))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // The key-value tables share three statement shapes; each caller
    // passes its own complete SQL, so no SQL is ever built from strings.

    async fn fetch_live(
        &self,
        sql: &'static str,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let query = sqlx::query_scalar(sql).bind(key).bind(now);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn write(
        &self,
        sql: &'static str,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(sql).bind(key).bind(value).bind(expires_at);
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_key(&self, sql: &'static str, key: &str) -> Result<(), StoreError> {
        sqlx::query(sql).bind(key).execute(&self.pool).await?;
        Ok(())
    }

    /// One account by a unique column, `sql` naming which.
    async fn find_account(
        &self,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }
}

#[async_trait]
impl Sessions for Sqlite {
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM sessions WHERE key = ? AND ? < expires_at";
        self.fetch_live(sql, key, now).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (key, value, expires_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
        self.write(sql, key, value, expires_at).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM sessions WHERE key = ?", key)
            .await
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
        self.write(sql, key, value, expires_at).await
    }

    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError> {
        // RETURNING shows the row after the update, when the value is
        // already erased, so read and claim in one transaction instead.
        // IMMEDIATE takes the write lock first: concurrent takes queue, and
        // exactly one sees `used = 0`.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let live: Option<(Vec<u8>, bool)> =
            sqlx::query_as("SELECT value, used FROM codes WHERE key = ? AND ? < expires_at")
                .bind(key)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
        let taken = match live {
            None => Taken::Missing,
            Some((_, true)) => Taken::Replayed,
            Some((value, false)) => {
                sqlx::query("UPDATE codes SET used = 1, value = x'' WHERE key = ?")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                Taken::Fresh(value)
            }
        };
        tx.commit().await?;
        Ok(taken)
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
        self.write(sql, key, value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM tokens WHERE key = ? AND ? < expires_at";
        self.fetch_live(sql, key, now).await
    }

    async fn revoke(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM tokens WHERE key = ?", key)
            .await
    }
}

#[async_trait]
impl RateLimits for Sqlite {
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError> {
        // One upsert, so concurrent hits never lose a count. In SQLite's
        // DO UPDATE, bare column names are the row's values before the update.
        let hits: i64 = sqlx::query_scalar(
            "INSERT INTO rate_windows (key, hits, ends_at) VALUES (?1, 1, ?3)
             ON CONFLICT (key) DO UPDATE SET
                 hits = CASE WHEN ends_at <= ?2 THEN 1 ELSE min(hits + 1, 4294967295) END,
                 ends_at = CASE WHEN ends_at <= ?2 THEN ?3 ELSE ends_at END
             RETURNING hits",
        )
        .bind(key)
        .bind(now)
        .bind(now.saturating_add(window_secs))
        .fetch_one(&self.pool)
        .await?;
        u32::try_from(hits).map_err(|_| StoreError::Corrupt)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM rate_windows WHERE key = ?", key)
            .await
    }
}

/// Reads an `accounts` row; a status we never write means the row is corrupt.
fn account_from_row(row: &SqliteRow) -> Result<Account, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Account {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        password_hash: row.try_get("password_hash")?,
        email: row.try_get("email")?,
        identity: row.try_get("identity")?,
        status: AccountStatus::parse(&status).ok_or(StoreError::Corrupt)?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl Accounts for Sqlite {
    async fn create(&self, account: &Account) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (id, login, password_hash, email, identity, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&account.id)
        .bind(&account.login)
        .bind(&account.password_hash)
        .bind(&account.email)
        .bind(&account.identity)
        .bind(account.status.as_str())
        .bind(account.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        self.find_account("SELECT * FROM accounts WHERE login = ?", login)
            .await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.find_account("SELECT * FROM accounts WHERE id = ?", id)
            .await
    }

    async fn update(&self, account: &Account) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET login = ?, password_hash = ?, email = ?, identity = ?,
                 status = ?, created_at = ?
             WHERE id = ?",
        )
        .bind(&account.login)
        .bind(&account.password_hash)
        .bind(&account.email)
        .bind(&account.identity)
        .bind(account.status.as_str())
        .bind(account.created_at)
        .bind(&account.id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt)
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
            purged += sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        purged += sqlx::query("DELETE FROM revocations WHERE at <= ?")
            .bind(now - REVOCATION_KEPT_SECS)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(purged)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for Sqlite {
    async fn push(&self, payload: &[u8], due_at: UnixSeconds) -> Result<i64, StoreError> {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO outbox (payload, due_at) VALUES (?, ?) RETURNING id")
                .bind(payload)
                .bind(due_at)
                .fetch_one(&self.pool)
                .await?;
        Ok(id)
    }

    async fn claim(
        &self,
        now: UnixSeconds,
        lease_until: UnixSeconds,
        limit: u32,
    ) -> Result<Vec<Queued>, StoreError> {
        // One statement: two workers never claim the same row.
        let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(
            "UPDATE outbox SET attempts = attempts + 1, due_at = ?2
             WHERE id IN (SELECT id FROM outbox WHERE due_at <= ?1 ORDER BY due_at, id LIMIT ?3)
             RETURNING id, payload, attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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

    async fn remove(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn postpone(&self, id: i64, due_at: UnixSeconds) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE outbox SET due_at = ? WHERE id = ?")
            .bind(due_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn waiting(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt)
    }
}

fn hash_of(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt)
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
        // then chains onto the first one's entry.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM trail_heads WHERE pseudonym = ?")
                .bind(pseudonym)
                .fetch_optional(&mut *tx)
                .await?;
        let (last_seq, prev_hash) = match head {
            Some((seq, hash)) => (seq, hash_of(hash)?),
            None => (0, [0; 32]),
        };
        let seq = last_seq + 1;
        let hash = trace_hash(&key.secret, pseudonym, &prev_hash, seq, at, body);
        sqlx::query(
            "INSERT INTO traces (pseudonym, seq, at, body, prev_hash, key_id, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(pseudonym)
        .bind(seq)
        .bind(at)
        .bind(body)
        .bind(prev_hash.as_slice())
        .bind(&key.id)
        .bind(hash.as_slice())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO trail_heads (pseudonym, seq, hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (pseudonym) DO UPDATE SET seq = ?2, hash = ?3",
        )
        .bind(pseudonym)
        .bind(seq)
        .bind(hash.as_slice())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Trace {
            seq,
            at,
            body: body.to_vec(),
            prev_hash,
            key_id: key.id.clone(),
            hash,
        })
    }

    async fn trail(&self, pseudonym: &str, since: UnixSeconds) -> Result<Vec<Trace>, StoreError> {
        let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>, String, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, at, body, prev_hash, key_id, hash FROM traces
             WHERE pseudonym = ? AND at >= ? ORDER BY seq",
        )
        .bind(pseudonym)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(seq, at, body, prev_hash, key_id, hash)| {
                Ok(Trace {
                    seq,
                    at,
                    body,
                    prev_hash: hash_of(prev_hash)?,
                    key_id,
                    hash: hash_of(hash)?,
                })
            })
            .collect()
    }

    async fn forget_before(&self, before: UnixSeconds) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM traces WHERE at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl Preferences for Sqlite {
    async fn load(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM preferences WHERE pseudonym = ?")
                .bind(pseudonym)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn save(&self, pseudonym: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO preferences (pseudonym, value) VALUES (?1, ?2)
             ON CONFLICT (pseudonym) DO UPDATE SET value = ?2",
        )
        .bind(pseudonym)
        .bind(value)
        .execute(&self.pool)
        .await?;
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
        Ok(sqlx::query_scalar(
            "INSERT INTO revocations (pseudonym, provider, at) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(pseudonym)
        .bind(provider)
        .bind(at)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn after(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, pseudonym, provider, at FROM revocations WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, pseudonym, provider, at)| Revocation {
                id,
                pseudonym,
                provider,
                at,
            })
            .collect())
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
        sqlx::query(
            "INSERT INTO open_sessions (grp, member, value, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (grp, member) DO UPDATE SET value = ?3, expires_at = ?4",
        )
        .bind(group)
        .bind(member)
        .bind(value)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_group(&self, group: &str, now: UnixSeconds) -> Result<Vec<Vec<u8>>, StoreError> {
        // One statement: concurrent takers each get the rows they deleted.
        let rows: Vec<(Vec<u8>, i64)> =
            sqlx::query_as("DELETE FROM open_sessions WHERE grp = ? RETURNING value, expires_at")
                .bind(group)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(value, _)| value)
            .collect())
    }
}

impl Sqlite {
    fn dossier(row: &SqliteRow) -> Result<Dossier, StoreError> {
        let status: String = row.try_get("status")?;
        Ok(Dossier {
            id: row.try_get("id")?,
            service: row.try_get("service")?,
            owner: row.try_get("owner")?,
            kind: row.try_get("kind")?,
            status: DossierStatus::parse(&status).ok_or(StoreError::Corrupt)?,
            content: row.try_get("content")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

#[async_trait]
impl Dossiers for Sqlite {
    async fn create(&self, dossier: &Dossier) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dossiers (id, service, owner, kind, status, content, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&dossier.id)
        .bind(&dossier.service)
        .bind(&dossier.owner)
        .bind(&dossier.kind)
        .bind(dossier.status.as_str())
        .bind(&dossier.content)
        .bind(dossier.created_at)
        .bind(dossier.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update(&self, dossier: &Dossier) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE dossiers SET status = ?, content = ?, updated_at = ?
             WHERE id = ? AND service = ? AND owner = ?",
        )
        .bind(dossier.status.as_str())
        .bind(&dossier.content)
        .bind(dossier.updated_at)
        .bind(&dossier.id)
        .bind(&dossier.service)
        .bind(&dossier.owner)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        sqlx::query("SELECT * FROM dossiers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(Self::dossier)
            .transpose()
    }

    async fn of_owner(&self, service: &str, owner: &str) -> Result<Vec<Dossier>, StoreError> {
        sqlx::query(
            "SELECT * FROM dossiers WHERE service = ? AND owner = ?
             ORDER BY updated_at DESC, id DESC",
        )
        .bind(service)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::dossier)
        .collect()
    }
}

/// Reads a `wallet_identities` row of a live identity.
fn wallet_identity_from_row(row: &SqliteRow) -> Result<WalletIdentity, StoreError> {
    let binding: Option<String> = row.try_get("binding")?;
    Ok(WalletIdentity {
        id: row.try_get("id")?,
        binding: binding.ok_or(StoreError::Corrupt)?,
        email: row.try_get("email")?,
        record: row.try_get("record")?,
        revision: row.try_get("revision")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Sqlite {
    /// One live identity, `sql` naming how it is found from `value`.
    async fn find_wallet_identity(
        &self,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<WalletIdentity>, StoreError> {
        sqlx::query(sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(wallet_identity_from_row)
            .transpose()
    }
}

#[async_trait]
impl WalletIdentities for Sqlite {
    async fn create(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wallet_identities (id, binding, email, record, revision, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&identity.id)
        .bind(&identity.binding)
        .bind(&identity.email)
        .bind(&identity.record)
        .bind(identity.revision)
        .bind(identity.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_by_binding(&self, binding: &str) -> Result<Option<WalletIdentity>, StoreError> {
        let sql = "SELECT * FROM wallet_identities WHERE binding = ?";
        self.find_wallet_identity(sql, binding).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<WalletIdentity>, StoreError> {
        let sql = "SELECT * FROM wallet_identities WHERE id = ? AND binding IS NOT NULL";
        self.find_wallet_identity(sql, id).await
    }

    async fn update(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE wallet_identities SET email = ?, record = ?, revision = revision + 1
             WHERE id = ? AND binding IS NOT NULL AND revision = ?",
        )
        .bind(&identity.email)
        .bind(&identity.record)
        .bind(&identity.id)
        .bind(identity.revision)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        match WalletIdentities::find_by_id(self, &identity.id).await? {
            Some(_) => Err(StoreError::Conflict),
            None => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE wallet_identities SET binding = NULL, email = '', record = x'',
                 revision = revision + 1
             WHERE id = ? AND binding IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM wallet_deletion_links WHERE identity = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_deletion_link(
        &self,
        key: &str,
        id: &str,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wallet_deletion_links (key, identity, expires_at) VALUES (?, ?, ?)",
        )
        .bind(key)
        .bind(id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_by_deletion_link(
        &self,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<WalletIdentity>, StoreError> {
        sqlx::query(
            "SELECT i.* FROM wallet_deletion_links l JOIN wallet_identities i ON i.id = l.identity
             WHERE l.key = ? AND ? < l.expires_at AND i.binding IS NOT NULL",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(wallet_identity_from_row)
        .transpose()
    }
}

fn certification_request_from_row(row: &SqliteRow) -> Result<CertificationRequest, StoreError> {
    Ok(CertificationRequest {
        id: row.try_get("id")?,
        identity: row.try_get("identity")?,
        binding: row.try_get("binding")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        decision: row.try_get("decision")?,
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "DELETE FROM certification_requests
             WHERE identity = ? AND decision IS NULL AND expires_at < ?",
        )
        .bind(&request.identity)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO certification_requests
                 (id, identity, binding, issued_at, expires_at, decision)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&request.id)
        .bind(&request.identity)
        .bind(&request.binding)
        .bind(request.issued_at)
        .bind(request.expires_at)
        .bind(request.decision.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get(
        &self,
        id: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        sqlx::query(
            "SELECT * FROM certification_requests
             WHERE id = ? AND (decision IS NOT NULL OR ? <= expires_at)",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(certification_request_from_row)
        .transpose()
    }

    async fn in_course(
        &self,
        identity: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        sqlx::query(
            "SELECT * FROM certification_requests
             WHERE identity = ? AND (decision IS NOT NULL OR ? <= expires_at)",
        )
        .bind(identity)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(certification_request_from_row)
        .transpose()
    }

    async fn decide(&self, id: &str, decision: &[u8], now: UnixSeconds) -> Result<(), StoreError> {
        // One statement: of two agents, the second finds it decided.
        let done = sqlx::query(
            "UPDATE certification_requests SET decision = ?
             WHERE id = ? AND decision IS NULL AND ? <= expires_at",
        )
        .bind(decision)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        match CertificationRequests::get(self, id, now).await? {
            Some(_) => Err(StoreError::Conflict),
            None => Err(StoreError::NotFound),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM certification_requests WHERE id = ?", id)
            .await
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
        self.write(sql, id, value, kept_until).await
    }

    async fn load(&self, id: &str, now: UnixSeconds) -> Result<Option<KeptProof>, StoreError> {
        let row: Option<(Vec<u8>, bool)> = sqlx::query_as(
            "SELECT value, used FROM identity_proofs WHERE id = ? AND ? < kept_until",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(value, used)| KeptProof { value, used }))
    }

    async fn consume(&self, id: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE identity_proofs SET used = 1 WHERE id = ? AND used = 0 AND ? < kept_until",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
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
        self.write(sql, key, value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM login_transactions WHERE key = ? AND ? < expires_at";
        self.fetch_live(sql, key, now).await
    }

    async fn finish(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM login_transactions WHERE key = ?", key)
            .await
    }

    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM login_refs WHERE ref = ? AND claimed = 0")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO login_refs (ref, login, expires_at) VALUES (?, ?, ?)")
            .bind(qr_ref)
            .bind(key)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim(
        &self,
        qr_ref: &str,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<QrClaim, StoreError> {
        // The write lock first: concurrent claims queue, and one finds the
        // reference unclaimed.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let shown: Option<(String, bool)> = sqlx::query_as(
            "SELECT login, claimed FROM login_refs WHERE ref = ? AND ? < expires_at",
        )
        .bind(qr_ref)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let login = match shown {
            None => return Ok(QrClaim::Unknown),
            Some((_, true)) => return Ok(QrClaim::AlreadyClaimed),
            Some((login, false)) => login,
        };
        let until: Option<i64> = sqlx::query_scalar(
            "SELECT expires_at FROM login_transactions WHERE key = ? AND ? < expires_at",
        )
        .bind(&login)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(until) = until else {
            return Ok(QrClaim::Unknown);
        };
        sqlx::query("UPDATE login_refs SET claimed = 1, expires_at = ? WHERE ref = ?")
            .bind(until)
            .bind(qr_ref)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_claims (claim, login, expires_at) VALUES (?, ?, ?)")
            .bind(claim)
            .bind(&login)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(QrClaim::Claimed(login))
    }

    async fn claimed(
        &self,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT t.key, t.value FROM login_claims c JOIN login_transactions t ON t.key = c.login
             WHERE c.claim = ?1 AND ?2 < c.expires_at AND ?2 < t.expires_at",
        )
        .bind(claim)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn release(&self, claim: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM login_claims WHERE claim = ?", claim)
            .await
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
        sqlx::query(
            "INSERT INTO confirmation_codes (key, code_hash, value, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(key)
        .bind(code_hash)
        .bind(value)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mailed: Option<(String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT code_hash, value, tries FROM confirmation_codes WHERE key = ? AND ? < expires_at",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((code_hash, value, tries)) = mailed else {
            return Ok(Confirmation::Missing);
        };
        let delete = "DELETE FROM confirmation_codes WHERE key = ?";
        let answer = if same_hash(&code_hash, guess_hash) {
            sqlx::query(delete).bind(key).execute(&mut *tx).await?;
            Confirmation::Confirmed(value)
        } else {
            let tries = u32::try_from(tries)
                .map_err(|_| StoreError::Corrupt)?
                .saturating_add(1);
            let tries_left = max_tries.saturating_sub(tries);
            if tries_left == 0 {
                sqlx::query(delete).bind(key).execute(&mut *tx).await?;
            } else {
                sqlx::query("UPDATE confirmation_codes SET tries = ? WHERE key = ?")
                    .bind(i64::from(tries))
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            Confirmation::Wrong { tries_left }
        };
        tx.commit().await?;
        Ok(answer)
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
        let marked: Option<String> = sqlx::query_scalar(
            "INSERT INTO used_once (key, expires_at) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE expires_at <= ?3
             RETURNING key",
        )
        .bind(key)
        .bind(until)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(marked.is_some())
    }
}
