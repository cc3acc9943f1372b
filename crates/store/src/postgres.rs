//! The PostgreSQL backend: one database shared by any number of processes,
//! each part of the federation in a schema of its own (`hub_standard`,
//! `idp-impots`…), so that parts never see each other's rows.
//!
//! The schema is versioned: [`migrate`] (`passerelle migrate`) brings a
//! database up to this program's version under an advisory lock, and
//! [`Postgres::open`] refuses a database that is behind or ahead, never
//! upgrading a running cluster by surprise. Atomic operations are single
//! statements, or transactions that lock the rows they read (`FOR UPDATE`,
//! `SKIP LOCKED` for queues); a trail's entry is one statement that moves
//! its head only from where it was read, retried when another came first.

use std::time::Duration;

use async_trait::async_trait;
use std::str::FromStr;

use sqlx::Row;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgRow};

mod pool;

pub use pool::PING_IDLE;
use pool::Pool;

use crate::{
    Account, AccountStatus, Accounts, CertificationRequest, CertificationRequests, Codes,
    Confirmation, ConfirmationCodes, Dossier, DossierStatus, Dossiers, IdentityProofs, KeptProof,
    LoginTransactions, OpenSessions, Outbox, Person, Preferences, Purge, QrClaim, Queued,
    REVOCATION_KEPT_SECS, RateLimits, Revocation, Revocations, Sessions, StoreError, Taken, Tokens,
    Trace, TraceRow, Traces, TrailHead, TrailKey, UnixSeconds, UsedOnce, WalletIdentities,
    WalletIdentity, found, refused, same_hash,
};

/// The migrations, one entry per version: entry `n` takes a database from
/// version `n` to `n + 1`. Append, never edit: deployed databases have run
/// the old entries.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        value BYTEA NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX sessions_expiry ON sessions (expires_at);
    CREATE TABLE codes (
        key TEXT PRIMARY KEY,
        value BYTEA NOT NULL,
        used BOOLEAN NOT NULL DEFAULT FALSE,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX codes_expiry ON codes (expires_at);
    CREATE TABLE tokens (
        key TEXT PRIMARY KEY,
        value BYTEA NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX tokens_expiry ON tokens (expires_at);
    CREATE TABLE rate_windows (
        key TEXT PRIMARY KEY,
        hits BIGINT NOT NULL,
        ends_at BIGINT NOT NULL
    );
    CREATE INDEX rate_windows_expiry ON rate_windows (ends_at);
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        email TEXT NOT NULL,
        identity TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'locked')),
        created_at BIGINT NOT NULL
    );
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        payload BYTEA NOT NULL,
        due_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_due ON outbox (due_at);
    CREATE TABLE traces (
        pseudonym TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        body BYTEA NOT NULL,
        prev_hash BYTEA NOT NULL,
        key_id TEXT NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (pseudonym, seq)
    );
    CREATE INDEX traces_at ON traces (at);
    CREATE TABLE trail_heads (
        pseudonym TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL
    );
    CREATE TABLE preferences (
        pseudonym TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE dossiers (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
        content BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX dossiers_owner ON dossiers (service, owner);
    CREATE UNIQUE INDEX dossiers_one_draft ON dossiers (service, owner, kind)
        WHERE status = 'draft';
    CREATE TABLE revocations (
        id BIGSERIAL PRIMARY KEY,
        pseudonym TEXT NOT NULL,
        provider TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX revocations_at ON revocations (at);
    CREATE TABLE open_sessions (
        grp TEXT NOT NULL,
        member TEXT NOT NULL,
        value BYTEA NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (grp, member)
    );
    CREATE INDEX open_sessions_expiry ON open_sessions (expires_at);
",
    // v2: the wallet provider's own tables. Its identities used to be
    // password accounts with an empty hash, and the rest browser sessions
    // under prefixed keys: those rows are left as they are, not carried
    // over (identities are made again by activating the card), and the old
    // sessions expire on their own.
    "
    CREATE TABLE wallet_identities (
        id TEXT PRIMARY KEY,
        binding TEXT UNIQUE,
        email TEXT NOT NULL,
        record BYTEA NOT NULL,
        revision BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE wallet_deletion_links (
        key TEXT PRIMARY KEY,
        identity TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX wallet_deletion_links_identity ON wallet_deletion_links (identity);
    CREATE INDEX wallet_deletion_links_expiry ON wallet_deletion_links (expires_at);
    CREATE TABLE certification_requests (
        id TEXT PRIMARY KEY,
        identity TEXT NOT NULL UNIQUE,
        binding TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        decision BYTEA
    );
    CREATE INDEX certification_requests_expiry ON certification_requests (expires_at);
    CREATE TABLE identity_proofs (
        id TEXT PRIMARY KEY,
        value BYTEA NOT NULL,
        used BOOLEAN NOT NULL DEFAULT FALSE,
        kept_until BIGINT NOT NULL
    );
    CREATE INDEX identity_proofs_expiry ON identity_proofs (kept_until);
    CREATE TABLE login_transactions (
        key TEXT PRIMARY KEY,
        value BYTEA NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX login_transactions_expiry ON login_transactions (expires_at);
    CREATE TABLE login_refs (
        ref TEXT PRIMARY KEY,
        login TEXT NOT NULL,
        claimed BOOLEAN NOT NULL DEFAULT FALSE,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX login_refs_expiry ON login_refs (expires_at);
    CREATE TABLE login_claims (
        claim TEXT PRIMARY KEY,
        login TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX login_claims_expiry ON login_claims (expires_at);
    CREATE TABLE confirmation_codes (
        key TEXT PRIMARY KEY,
        code_hash TEXT NOT NULL,
        value BYTEA NOT NULL,
        tries BIGINT NOT NULL DEFAULT 0,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX confirmation_codes_expiry ON confirmation_codes (expires_at);
    CREATE TABLE used_once (
        key TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX used_once_expiry ON used_once (expires_at);
",
    // The trail's second chain format: each entry carries its
    // predecessor's date (store::Trace::prev_at), each head its own.
    "
    ALTER TABLE traces ADD COLUMN prev_at BIGINT;
    ALTER TABLE trail_heads ADD COLUMN at BIGINT;
    UPDATE trail_heads SET at = traces.at FROM traces
    WHERE traces.pseudonym = trail_heads.pseudonym AND traces.seq = trail_heads.seq;
",
];

/// The schema version this program runs.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a query may wait for a connection before the store answers an
/// error (a page then says « service indisponible »), never a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

fn backend(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

/// A schema name we make: lowercase letters, digits, `_` and `-`, so that
/// it is safe between double quotes.
fn check_schema(schema: &str) -> Result<(), StoreError> {
    let fine = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if fine {
        Ok(())
    } else {
        Err(backend(format!("{schema:?} is not a schema name of ours")))
    }
}

/// The connection settings for `schema` of the database at `url`.
fn options(url: &str, schema: &str) -> Result<PgConnectOptions, StoreError> {
    check_schema(schema)?;
    Ok(PgConnectOptions::from_str(url)?.options([("search_path", schema)]))
}

/// The schema's version (0 for a schema never migrated).
async fn version_of(pool: &Pool) -> Result<i64, StoreError> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_name = 'passerelle_schema')",
    )
    .fetch_one(pool)
    .await?;
    if !exists {
        return Ok(0);
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM passerelle_schema")
        .fetch_one(pool)
        .await?;
    Ok(version.unwrap_or(0))
}

/// Brings `schema` of the database at `url` to [`SCHEMA_VERSION`],
/// creating it when missing; returns the version it was at. Safe to run
/// from several processes at once (an advisory lock lets one migrate, the
/// others then find nothing to do); refuses a schema newer than this
/// program.
pub async fn migrate(url: &str, schema: &str) -> Result<i64, StoreError> {
    let deadline = tokio::time::Instant::now() + ACQUIRE_TIMEOUT;
    let mut connection = pool::connect(&options(url, schema)?, deadline).await?;
    let mut tx = sqlx::Connection::begin(&mut connection).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("passerelle-migrate:{schema}"))
        .execute(&mut *tx)
        .await?;
    // The name was checked: safe between double quotes.
    sqlx::Executor::execute(
        &mut *tx,
        format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str(),
    )
    .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS passerelle_schema (version BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let from: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM passerelle_schema")
        .fetch_one(&mut *tx)
        .await?;
    let from = from.unwrap_or(0);
    if from > SCHEMA_VERSION {
        return Err(backend(format!(
            "database schema v{from} is newer than this program's v{SCHEMA_VERSION}"
        )));
    }
    let done = usize::try_from(from).map_err(|_| StoreError::Corrupt)?;
    let pending: Vec<(i64, &'static str)> = (1_i64..)
        .zip(MIGRATIONS.iter().copied())
        .skip(done)
        .collect();
    for (version, sql) in pending {
        // A plain string runs by the simple protocol: several statements.
        sqlx::Executor::execute(&mut *tx, sql).await?;
        sqlx::query("INSERT INTO passerelle_schema (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    sqlx::Connection::close(connection).await?;
    Ok(from)
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

/// A pool over one PostgreSQL database.
pub(crate) struct Postgres {
    pool: Pool,
}

impl Postgres {
    /// Connects to `schema` and checks that it is this program's: behind,
    /// it asks for `passerelle migrate`; ahead, it refuses to run.
    pub(crate) async fn open(url: &str, schema: &str) -> Result<Self, StoreError> {
        let pool = Pool::new(options(url, schema)?, ACQUIRE_TIMEOUT);
        let version = version_of(&pool).await?;
        if version < SCHEMA_VERSION {
            return Err(backend(format!(
                "database schema v{version} is behind this program's v{SCHEMA_VERSION}: run `passerelle migrate`"
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(backend(format!(
                "database schema v{version} is newer than this program's v{SCHEMA_VERSION}"
            )));
        }
        Ok(Self { pool })
    }

    /// Queues a message in the outbox, due at `due_at`, `attempts` made.
    async fn queue(
        &self,
        payload: &[u8],
        due_at: UnixSeconds,
        attempts: i32,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO outbox (payload, due_at, attempts) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(payload)
        .bind(due_at)
        .bind(attempts)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The value under `key` of a key-value table, when live at `now`.
    async fn fetch_live(
        &self,
        sql: &'static str,
        key: &str,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar(sql)
            .bind(key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Writes `value` under `key` until `expires_at` (an insert or upsert).
    async fn write(
        &self,
        sql: &'static str,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        sqlx::query(sql)
            .bind(key)
            .bind(value)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the row under `key`, there or not.
    async fn delete_key(&self, sql: &'static str, key: &str) -> Result<(), StoreError> {
        sqlx::query(sql).bind(key).execute(&self.pool).await?;
        Ok(())
    }

    /// The row `query` finds, when there is one, read by `read`.
    async fn optional_row<T>(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, PgArguments>,
        read: fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        query
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(read)
            .transpose()
    }

    /// The number a `SELECT count(*)` answers.
    async fn count_rows(&self, sql: &'static str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt)
    }
}

#[async_trait]
impl Sessions for Postgres {
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM sessions WHERE key = $1 AND $2 < expires_at";
        self.fetch_live(sql, key, now).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (key, value, expires_at) VALUES ($1, $2, $3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
        self.write(sql, key, value, expires_at).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM sessions WHERE key = $1", key)
            .await
    }
}

#[async_trait]
impl Codes for Postgres {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO codes (key, value, expires_at) VALUES ($1, $2, $3)";
        self.write(sql, key, value, expires_at).await
    }

    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError> {
        // The row is locked while read: of concurrent takes, one sees it
        // unused, the others wait and then see it used.
        let mut tx = self.pool.begin().await?;
        let live: Option<(Vec<u8>, bool)> = sqlx::query_as(
            "SELECT value, used FROM codes WHERE key = $1 AND $2 < expires_at FOR UPDATE",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let taken = match live {
            None => Taken::Missing,
            Some((_, true)) => Taken::Replayed,
            Some((value, false)) => {
                sqlx::query("UPDATE codes SET used = TRUE, value = '\\x' WHERE key = $1")
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
impl Tokens for Postgres {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO tokens (key, value, expires_at) VALUES ($1, $2, $3)";
        self.write(sql, key, value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM tokens WHERE key = $1 AND $2 < expires_at";
        self.fetch_live(sql, key, now).await
    }

    async fn revoke(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM tokens WHERE key = $1", key)
            .await
    }
}

#[async_trait]
impl RateLimits for Postgres {
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError> {
        // One upsert: the row is locked by the conflict, no count is lost.
        let hits: i64 = sqlx::query_scalar(
            "INSERT INTO rate_windows (key, hits, ends_at) VALUES ($1, 1, $3)
             ON CONFLICT (key) DO UPDATE SET
                 hits = CASE WHEN rate_windows.ends_at <= $2 THEN 1
                             ELSE LEAST(rate_windows.hits + 1, 4294967295) END,
                 ends_at = CASE WHEN rate_windows.ends_at <= $2 THEN $3
                                ELSE rate_windows.ends_at END
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
        self.delete_key("DELETE FROM rate_windows WHERE key = $1", key)
            .await
    }
}

fn account_from_row(row: &PgRow) -> Result<Account, StoreError> {
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
impl Accounts for Postgres {
    async fn create(&self, account: &Account) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (id, login, password_hash, email, identity, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        let query = sqlx::query("SELECT * FROM accounts WHERE login = $1").bind(login);
        self.optional_row(query, account_from_row).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let query = sqlx::query("SELECT * FROM accounts WHERE id = $1").bind(id);
        self.optional_row(query, account_from_row).await
    }

    async fn update(&self, account: &Account) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET login = $1, password_hash = $2, email = $3, identity = $4,
                 status = $5, created_at = $6
             WHERE id = $7",
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
        found(done.rows_affected() != 0)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.count_rows("SELECT count(*) FROM accounts").await
    }
}

#[async_trait]
impl Purge for Postgres {
    async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        let mut purged = 0;
        for sql in [
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM codes WHERE expires_at <= $1",
            "DELETE FROM tokens WHERE expires_at <= $1",
            "DELETE FROM rate_windows WHERE ends_at <= $1",
            "DELETE FROM open_sessions WHERE expires_at <= $1",
            "DELETE FROM wallet_deletion_links WHERE expires_at <= $1",
            "DELETE FROM certification_requests WHERE decision IS NULL AND expires_at < $1",
            "DELETE FROM identity_proofs WHERE kept_until <= $1",
            "DELETE FROM login_transactions WHERE expires_at <= $1",
            "DELETE FROM login_refs WHERE expires_at <= $1",
            "DELETE FROM login_claims WHERE expires_at <= $1",
            "DELETE FROM confirmation_codes WHERE expires_at <= $1",
            "DELETE FROM used_once WHERE expires_at <= $1",
        ] {
            purged += sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        purged += sqlx::query("DELETE FROM revocations WHERE at <= $1")
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
impl Outbox for Postgres {
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
        // SKIP LOCKED: concurrent workers each claim other messages.
        let mut rows: Vec<(i64, Vec<u8>, i32, i64)> = sqlx::query_as(
            "WITH due AS (
                 SELECT id, due_at FROM outbox WHERE due_at <= $1
                 ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED
             )
             UPDATE outbox SET attempts = outbox.attempts + 1, due_at = $2
             FROM due WHERE outbox.id = due.id
             RETURNING outbox.id, outbox.payload, outbox.attempts, due.due_at",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.sort_by_key(|(id, _, _, due_at)| (*due_at, *id));
        rows.into_iter()
            .map(|(id, payload, attempts, _)| {
                Ok(Queued {
                    id,
                    payload,
                    attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt)?,
                })
            })
            .collect()
    }

    async fn remove(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn postpone(&self, id: i64, due_at: UnixSeconds) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE outbox SET due_at = $1 WHERE id = $2")
            .bind(due_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(done.rows_affected() != 0)
    }

    async fn waiting(&self) -> Result<u64, StoreError> {
        self.count_rows("SELECT count(*) FROM outbox").await
    }
}

#[async_trait]
impl Traces for Postgres {
    async fn append(
        &self,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        self.append_from(None, pseudonym, at, body, key).await
    }

    /// The settings and the head in one round trip.
    async fn person(&self, pseudonym: &str) -> Result<Person, StoreError> {
        let (settings, seq, hash, at): (
            Option<Vec<u8>>,
            Option<i64>,
            Option<Vec<u8>>,
            Option<i64>,
        ) = sqlx::query_as(
            "SELECT p.value, h.seq, h.hash, h.at
                 FROM (SELECT $1::text AS pseudonym) AS person
                 LEFT JOIN preferences AS p USING (pseudonym)
                 LEFT JOIN trail_heads AS h USING (pseudonym)",
        )
        .bind(pseudonym)
        .fetch_one(&self.pool)
        .await?;
        let head = match (seq, hash) {
            (Some(seq), Some(hash)) => Some(TrailHead { seq, hash, at }),
            _ => None,
        };
        Ok(Person::read(pseudonym, settings, Some(head)))
    }

    async fn append_seen(
        &self,
        seen: &Person,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        self.append_from(seen.head.clone(), seen.pseudonym(), at, body, key)
            .await
    }

    async fn trail(&self, pseudonym: &str, since: UnixSeconds) -> Result<Vec<Trace>, StoreError> {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "SELECT seq, at, body, prev_hash, prev_at, key_id, hash FROM traces
             WHERE pseudonym = $1 AND at >= $2 ORDER BY seq",
        )
        .bind(pseudonym)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Trace::from_row).collect()
    }

    async fn forget_before(&self, before: UnixSeconds) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM traces WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

impl Postgres {
    /// Two round trips and no lock in the usual case, one when the head
    /// was `seen` already and has not moved: the head is read, then
    /// [`append_after`] writes the entry and moves the head in one
    /// statement, only from the head it read. When another entry came in
    /// between, it reads again; after [`OPTIMISTIC_APPENDS`] such losses,
    /// it waits its turn under a lock on the pseudonym and on the head's
    /// row, so that a trail written faster than it can be read still takes
    /// every entry.
    async fn append_from(
        &self,
        mut seen: Option<Option<TrailHead>>,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        for _ in 0..OPTIMISTIC_APPENDS {
            let head = match seen.take() {
                Some(head) => head,
                None => trail_head(&self.pool, HEAD, pseudonym).await?,
            };
            let after = head.as_ref().map(|head| head.seq);
            let trace = Trace::after(head, pseudonym, at, body, key)?;
            if append_after(&self.pool, after, pseudonym, &trace).await? {
                return Ok(trace);
            }
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(pseudonym)
            .execute(&mut *tx)
            .await?;
        // Under the lock the head's row is locked too, so nothing moves it
        // before the commit; only a first entry can still lose, once, to an
        // optimistic writer creating the row.
        for _ in 0..2 {
            let head = trail_head(&mut *tx, HEAD_LOCKED, pseudonym).await?;
            let after = head.as_ref().map(|head| head.seq);
            let trace = Trace::after(head, pseudonym, at, body, key)?;
            if append_after(&mut *tx, after, pseudonym, &trace).await? {
                tx.commit().await?;
                return Ok(trace);
            }
        }
        Err(StoreError::Backend("the trail's head kept moving".into()))
    }
}

/// Appends tried without a lock before one waits its turn.
const OPTIMISTIC_APPENDS: usize = 3;

/// A trail's head.
const HEAD: &str = "SELECT seq, hash, at FROM trail_heads WHERE pseudonym = $1";

/// A trail's head, its row locked until the transaction ends.
const HEAD_LOCKED: &str = "SELECT seq, hash, at FROM trail_heads WHERE pseudonym = $1 FOR UPDATE";

/// The head of `pseudonym`'s trail, read by `sql` ([`HEAD`] or
/// [`HEAD_LOCKED`]); `None` for a trail not begun.
async fn trail_head<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    sql: &'static str,
    pseudonym: &str,
) -> Result<Option<TrailHead>, StoreError> {
    let head: Option<(i64, Vec<u8>, Option<i64>)> = sqlx::query_as(sql)
        .bind(pseudonym)
        .fetch_optional(executor)
        .await?;
    Ok(head.map(|(seq, hash, at)| TrailHead { seq, hash, at }))
}

/// Writes `trace` and moves the head to it, in one statement and only
/// when the head is still at `after` (compare and swap on its `seq`; a
/// trail not begun has no head row yet). `false`, and nothing written,
/// when another entry took its place first.
async fn append_after<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    after: Option<i64>,
    pseudonym: &str,
    trace: &Trace,
) -> Result<bool, StoreError> {
    let sql = match after {
        Some(_) => {
            "WITH head AS (
                UPDATE trail_heads SET seq = $2, hash = $8, at = $3
                WHERE pseudonym = $1 AND seq = $9
                RETURNING 1
            )
            INSERT INTO traces (pseudonym, seq, at, body, prev_hash, prev_at, key_id, hash)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM head"
        }
        None => {
            "WITH head AS (
                INSERT INTO trail_heads (pseudonym, seq, hash, at) VALUES ($1, $2, $8, $3)
                ON CONFLICT (pseudonym) DO NOTHING
                RETURNING 1
            )
            INSERT INTO traces (pseudonym, seq, at, body, prev_hash, prev_at, key_id, hash)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM head"
        }
    };
    let mut query = sqlx::query(sql)
        .bind(pseudonym)
        .bind(trace.seq)
        .bind(trace.at)
        .bind(trace.body.as_slice())
        .bind(trace.prev_hash.as_slice())
        .bind(trace.prev_at)
        .bind(&trace.key_id)
        .bind(trace.hash.as_slice());
    if let Some(seq) = after {
        query = query.bind(seq);
    }
    Ok(query.execute(executor).await?.rows_affected() == 1)
}

#[async_trait]
impl Preferences for Postgres {
    async fn load(&self, pseudonym: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM preferences WHERE pseudonym = $1")
                .bind(pseudonym)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn save(&self, pseudonym: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO preferences (pseudonym, value) VALUES ($1, $2)
             ON CONFLICT (pseudonym) DO UPDATE SET value = $2",
        )
        .bind(pseudonym)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Revocations for Postgres {
    async fn push(
        &self,
        pseudonym: &str,
        provider: &str,
        at: UnixSeconds,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO revocations (pseudonym, provider, at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(pseudonym)
        .bind(provider)
        .bind(at)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn after(&self, after: i64, limit: u32) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, pseudonym, provider, at FROM revocations
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
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
impl OpenSessions for Postgres {
    async fn put(
        &self,
        group: &str,
        member: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO open_sessions (grp, member, value, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (grp, member) DO UPDATE SET value = $3, expires_at = $4",
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
        let rows: Vec<(Vec<u8>, i64)> =
            sqlx::query_as("DELETE FROM open_sessions WHERE grp = $1 RETURNING value, expires_at")
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

fn dossier_from_row(row: &PgRow) -> Result<Dossier, StoreError> {
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

#[async_trait]
impl Dossiers for Postgres {
    async fn create(&self, dossier: &Dossier) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dossiers (id, service, owner, kind, status, content, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
            "UPDATE dossiers SET status = $1, content = $2, updated_at = $3
             WHERE id = $4 AND service = $5 AND owner = $6",
        )
        .bind(dossier.status.as_str())
        .bind(&dossier.content)
        .bind(dossier.updated_at)
        .bind(&dossier.id)
        .bind(&dossier.service)
        .bind(&dossier.owner)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected() != 0)
    }

    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        let query = sqlx::query("SELECT * FROM dossiers WHERE id = $1").bind(id);
        self.optional_row(query, dossier_from_row).await
    }

    async fn of_owner(&self, service: &str, owner: &str) -> Result<Vec<Dossier>, StoreError> {
        sqlx::query(
            "SELECT * FROM dossiers WHERE service = $1 AND owner = $2
             ORDER BY updated_at DESC, id DESC",
        )
        .bind(service)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(dossier_from_row)
        .collect()
    }
}

/// Reads a `wallet_identities` row of a live identity.
fn wallet_identity_from_row(row: &PgRow) -> Result<WalletIdentity, StoreError> {
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

#[async_trait]
impl WalletIdentities for Postgres {
    async fn create(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wallet_identities (id, binding, email, record, revision, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let query = sqlx::query("SELECT * FROM wallet_identities WHERE binding = $1").bind(binding);
        self.optional_row(query, wallet_identity_from_row).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<WalletIdentity>, StoreError> {
        let sql = "SELECT * FROM wallet_identities WHERE id = $1 AND binding IS NOT NULL";
        self.optional_row(sqlx::query(sql).bind(id), wallet_identity_from_row)
            .await
    }

    async fn update(&self, identity: &WalletIdentity) -> Result<(), StoreError> {
        // One statement: of two updates from the same reading, the second
        // waits for the first's row lock, then finds the revision moved.
        let done = sqlx::query(
            "UPDATE wallet_identities SET email = $1, record = $2, revision = revision + 1
             WHERE id = $3 AND binding IS NOT NULL AND revision = $4",
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
        let still_there = WalletIdentities::find_by_id(self, &identity.id).await?;
        Err(refused(still_there.is_some()))
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE wallet_identities SET binding = NULL, email = '', record = '\\x',
                 revision = revision + 1
             WHERE id = $1 AND binding IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM wallet_deletion_links WHERE identity = $1")
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
            "INSERT INTO wallet_deletion_links (key, identity, expires_at) VALUES ($1, $2, $3)",
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
        let query = sqlx::query(
            "SELECT i.* FROM wallet_deletion_links l JOIN wallet_identities i ON i.id = l.identity
             WHERE l.key = $1 AND $2 < l.expires_at AND i.binding IS NOT NULL",
        );
        let query = query.bind(key).bind(now);
        self.optional_row(query, wallet_identity_from_row).await
    }
}

fn certification_request_from_row(row: &PgRow) -> Result<CertificationRequest, StoreError> {
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
impl CertificationRequests for Postgres {
    async fn create(
        &self,
        request: &CertificationRequest,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        // One row per identity (a unique index): the lapsed one goes first;
        // of two concurrent inserts, the second waits on the index, then
        // is refused.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM certification_requests
             WHERE identity = $1 AND decision IS NULL AND expires_at < $2",
        )
        .bind(&request.identity)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO certification_requests
                 (id, identity, binding, issued_at, expires_at, decision)
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let query = sqlx::query(
            "SELECT * FROM certification_requests
             WHERE id = $1 AND (decision IS NOT NULL OR $2 <= expires_at)",
        );
        let query = query.bind(id).bind(now);
        self.optional_row(query, certification_request_from_row)
            .await
    }

    async fn in_course(
        &self,
        identity: &str,
        now: UnixSeconds,
    ) -> Result<Option<CertificationRequest>, StoreError> {
        let query = sqlx::query(
            "SELECT * FROM certification_requests
             WHERE identity = $1 AND (decision IS NOT NULL OR $2 <= expires_at)",
        );
        let query = query.bind(identity).bind(now);
        self.optional_row(query, certification_request_from_row)
            .await
    }

    async fn decide(&self, id: &str, decision: &[u8], now: UnixSeconds) -> Result<(), StoreError> {
        // One statement: the second of two agents waits for the first's row
        // lock, then finds the request decided.
        let done = sqlx::query(
            "UPDATE certification_requests SET decision = $1
             WHERE id = $2 AND decision IS NULL AND $3 <= expires_at",
        )
        .bind(decision)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let still_there = CertificationRequests::get(self, id, now).await?;
        Err(refused(still_there.is_some()))
    }

    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM certification_requests WHERE id = $1", id)
            .await
    }
}

#[async_trait]
impl IdentityProofs for Postgres {
    async fn keep(
        &self,
        id: &str,
        value: &[u8],
        kept_until: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO identity_proofs (id, value, kept_until) VALUES ($1, $2, $3)";
        self.write(sql, id, value, kept_until).await
    }

    async fn load(&self, id: &str, now: UnixSeconds) -> Result<Option<KeptProof>, StoreError> {
        let row: Option<(Vec<u8>, bool)> = sqlx::query_as(
            "SELECT value, used FROM identity_proofs WHERE id = $1 AND $2 < kept_until",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(value, used)| KeptProof { value, used }))
    }

    async fn consume(&self, id: &str, now: UnixSeconds) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE identity_proofs SET used = TRUE
             WHERE id = $1 AND NOT used AND $2 < kept_until",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl LoginTransactions for Postgres {
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO login_transactions (key, value, expires_at) VALUES ($1, $2, $3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
        self.write(sql, key, value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT value FROM login_transactions WHERE key = $1 AND $2 < expires_at";
        self.fetch_live(sql, key, now).await
    }

    async fn finish(&self, key: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM login_transactions WHERE key = $1", key)
            .await
    }

    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM login_refs WHERE ref = $1 AND NOT claimed")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO login_refs (ref, login, expires_at) VALUES ($1, $2, $3)")
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
        // The reference's row is locked while read: of concurrent claims,
        // one finds it unclaimed, the others wait and find it claimed.
        let mut tx = self.pool.begin().await?;
        let shown: Option<(String, bool)> = sqlx::query_as(
            "SELECT login, claimed FROM login_refs WHERE ref = $1 AND $2 < expires_at FOR UPDATE",
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
            "SELECT expires_at FROM login_transactions WHERE key = $1 AND $2 < expires_at",
        )
        .bind(&login)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(until) = until else {
            return Ok(QrClaim::Unknown);
        };
        sqlx::query("UPDATE login_refs SET claimed = TRUE, expires_at = $1 WHERE ref = $2")
            .bind(until)
            .bind(qr_ref)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_claims (claim, login, expires_at) VALUES ($1, $2, $3)")
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
             WHERE c.claim = $1 AND $2 < c.expires_at AND $2 < t.expires_at",
        )
        .bind(claim)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn release(&self, claim: &str) -> Result<(), StoreError> {
        self.delete_key("DELETE FROM login_claims WHERE claim = $1", claim)
            .await
    }
}

#[async_trait]
impl ConfirmationCodes for Postgres {
    async fn put(
        &self,
        key: &str,
        code_hash: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO confirmation_codes (key, code_hash, value, expires_at)
             VALUES ($1, $2, $3, $4)",
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
        // The row is locked while read: every guess is counted, and one
        // right guess gets the value.
        let mut tx = self.pool.begin().await?;
        let mailed: Option<(String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT code_hash, value, tries FROM confirmation_codes
             WHERE key = $1 AND $2 < expires_at FOR UPDATE",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((code_hash, value, tries)) = mailed else {
            return Ok(Confirmation::Missing);
        };
        let delete = "DELETE FROM confirmation_codes WHERE key = $1";
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
                sqlx::query("UPDATE confirmation_codes SET tries = $1 WHERE key = $2")
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
impl UsedOnce for Postgres {
    async fn mark(
        &self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        // One upsert: a live mark is left alone and returns no row.
        let marked: Option<String> = sqlx::query_scalar(
            "INSERT INTO used_once (key, expires_at) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE used_once.expires_at <= $3
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
