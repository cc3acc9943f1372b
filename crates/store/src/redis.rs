//! The Redis backend of what expires: sessions, single-use codes, access
//! tokens, rate windows, the hub's open sessions, QR logins, mailed
//! confirmation codes and single-use marks. Redis drops each key at its
//! expiry (`EXPIREAT`), so nothing needs purging; reads still check the
//! caller's clock, so that every backend answers alike.
//!
//! Every key lives under the bundle's prefix (`{prefix}s:…` sessions,
//! `c:` codes, `t:` tokens, `r:` rate windows, `o:` open-session groups,
//! `w:` QR logins, `q:` their references, `k:` their claims, `m:` mailed
//! codes, `u:` single-use marks), so that parts, and test runs, sharing one
//! Redis never see each other. Operations that must be atomic (taking a
//! code, counting a hit, putting a key only once, taking a group, claiming
//! a QR reference, checking a mailed code, marking a use) are single Lua
//! scripts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::{
    Codes, Confirmation, ConfirmationCodes, LoginTransactions, OpenSessions, Purge, QrClaim,
    RateLimits, Sessions, StoreError, Taken, Tokens, UnixSeconds, UsedOnce,
};

/// How long Redis keeps a key past its expiry: reads check the caller's
/// clock, so this only absorbs clock differences between processes.
const GRACE_SECS: i64 = 60;

/// How long one command may take, connecting included: past it the store
/// answers an error (a page then says « service indisponible »), never a
/// hang.
const TIMEOUT: Duration = Duration::from_secs(2);

impl From<redis::RedisError> for StoreError {
    fn from(error: redis::RedisError) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

/// A put-once script's answer: 1 when put, else the key was taken.
fn put_or_conflict(put: i64) -> Result<(), StoreError> {
    if put == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Puts a hash `{v, e}` only when the key is free or past its expiry (by
/// the server's clock); returns 1 when put.
const PUT_ONCE: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(redis.call('TIME')[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
";

/// Takes a code: `{'fresh', value}` the first time, `{'replayed'}` after,
/// `{'missing'}` when unknown or expired for the caller's clock.
const TAKE_CODE: &str = r"
local h = redis.call('HMGET', KEYS[1], 'v', 'u', 'e')
if not h[3] or tonumber(h[3]) <= tonumber(ARGV[1]) then return {'missing'} end
if h[2] == '1' then return {'replayed'} end
redis.call('HSET', KEYS[1], 'u', '1', 'v', '')
return {'fresh', h[1]}
";

/// Counts a hit in the key's window, opening a new one when it ended.
const HIT: &str = r"
local now = tonumber(ARGV[1])
local ends = redis.call('HGET', KEYS[1], 'e')
if not ends or tonumber(ends) <= now then
  redis.call('HSET', KEYS[1], 'n', 1, 'e', ARGV[2])
  redis.call('EXPIREAT', KEYS[1], ARGV[3])
  return 1
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n > 4294967295 then
  redis.call('HSET', KEYS[1], 'n', 4294967295)
  return 4294967295
end
return n
";

/// Adds a member (value prefixed by its expiry) to a group, the group's
/// own expiry pushed to its latest member's.
const GROUP_PUT: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local e = tonumber(redis.call('HGET', KEYS[1], '__e') or '0')
if tonumber(ARGV[3]) > e then
  redis.call('HSET', KEYS[1], '__e', ARGV[3])
  redis.call('EXPIREAT', KEYS[1], ARGV[4])
end
return 1
";

/// Removes a group and returns its members' values.
const GROUP_TAKE: &str = r"
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
local values = {}
for i = 1, #all, 2 do
  if all[i] ~= '__e' then table.insert(values, all[i + 1]) end
end
return values
";

/// Shows a login under a new QR reference `{k, c, e}` (refused while the
/// key is live, by the server's clock), withdrawing the unclaimed
/// reference it replaces (`KEYS[2]`, when given).
const QR_SHOW: &str = r"
if KEYS[2] and redis.call('HGET', KEYS[2], 'c') == '0' then redis.call('DEL', KEYS[2]) end
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(redis.call('TIME')[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'k', ARGV[1], 'c', '0', 'e', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
";

/// Claims a QR reference (`KEYS[1]`) under a claim (`KEYS[2]`): both then
/// last as long as the login, whose key is the reference's `k` under the
/// prefix `ARGV[2]`. `{'fresh', login key}`, `{'claimed'}` or
/// `{'unknown'}`, for the caller's clock `ARGV[1]`.
const QR_CLAIM: &str = r"
local now = tonumber(ARGV[1])
local r = redis.call('HMGET', KEYS[1], 'k', 'c', 'e')
if not r[3] or tonumber(r[3]) <= now then return {'unknown'} end
if r[2] == '1' then return {'claimed'} end
local e = redis.call('HGET', ARGV[2] .. r[1], 'e')
if not e or tonumber(e) <= now then return {'unknown'} end
local kept = tonumber(e) + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'c', '1', 'e', e)
redis.call('EXPIREAT', KEYS[1], kept)
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'k', r[1], 'e', e)
redis.call('EXPIREAT', KEYS[2], kept)
return {'fresh', r[1]}
";

/// Puts a mailed code `{h, v, n, e}`, refused while the key is live (by
/// the server's clock).
const MAILED_PUT: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(redis.call('TIME')[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'v', ARGV[2], 'n', 0, 'e', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 1
";

/// Checks a guess at a mailed code: `{'confirmed', value}` (the code
/// goes), `{'wrong', tries left}` (counted; the code goes at 0) or
/// `{'missing'}`.
const MAILED_CONFIRM: &str = r"
local h = redis.call('HMGET', KEYS[1], 'h', 'v', 'e')
if not h[3] or tonumber(h[3]) <= tonumber(ARGV[1]) then return {'missing'} end
if h[1] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return {'confirmed', h[2]}
end
local left = tonumber(ARGV[3]) - redis.call('HINCRBY', KEYS[1], 'n', 1)
if left <= 0 then
  redis.call('DEL', KEYS[1])
  left = 0
end
return {'wrong', tostring(left)}
";

/// Marks a key used until `ARGV[1]`, unless a mark is live at `ARGV[2]`;
/// returns 1 when marked.
const MARK: &str = r"
local e = redis.call('GET', KEYS[1])
if e and tonumber(e) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
";

/// The scripts, loaded once per bundle.
struct Scripts {
    put_once: Script,
    take_code: Script,
    hit: Script,
    group_put: Script,
    group_take: Script,
    qr_show: Script,
    qr_claim: Script,
    mailed_put: Script,
    mailed_confirm: Script,
    mark: Script,
}

/// A connection to one Redis, under one key prefix.
pub(crate) struct Redis {
    connection: ConnectionManager,
    prefix: String,
    scripts: Arc<Scripts>,
}

impl Redis {
    /// Connects to `url` (`redis://host:port/db`); every key goes under
    /// `prefix`.
    pub(crate) async fn open(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT)
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            scripts: Arc::new(Scripts {
                put_once: Script::new(PUT_ONCE),
                take_code: Script::new(TAKE_CODE),
                hit: Script::new(HIT),
                group_put: Script::new(GROUP_PUT),
                group_take: Script::new(GROUP_TAKE),
                qr_show: Script::new(QR_SHOW),
                qr_claim: Script::new(QR_CLAIM),
                mailed_put: Script::new(MAILED_PUT),
                mailed_confirm: Script::new(MAILED_CONFIRM),
                mark: Script::new(MARK),
            }),
        })
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// A `{v, e}` hash's value, when live for the caller's clock.
    async fn load_live(
        &self,
        key: String,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_field(key, "v", now).await
    }

    /// A field of a hash whose `e` is live for the caller's clock.
    async fn load_field(
        &self,
        key: String,
        field: &str,
        now: UnixSeconds,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let (value, expires_at): (Option<Vec<u8>>, Option<i64>) = redis::cmd("HMGET")
            .arg(&key)
            .arg(field)
            .arg("e")
            .query_async(&mut self.connection())
            .await?;
        Ok(match (value, expires_at) {
            (Some(value), Some(expires_at)) if now < expires_at => Some(value),
            _ => None,
        })
    }

    /// Puts a `{v, e}` hash only when the key is free or expired.
    async fn put_once(
        &self,
        key: String,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let put: i64 = self
            .scripts
            .put_once
            .key(key)
            .arg(value)
            .arg(expires_at)
            .arg(expires_at.saturating_add(GRACE_SECS))
            .invoke_async(&mut self.connection())
            .await?;
        put_or_conflict(put)
    }

    /// Inserts or replaces a `{v, e}` hash.
    async fn replace(
        &self,
        key: String,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let _: () = redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("HSET")
            .arg(&key)
            .arg("v")
            .arg(value)
            .arg("e")
            .arg(expires_at)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&key)
            .arg(expires_at.saturating_add(GRACE_SECS))
            .ignore()
            .query_async(&mut self.connection())
            .await?;
        Ok(())
    }

    /// Deletes a key, there or not.
    async fn delete(&self, key: String) -> Result<(), StoreError> {
        let _: i64 = self.connection().del(key).await?;
        Ok(())
    }
}

#[async_trait]
impl Sessions for Redis {
    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_live(self.key("s", key), now).await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.replace(self.key("s", key), value, expires_at).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        Redis::delete(self, self.key("s", key)).await
    }
}

#[async_trait]
impl Codes for Redis {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.put_once(self.key("c", key), value, expires_at).await
    }

    async fn take(&self, key: &str, now: UnixSeconds) -> Result<Taken, StoreError> {
        let answer: Vec<Vec<u8>> = self
            .scripts
            .take_code
            .key(self.key("c", key))
            .arg(now)
            .invoke_async(&mut self.connection())
            .await?;
        let mut answer = answer.into_iter();
        match (answer.next().as_deref(), answer.next()) {
            (Some(b"fresh"), Some(value)) => Ok(Taken::Fresh(value)),
            (Some(b"replayed"), _) => Ok(Taken::Replayed),
            (Some(b"missing"), _) => Ok(Taken::Missing),
            _ => Err(StoreError::Corrupt),
        }
    }
}

#[async_trait]
impl Tokens for Redis {
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.put_once(self.key("t", key), value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_live(self.key("t", key), now).await
    }

    async fn revoke(&self, key: &str) -> Result<(), StoreError> {
        Redis::delete(self, self.key("t", key)).await
    }
}

#[async_trait]
impl RateLimits for Redis {
    async fn hit(&self, key: &str, window_secs: i64, now: UnixSeconds) -> Result<u32, StoreError> {
        let hits: i64 = self
            .scripts
            .hit
            .key(self.key("r", key))
            .arg(now)
            .arg(now.saturating_add(window_secs))
            .arg(now.saturating_add(window_secs).saturating_add(GRACE_SECS))
            .invoke_async(&mut self.connection())
            .await?;
        u32::try_from(hits).map_err(|_| StoreError::Corrupt)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        Redis::delete(self, self.key("r", key)).await
    }
}

#[async_trait]
impl OpenSessions for Redis {
    async fn put(
        &self,
        group: &str,
        member: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut stamped = expires_at.to_be_bytes().to_vec();
        stamped.extend_from_slice(value);
        let _: i64 = self
            .scripts
            .group_put
            .key(self.key("o", group))
            .arg(format!("m:{member}"))
            .arg(stamped)
            .arg(expires_at)
            .arg(expires_at.saturating_add(GRACE_SECS))
            .invoke_async(&mut self.connection())
            .await?;
        Ok(())
    }

    async fn take_group(&self, group: &str, now: UnixSeconds) -> Result<Vec<Vec<u8>>, StoreError> {
        let values: Vec<Vec<u8>> = self
            .scripts
            .group_take
            .key(self.key("o", group))
            .invoke_async(&mut self.connection())
            .await?;
        Ok(values
            .into_iter()
            .filter_map(|stamped| {
                let (expires_at, value) = stamped.split_at_checked(8)?;
                let expires_at = i64::from_be_bytes(expires_at.try_into().ok()?);
                (now < expires_at).then(|| value.to_vec())
            })
            .collect())
    }
}

#[async_trait]
impl LoginTransactions for Redis {
    async fn save(
        &self,
        key: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.replace(self.key("w", key), value, expires_at).await
    }

    async fn load(&self, key: &str, now: UnixSeconds) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_live(self.key("w", key), now).await
    }

    async fn finish(&self, key: &str) -> Result<(), StoreError> {
        Redis::delete(self, self.key("w", key)).await
    }

    async fn show(
        &self,
        key: &str,
        qr_ref: &str,
        expires_at: UnixSeconds,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut invocation = self.scripts.qr_show.key(self.key("q", qr_ref));
        if let Some(old) = replaces {
            invocation.key(self.key("q", old));
        }
        let shown: i64 = invocation
            .arg(key)
            .arg(expires_at)
            .arg(expires_at.saturating_add(GRACE_SECS))
            .invoke_async(&mut self.connection())
            .await?;
        put_or_conflict(shown)
    }

    async fn claim(
        &self,
        qr_ref: &str,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<QrClaim, StoreError> {
        // The login's key is read inside the script (the reference names
        // it): fine on one Redis, which is what this backend supports.
        let answer: Vec<Vec<u8>> = self
            .scripts
            .qr_claim
            .key(self.key("q", qr_ref))
            .key(self.key("k", claim))
            .arg(now)
            .arg(self.key("w", ""))
            .arg(GRACE_SECS)
            .invoke_async(&mut self.connection())
            .await?;
        let mut answer = answer.into_iter();
        match (answer.next().as_deref(), answer.next()) {
            (Some(b"fresh"), Some(login)) => String::from_utf8(login)
                .map(QrClaim::Claimed)
                .map_err(|_| StoreError::Corrupt),
            (Some(b"claimed"), _) => Ok(QrClaim::AlreadyClaimed),
            (Some(b"unknown"), _) => Ok(QrClaim::Unknown),
            _ => Err(StoreError::Corrupt),
        }
    }

    async fn claimed(
        &self,
        claim: &str,
        now: UnixSeconds,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let Some(login) = self.load_field(self.key("k", claim), "k", now).await? else {
            return Ok(None);
        };
        let login = String::from_utf8(login).map_err(|_| StoreError::Corrupt)?;
        let value = self.load_live(self.key("w", &login), now).await?;
        Ok(value.map(|value| (login, value)))
    }

    async fn release(&self, claim: &str) -> Result<(), StoreError> {
        Redis::delete(self, self.key("k", claim)).await
    }
}

#[async_trait]
impl ConfirmationCodes for Redis {
    async fn put(
        &self,
        key: &str,
        code_hash: &str,
        value: &[u8],
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let put: i64 = self
            .scripts
            .mailed_put
            .key(self.key("m", key))
            .arg(code_hash)
            .arg(value)
            .arg(expires_at)
            .arg(expires_at.saturating_add(GRACE_SECS))
            .invoke_async(&mut self.connection())
            .await?;
        put_or_conflict(put)
    }

    async fn confirm(
        &self,
        key: &str,
        guess_hash: &str,
        max_tries: u32,
        now: UnixSeconds,
    ) -> Result<Confirmation, StoreError> {
        // Compared inside the script: a hash of a random token and the
        // code, whose comparison time tells nothing useful.
        let answer: Vec<Vec<u8>> = self
            .scripts
            .mailed_confirm
            .key(self.key("m", key))
            .arg(now)
            .arg(guess_hash)
            .arg(max_tries)
            .invoke_async(&mut self.connection())
            .await?;
        let mut answer = answer.into_iter();
        match (answer.next().as_deref(), answer.next()) {
            (Some(b"confirmed"), Some(value)) => Ok(Confirmation::Confirmed(value)),
            (Some(b"wrong"), Some(left)) => std::str::from_utf8(&left)
                .ok()
                .and_then(|left| left.parse().ok())
                .map(|tries_left| Confirmation::Wrong { tries_left })
                .ok_or(StoreError::Corrupt),
            (Some(b"missing"), _) => Ok(Confirmation::Missing),
            _ => Err(StoreError::Corrupt),
        }
    }
}

#[async_trait]
impl UsedOnce for Redis {
    async fn mark(
        &self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let marked: i64 = self
            .scripts
            .mark
            .key(self.key("u", key))
            .arg(until)
            .arg(now)
            .arg(until.saturating_add(GRACE_SECS))
            .invoke_async(&mut self.connection())
            .await?;
        Ok(marked == 1)
    }
}

#[async_trait]
impl Purge for Redis {
    /// Redis drops each key at its expiry: nothing to reclaim.
    async fn purge_expired(&self, _now: UnixSeconds) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.connection())
            .await?;
        Ok(())
    }
}
