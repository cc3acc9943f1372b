//! `[mail]`: the sender and the transport.

use std::path::Path;
use std::sync::{Arc, Mutex};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde::Deserialize;

use crate::Transport;

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
    pub smtp_password: Option<String>,
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
    pub fn check(&self, path: &str) -> Result<(), (String, String)> {
        self.from
            .parse::<Mailbox>()
            .map_err(|error| (format!("{path}.from"), error.to_string()))?;
        if self.transport == TransportKind::Smtp && self.smtp_host.is_none() {
            return Err((
                format!("{path}.smtp_host"),
                "the smtp transport needs a host".into(),
            ));
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return Err((
                format!("{path}.smtp_password"),
                "set smtp_username and smtp_password together".into(),
            ));
        }
        if self.folder.is_empty() {
            return Err((format!("{path}.folder"), "must not be empty".into()));
        }
        Ok(())
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
                let builder = match self.smtp_security {
                    Security::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                            .map_err(|error| error.to_string())?
                    }
                    Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                        .map_err(|error| error.to_string())?,
                    Security::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(25)
                    }
                };
                let builder = match self.smtp_port {
                    Some(port) => builder.port(port),
                    None => builder,
                };
                let builder = match (&self.smtp_username, &self.smtp_password) {
                    (Some(user), Some(password)) => {
                        builder.credentials(Credentials::new(user.clone(), password.clone()))
                    }
                    _ => builder,
                };
                Ok(Transport::Smtp(
                    builder
                        .timeout(Some(std::time::Duration::from_secs(15)))
                        .build(),
                ))
            }
        }
    }
}
