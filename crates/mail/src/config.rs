//! `[mail]`: the sender and the transport.

use oidc::ConfigError;
use std::path::Path;
use std::sync::{Arc, Mutex};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use serde::Deserialize;
use tokio_native_tls::native_tls;

use crate::Transport;
use crate::relay::{Protection, Relay};

/// `[mail]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The sender, `Name <address>`.
    pub from: String,
    /// How messages leave.
    #[serde(default)]
    pub transport: TransportKind,
    /// `folder`: where the `.eml` files go, relative to the data folder.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// `smtp`: the relay's host.
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// `smtp`: its port (default 587 with STARTTLS, 465 with TLS, 25 without).
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// `smtp`: `starttls` (default), `tls`, or `none` (a relay on this host only).
    #[serde(default)]
    pub smtp_security: Security,
    /// `smtp`: user name, when the relay wants one.
    #[serde(default)]
    pub smtp_username: Option<String>,
    /// `smtp`: password, with the user name.
    #[serde(default)]
    pub smtp_password: Option<oidc::Secret>,
    /// `smtp`: a PEM certificate to trust besides the system's (a relay with
    /// a private certificate authority).
    #[serde(default)]
    pub smtp_ca_file: Option<std::path::PathBuf>,
    /// `smtp`: longest wait for one message, in seconds (default 30); past
    /// it, the attempt counts as failed and is retried later.
    #[serde(default = "default_smtp_timeout")]
    pub smtp_timeout_secs: u64,
}

fn default_smtp_timeout() -> u64 {
    30
}

fn default_folder() -> String {
    "outbox".into()
}

/// How messages leave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// `.eml` files in a folder.
    #[default]
    Folder,
    /// An SMTP relay.
    Smtp,
    /// Kept in memory (tests).
    Memory,
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded by STARTTLS, which must succeed.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on this machine.
    None,
}

impl Config {
    /// Checks the settings; the error names the bad one under `path`.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        self.from
            .parse::<Mailbox>()
            .map_err(|error| ConfigError::new(format!("{path}.from"), error.to_string()))?;
        if self.transport == TransportKind::Smtp && self.smtp_host.is_none() {
            return Err(ConfigError::new(
                format!("{path}.smtp_host"),
                "the smtp transport needs a host",
            ));
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return Err(ConfigError::new(
                format!("{path}.smtp_password"),
                "set smtp_username and smtp_password together",
            ));
        }
        if !(1..=600).contains(&self.smtp_timeout_secs) {
            return Err(ConfigError::new(
                format!("{path}.smtp_timeout_secs"),
                "must be between 1 and 600",
            ));
        }
        if self.folder.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.folder"),
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// The relay's CA file (`smtp_ca_file`), read and parsed by `parse`,
    /// when one is set; an error names the file.
    fn ca<T, E: std::fmt::Display>(
        &self,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Option<T>, String> {
        let Some(path) = &self.smtp_ca_file else {
            return Ok(None);
        };
        let named =
            |error: &dyn std::fmt::Display| format!("smtp_ca_file {}: {error}", path.display());
        let pem = std::fs::read(path).map_err(|error| named(&error))?;
        parse(&pem).map(Some).map_err(|error| named(&error))
    }

    /// The transport these settings describe; a folder is under `data_dir`
    /// (or the working directory without one).
    pub fn transport(&self, data_dir: Option<&Path>) -> Result<Transport, String> {
        match self.transport {
            TransportKind::Memory => Ok(Transport::Memory(Arc::new(Mutex::new(Vec::new())))),
            TransportKind::Folder => Ok(Transport::Folder(match data_dir {
                Some(dir) => dir.join(&self.folder),
                None => Path::new(&self.folder).to_path_buf(),
            })),
            TransportKind::Smtp => {
                let host = self.smtp_host.as_deref().ok_or("no smtp_host")?;
                let (port, protection) = match self.smtp_security {
                    Security::Starttls => {
                        let mut builder = TlsParameters::builder(host.to_owned());
                        if let Some(certificate) = self.ca(Certificate::from_pem)? {
                            builder = builder.add_root_certificate(certificate);
                        }
                        let parameters = builder.build().map_err(|error| error.to_string())?;
                        (587, Protection::Starttls(parameters))
                    }
                    // Our own TLS here: lettre's would open the socket
                    // itself, out of our reach (see `Relay::connect`).
                    Security::Tls => {
                        let mut builder = native_tls::TlsConnector::builder();
                        if let Some(certificate) = self.ca(native_tls::Certificate::from_pem)? {
                            builder.add_root_certificate(certificate);
                        }
                        let connector = builder.build().map_err(|error| error.to_string())?;
                        (465, Protection::Tls(connector.into()))
                    }
                    Security::None => (25, Protection::None),
                };
                let credentials = match (&self.smtp_username, &self.smtp_password) {
                    (Some(user), Some(password)) => {
                        Some(Credentials::new(user.clone(), password.expose().to_owned()))
                    }
                    _ => None,
                };
                Ok(Transport::Smtp(Arc::new(Relay::new(
                    host.to_owned(),
                    self.smtp_port.unwrap_or(port),
                    protection,
                    credentials,
                    std::time::Duration::from_secs(self.smtp_timeout_secs),
                ))))
            }
        }
    }
}
