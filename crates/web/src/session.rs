//! Browser sessions kept in a [`store::Sessions`], sealed under the cookie.
//!
//! The cookie holds a random [`Capability`]; the store is keyed by its hash
//! and the data is encrypted under a key derived from it. A stolen database
//! therefore holds no readable personal data, and any process of a cluster
//! can serve any request.

use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, Mac};
use oidc::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use store::Sessions;
use store::sealed::Capability;

/// A loaded session.
#[derive(Debug)]
pub struct Session<T> {
    id: Capability,
    /// The session's data.
    pub data: T,
}

impl<T> Session<T> {
    /// A new session (not yet saved).
    pub fn new(data: T) -> Self {
        Self {
            id: Capability::generate(),
            data,
        }
    }

    /// The CSRF token of this session: derived from its secret, so nothing
    /// is stored and a token is worthless with another session.
    pub fn csrf_token(&self) -> String {
        let mac = Hmac::<Sha256>::new_from_slice(self.id.as_str().as_bytes());
        mac.map(|mut mac| {
            mac.update(b"passerelle/csrf/v1");
            base16ct::lower::encode_string(&mac.finalize().into_bytes())
        })
        .unwrap_or_default()
    }

    /// Whether a submitted form's token is this session's.
    pub fn check_csrf(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| {
            oidc::types::constant_time_eq(token.as_bytes(), self.csrf_token().as_bytes())
        })
    }

    /// Where the session is stored: a hash of its secret, which neither
    /// opens it nor forges its cookie; enough to end it.
    pub fn store_key(&self) -> String {
        self.id.lookup_key()
    }

    /// A fresh id for the same data, against session fixation (the old
    /// row must be deleted by [`SessionManager::rotate`]).
    fn renewed(self) -> (Capability, Self) {
        let old = self.id;
        (
            old,
            Self {
                id: Capability::generate(),
                data: self.data,
            },
        )
    }
}

/// A session failure.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store failed.
    #[error("session storage: {0}")]
    Store(#[from] store::StoreError),
    /// The data could not be encoded.
    #[error("session encoding: {0}")]
    Encoding(String),
}

/// Loads and saves one app's sessions.
pub struct SessionManager {
    store: Arc<dyn Sessions>,
    clock: Arc<dyn Clock>,
    cookie: String,
    secure: bool,
    ttl_secs: i64,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// A manager for the cookie `cookie`. Apps on one host must use distinct
    /// names: cookies are not isolated by port. `secure` adds the `Secure`
    /// attribute (on for https).
    pub fn new(
        store: Arc<dyn Sessions>,
        clock: Arc<dyn Clock>,
        cookie: impl Into<String>,
        secure: bool,
        ttl_secs: i64,
    ) -> Self {
        Self {
            store,
            clock,
            cookie: cookie.into(),
            secure,
            ttl_secs,
        }
    }

    /// The session of a request, if it has a live one. A session that cannot
    /// be opened (expired, tampered, from an older format) is no session.
    pub async fn load<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Session<T>>, SessionError> {
        let Some(id) = self
            .cookie_value(headers)
            .and_then(|value| Capability::parse(&value))
        else {
            return Ok(None);
        };
        let Some(sealed) = self.store.load(&id.lookup_key(), self.clock.now()).await? else {
            return Ok(None);
        };
        let data = id
            .open(&sealed)
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok());
        Ok(data.map(|data| Session { id, data }))
    }

    /// Saves a session (sliding its expiry) and returns its `Set-Cookie`.
    pub async fn save<T: Serialize>(
        &self,
        session: &Session<T>,
    ) -> Result<HeaderValue, SessionError> {
        let plain = serde_json::to_vec(&session.data)
            .map_err(|error| SessionError::Encoding(error.to_string()))?;
        let expires_at = self.clock.now() + self.ttl_secs;
        self.store
            .save(
                &session.id.lookup_key(),
                &session.id.seal(&plain),
                expires_at,
            )
            .await?;
        self.cookie_header(session.id.as_str(), None)
    }

    /// Gives the session a new id, deleting the old row, and saves it. The
    /// two writes go at once (one round trip to Redis); when either fails,
    /// no cookie names the new row, which expires unread.
    pub async fn rotate<T: Serialize>(
        &self,
        session: Session<T>,
    ) -> Result<(Session<T>, HeaderValue), SessionError> {
        let (old, session) = session.renewed();
        let old = old.lookup_key();
        let (deleted, saved) = tokio::join!(self.store.delete(&old), self.save(&session));
        deleted?;
        Ok((session, saved?))
    }

    /// Ends the session stored under `store_key` ([`Session::store_key`]),
    /// without its cookie.
    pub async fn end(&self, store_key: &str) -> Result<(), SessionError> {
        Ok(self.store.delete(store_key).await?)
    }

    /// How long a session lives after its last save, in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Ends a session and returns the `Set-Cookie` that clears it.
    pub async fn destroy<T>(&self, session: &Session<T>) -> Result<HeaderValue, SessionError> {
        self.store.delete(&session.id.lookup_key()).await?;
        self.cookie_header("", Some(0))
    }

    fn cookie_header(
        &self,
        value: &str,
        max_age: Option<i64>,
    ) -> Result<HeaderValue, SessionError> {
        let mut cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax", self.cookie);
        if self.secure {
            cookie.push_str("; Secure");
        }
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&cookie).map_err(|error| SessionError::Encoding(error.to_string()))
    }

    fn cookie_value(&self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, &self.cookie)
    }
}

/// The value of the cookie `name` in a request.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use oidc::FakeClock;

    use super::*;

    fn manager(clock: FakeClock) -> SessionManager {
        SessionManager::new(
            store::Stores::memory().sessions,
            Arc::new(clock),
            "pa_test",
            false,
            60,
        )
    }

    fn request_with(cookie: &HeaderValue) -> HeaderMap {
        let pair = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn a_saved_session_loads_back_until_it_expires() {
        let clock = FakeClock::at(1_000);
        let sessions = manager(clock.clone());
        let cookie = sessions.save(&Session::new(vec![1, 2, 3])).await.unwrap();
        assert!(cookie.to_str().unwrap().contains("HttpOnly; SameSite=Lax"));
        let loaded: Session<Vec<u8>> = sessions
            .load(&request_with(&cookie))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.data, vec![1, 2, 3]);
        clock.advance(61);
        assert!(
            sessions
                .load::<Vec<u8>>(&request_with(&cookie))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_rotated_session_is_gone_under_its_old_id() {
        let sessions = manager(FakeClock::at(1_000));
        let session = Session::new(7u8);
        let old = sessions.save(&session).await.unwrap();
        let (session, new) = sessions.rotate(session).await.unwrap();
        assert!(
            sessions
                .load::<u8>(&request_with(&old))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            sessions
                .load::<u8>(&request_with(&new))
                .await
                .unwrap()
                .unwrap()
                .data,
            7
        );
        assert!(session.check_csrf(Some(&session.csrf_token())));
        assert!(!session.check_csrf(Some("forged")));
        assert!(!session.check_csrf(None));
    }
}
