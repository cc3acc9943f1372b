//! The one error of a bad setting, whichever part's config it is in.

/// A setting that stops the process: where it is in the config file, and
/// what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad setting {path}: {message}")]
pub struct ConfigError {
    /// Path of the setting, e.g. `hub.standard.services[0].redirect_uris[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// The setting at `path` is wrong: `message` says how.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}
