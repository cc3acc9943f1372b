//! The PostgreSQL backend: one database shared by any number of processes,
//! each part of the federation in a schema of its own (`hub_standard`,
//! `idp-impots`…), so that parts never see each other's rows.
//!
//! The schema is versioned: [`migrate`] (`passerelle migrate`) brings a
//! database up to this program's version under an advisory lock, and
//! [`Postgres::open`] refuses a database that is behind or ahead, never
//! upgrading a running cluster by surprise. Atomic operations are single
//! statements, or transactions that lock the rows they read (`FOR UPDATE`,
//! `SKIP LOCKED` for queues, an advisory lock per trail).

use std::time::Duration;

use async_trait::async_trait;
use std::str::FromStr;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use crate::{
    Account, AccountStatus, Accounts, Codes, Dossier, DossierStatus, Dossiers, OpenSessions,
    Outbox, Preferences, Purge, Queued, REVOCATION_KEPT_SECS, RateLimits, Revocation, Revocations,
    Sessions, StoreError, Taken, Tokens, Trace, Traces, TrailKey, UnixSeconds, trace_hash,
};

/// The migrations, one entry per version: entry `n` takes a database from
/// version `n` to `n + 1`. Append, never edit: deployed databases have run
/// the old entries.
const MIGRATIONS: &[&str] = &["
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
"];

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

/// A pool whose connections work in `schema`.
async fn connect(url: &str, schema: &str) -> Result<PgPool, StoreError> {
    check_schema(schema)?;
    let options = PgConnectOptions::from_str(url)?.options([("search_path", schema)]);
    Ok(PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?)
}

/// The schema's version (0 for a schema never migrated).
async fn version_of(pool: &PgPool) -> Result<i64, StoreError> {
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
    let pool = connect(url, schema).await?;
    let mut tx = pool.begin().await?;
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
    pool.close().await;
    Ok(from)
}

/// A pool over one PostgreSQL database.
pub(crate) struct Postgres {
    pool: PgPool,
}

impl Postgres {
    /// Connects to `schema` and checks that it is this program's: behind,
    /// it asks for `passerelle migrate`; ahead, it refuses to run.
    pub(crate) async fn open(url: &str, schema: &str) -> Result<Self, StoreError> {
        let pool = connect(url, schema).await?;
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

    async fn delete_key(&self, sql: &'static str, key: &str) -> Result<(), StoreError> {
        sqlx::query(sql).bind(key).execute(&self.pool).await?;
        Ok(())
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
        sqlx::query("SELECT * FROM accounts WHERE login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
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
impl Purge for Postgres {
    async fn purge_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        let mut purged = 0;
        for sql in [
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM codes WHERE expires_at <= $1",
            "DELETE FROM tokens WHERE expires_at <= $1",
            "DELETE FROM rate_windows WHERE ends_at <= $1",
            "DELETE FROM open_sessions WHERE expires_at <= $1",
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
        Ok(
            sqlx::query_scalar("INSERT INTO outbox (payload, due_at) VALUES ($1, $2) RETURNING id")
                .bind(payload)
                .bind(due_at)
                .fetch_one(&self.pool)
                .await?,
        )
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

    async fn remove(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE id = $1")
            .bind(id)
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
impl Traces for Postgres {
    async fn append(
        &self,
        pseudonym: &str,
        at: UnixSeconds,
        body: &[u8],
        key: &TrailKey,
    ) -> Result<Trace, StoreError> {
        // One writer per trail at a time, even for its very first entry
        // (no head row to lock yet): an advisory lock on the pseudonym.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(pseudonym)
            .execute(&mut *tx)
            .await?;
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM trail_heads WHERE pseudonym = $1")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
            "INSERT INTO trail_heads (pseudonym, seq, hash) VALUES ($1, $2, $3)
             ON CONFLICT (pseudonym) DO UPDATE SET seq = $2, hash = $3",
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
             WHERE pseudonym = $1 AND at >= $2 ORDER BY seq",
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
        Ok(sqlx::query("DELETE FROM traces WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
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
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Dossier>, StoreError> {
        sqlx::query("SELECT * FROM dossiers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(dossier_from_row)
            .transpose()
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
