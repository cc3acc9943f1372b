//! Request parameters, from a query string or a form body.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::error::{ErrorCode, OAuthError};

/// Parameters with no repeats: RFC 6749 §3.1 forbids a parameter twice, and
/// a repeated `redirect_uri` or `client_id` must not let a request choose
/// which copy is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, String>,
    repeated: Option<String>,
}

/// Longest request we read: authorize and token requests are small.
const MAX_LEN: usize = 16 * 1024;

impl Params {
    /// Parses `application/x-www-form-urlencoded` text. A repeated parameter
    /// is remembered and refused by [`Params::check_no_repeats`].
    pub fn parse(raw: &[u8]) -> Result<Self, OAuthError> {
        if raw.len() > MAX_LEN {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                "request too large",
            ));
        }
        let mut params = Params::default();
        for (key, value) in url::form_urlencoded::parse(raw) {
            match params.values.entry(key.into_owned()) {
                Entry::Occupied(mut earlier) => {
                    if params.repeated.is_none() {
                        params.repeated = Some(earlier.key().clone());
                    }
                    earlier.insert(value.into_owned());
                }
                Entry::Vacant(first) => {
                    first.insert(value.into_owned());
                }
            }
        }
        Ok(params)
    }

    /// Builds parameters from pairs (tests, internal redirects).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let values = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            values,
            repeated: None,
        }
    }

    /// Fails when a parameter was given twice.
    pub fn check_no_repeats(&self) -> Result<(), OAuthError> {
        match &self.repeated {
            Some(name) => Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                format!("parameter {name} is repeated"),
            )),
            None => Ok(()),
        }
    }

    /// Whether `name` was repeated.
    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.as_deref() == Some(name)
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// A required parameter.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::new(ErrorCode::InvalidRequest, format!("{name} is required"))
        })
    }
}
