//! Guessing is slowed, then stopped: per identifier and per client address,
//! failed logins bring a growing wait, then a lockout.
//!
//! - Per identifier (whether or not an account has it, so that the answers
//!   never tell): from the 3rd failure in 24 h, each failure makes the next
//!   attempt wait 1 s, 2 s, 4 s… (at most a minute); the 10th locks the
//!   identifier for 24 h, or until the unlock link mailed to the account's
//!   address is used. A success forgets the failures.
//! - Per client address: from the 20th failure in an hour, the same growing
//!   wait; the 100th blocks the address for an hour.
//!
//! An attempt refused by a wait or a lock checks no password and counts no
//! failure. Counting is atomic ([`store::RateLimits`]); waits and locks are
//! short-lived keys of the session store. Keys hold a hash of the identifier
//! or address, never the identifier itself.

use sha2::{Digest as _, Sha256};
use store::{StoreError, Stores, UnixSeconds};

/// Failures per identifier before waits begin.
pub const IDENTIFIER_WAIT_FROM: u32 = 3;
/// Failures per identifier that lock it.
pub const IDENTIFIER_LOCK_AT: u32 = 10;
/// How long an identifier's failures are remembered, and a lock lasts.
pub const IDENTIFIER_WINDOW_SECS: i64 = 86_400;
/// Failures per address before waits begin.
pub const ADDRESS_WAIT_FROM: u32 = 20;
/// Failures per address that block it.
pub const ADDRESS_BLOCK_AT: u32 = 100;
/// How long an address's failures are remembered, and a block lasts.
pub const ADDRESS_WINDOW_SECS: i64 = 3_600;
/// The longest wait between two attempts.
pub const MAX_WAIT_SECS: i64 = 60;

/// Whether an attempt may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Go,
    /// Too soon after the last failure: this many seconds more.
    Wait(i64),
    /// The identifier is locked.
    Locked,
    /// The client address is blocked.
    Blocked,
}

/// What a failure led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Counted; nothing more.
    Counted,
    /// Counted; the next attempt waits this many seconds.
    Wait(i64),
    /// This failure locked the identifier (send the unlock link).
    JustLocked,
    /// This failure blocked the address.
    JustBlocked,
}

/// The throttle of one provider.
#[derive(Clone, Debug)]
pub struct Throttle {
    stores: Stores,
}

/// A store key for `text` (an identifier, an address): hashed, so that keys
/// say nothing of whom they count.
pub fn hashed(kind: &str, text: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{text}").as_bytes());
    format!(
        "throttle:{kind}:{}",
        base16ct::lower::encode_string(digest.get(..16).unwrap_or_default())
    )
}

/// The wait after `failures` failures when waits begin at `from`.
fn wait_after(failures: u32, from: u32) -> Option<i64> {
    let over = failures.checked_sub(from)?;
    Some(2_i64.saturating_pow(over).min(MAX_WAIT_SECS))
}

impl Throttle {
    /// A throttle over these stores.
    pub fn new(stores: Stores) -> Self {
        Self { stores }
    }

    async fn until(&self, key: &str, now: UnixSeconds) -> Result<Option<i64>, StoreError> {
        let Some(bytes) = self.stores.sessions.load(key, now).await? else {
            return Ok(None);
        };
        let until = bytes
            .try_into()
            .map(i64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt)?;
        Ok((until > now).then_some(until))
    }

    async fn hold(&self, key: &str, until: UnixSeconds) -> Result<(), StoreError> {
        self.stores
            .sessions
            .save(key, &until.to_be_bytes(), until)
            .await
    }

    /// Whether an attempt for `identifier` from `address` may go on.
    pub async fn check(
        &self,
        identifier: &str,
        address: &str,
        now: UnixSeconds,
    ) -> Result<Verdict, StoreError> {
        if self
            .until(&hashed("lock", identifier), now)
            .await?
            .is_some()
        {
            return Ok(Verdict::Locked);
        }
        if self.address_blocked(address, now).await? {
            return Ok(Verdict::Blocked);
        }
        let waits = [
            self.until(&hashed("wait", identifier), now).await?,
            self.until(&hashed("address-wait", address), now).await?,
        ];
        Ok(match waits.into_iter().flatten().max() {
            Some(until) => Verdict::Wait(until - now),
            None => Verdict::Go,
        })
    }

    /// Whether the client address is blocked (whatever it tries).
    pub async fn address_blocked(
        &self,
        address: &str,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        Ok(self.until(&hashed("block", address), now).await?.is_some())
    }

    /// Counts a failed attempt.
    pub async fn failed(
        &self,
        identifier: &str,
        address: &str,
        now: UnixSeconds,
    ) -> Result<Failure, StoreError> {
        let limits = &self.stores.rate_limits;
        let by_identifier = limits
            .hit(&hashed("failures", identifier), IDENTIFIER_WINDOW_SECS, now)
            .await?;
        let by_address = limits
            .hit(
                &hashed("address-failures", address),
                ADDRESS_WINDOW_SECS,
                now,
            )
            .await?;
        if by_identifier >= IDENTIFIER_LOCK_AT {
            self.hold(&hashed("lock", identifier), now + IDENTIFIER_WINDOW_SECS)
                .await?;
            return Ok(Failure::JustLocked);
        }
        if by_address >= ADDRESS_BLOCK_AT {
            self.hold(&hashed("block", address), now + ADDRESS_WINDOW_SECS)
                .await?;
            return Ok(Failure::JustBlocked);
        }
        let mut longest = None;
        if let Some(wait) = wait_after(by_identifier, IDENTIFIER_WAIT_FROM) {
            self.hold(&hashed("wait", identifier), now + wait).await?;
            longest = Some(wait);
        }
        if let Some(wait) = wait_after(by_address, ADDRESS_WAIT_FROM) {
            self.hold(&hashed("address-wait", address), now + wait)
                .await?;
            longest = longest.max(Some(wait));
        }
        Ok(longest.map_or(Failure::Counted, Failure::Wait))
    }

    /// A success: the identifier's failures are forgotten.
    pub async fn succeeded(&self, identifier: &str) -> Result<(), StoreError> {
        self.stores
            .rate_limits
            .reset(&hashed("failures", identifier))
            .await?;
        self.stores
            .sessions
            .delete(&hashed("wait", identifier))
            .await
    }

    /// The unlock link was used (or the password reset): lock, waits and
    /// failures of the identifier are forgotten.
    pub async fn unlock(&self, identifier: &str) -> Result<(), StoreError> {
        self.stores
            .sessions
            .delete(&hashed("lock", identifier))
            .await?;
        self.succeeded(identifier).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[tokio::test]
    async fn waits_grow_from_the_third_failure_and_the_tenth_locks() -> Result<(), StoreError> {
        let throttle = Throttle::new(Stores::memory());
        let mut now = NOW;
        let mut outcomes = Vec::new();
        for _ in 0..IDENTIFIER_LOCK_AT {
            assert_eq!(throttle.check("id", "ip", now).await?, Verdict::Go);
            let outcome = throttle.failed("id", "ip", now).await?;
            if let Failure::Wait(wait) = outcome {
                assert_eq!(
                    throttle.check("id", "ip", now + wait - 1).await?,
                    Verdict::Wait(1)
                );
                now += wait;
            }
            outcomes.push(outcome);
        }
        assert_eq!(
            outcomes,
            [
                Failure::Counted,
                Failure::Counted,
                Failure::Wait(1),
                Failure::Wait(2),
                Failure::Wait(4),
                Failure::Wait(8),
                Failure::Wait(16),
                Failure::Wait(32),
                Failure::Wait(60),
                Failure::JustLocked,
            ]
        );
        assert_eq!(throttle.check("id", "ip", now).await?, Verdict::Locked);
        // Another identifier from the same address goes on.
        assert_eq!(throttle.check("other", "ip", now).await?, Verdict::Go);
        assert_eq!(
            throttle
                .check("id", "ip", now + IDENTIFIER_WINDOW_SECS)
                .await?,
            Verdict::Go
        );
        throttle.unlock("id").await?;
        assert_eq!(throttle.check("id", "ip", now).await?, Verdict::Go);
        Ok(())
    }

    #[tokio::test]
    async fn a_success_forgets_the_failures() -> Result<(), StoreError> {
        let throttle = Throttle::new(Stores::memory());
        for _ in 0..IDENTIFIER_WAIT_FROM {
            throttle.failed("id", "ip", NOW).await?;
        }
        assert_eq!(throttle.check("id", "ip", NOW).await?, Verdict::Wait(1));
        throttle.succeeded("id").await?;
        assert_eq!(throttle.check("id", "ip", NOW).await?, Verdict::Go);
        assert_eq!(throttle.failed("id", "ip", NOW).await?, Failure::Counted);
        Ok(())
    }

    #[tokio::test]
    async fn an_address_trying_many_identifiers_waits_then_is_blocked() -> Result<(), StoreError> {
        let throttle = Throttle::new(Stores::memory());
        let mut last = Failure::Counted;
        for n in 1..=ADDRESS_BLOCK_AT {
            last = throttle.failed(&format!("id-{n}"), "ip", NOW).await?;
            if n == ADDRESS_WAIT_FROM {
                assert_eq!(last, Failure::Wait(1));
                assert_eq!(throttle.check("fresh", "ip", NOW).await?, Verdict::Wait(1));
                assert_eq!(throttle.check("fresh", "other-ip", NOW).await?, Verdict::Go);
            }
        }
        assert_eq!(last, Failure::JustBlocked);
        assert_eq!(throttle.check("fresh", "ip", NOW).await?, Verdict::Blocked);
        assert_eq!(
            throttle
                .check("fresh", "ip", NOW + ADDRESS_WINDOW_SECS)
                .await?,
            Verdict::Go
        );
        Ok(())
    }
}
