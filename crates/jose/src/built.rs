//! What a key builds once and keeps: the OpenSSL key behind a signer,
//! verifier, encrypter or decrypter. Decoding a key from its JWK costs more
//! than the signature itself, so a key decodes once and every operation
//! after reuses it; clones of a key share what it built.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::JoseError;

/// A value built from a key for one algorithm, kept after the first use.
pub(crate) struct Built<A, T: ?Sized>(Arc<OnceLock<(A, Box<T>)>>);

impl<A, T: ?Sized> Clone for Built<A, T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A, T: ?Sized> Default for Built<A, T> {
    fn default() -> Self {
        Self(Arc::new(OnceLock::new()))
    }
}

impl<A, T: ?Sized> fmt::Debug for Built<A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Built"
        } else {
            "NotBuilt"
        })
    }
}

impl<A: Copy + PartialEq, T: ?Sized> Built<A, T> {
    /// Runs `use_it` on the value built for `alg`: the kept one, else one
    /// `build` makes (and keeps, when nothing is kept yet; a key used with
    /// two algorithms keeps the first and builds the second each time).
    pub(crate) fn with<R>(
        &self,
        alg: A,
        build: impl FnOnce() -> Result<Box<T>, JoseError>,
        use_it: impl FnOnce(&T) -> R,
    ) -> Result<R, JoseError> {
        match self.0.get() {
            Some((kept_for, value)) if *kept_for == alg => Ok(use_it(value)),
            Some(_) => Ok(use_it(build()?.as_ref())),
            None => {
                // A race builds twice at most; one is kept.
                let _ = self.0.set((alg, build()?));
                match self.0.get() {
                    Some((_, value)) => Ok(use_it(value)),
                    None => Err(JoseError::Key("the key could not be kept".into())),
                }
            }
        }
    }
}
