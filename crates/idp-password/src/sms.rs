//! Text messages to citizens' phones (the 6-digit code of an account
//! creation), through a gateway that `[sms]` chooses:
//!
//! - `folder` (the default, embedded): one `.txt` file per message in a
//!   folder of the data directory, to read what a phone would have got;
//! - `webhook`: a JSON `POST {"to": "+33…", "text": "…"}` to the operator's
//!   SMS provider (or a bridge to it), with an optional bearer token; any
//!   2xx answer is a delivery;
//! - `memory`: kept in the process (tests).
//!
//! Unlike mail, a text is sent at once and not queued: its code lives ten
//! minutes and the citizen waits for it; a failure is shown, and they ask
//! for another.

use oidc::ConfigError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// `[sms]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where texts go.
    #[serde(default)]
    pub transport: SmsTransportKind,
    /// The folder transport's folder, under the data directory.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// The webhook transport's URL.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer …` to the webhook.
    #[serde(default)]
    pub webhook_token: Option<oidc::Secret>,
}

fn default_folder() -> String {
    "sms".into()
}

/// `[sms] transport`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsTransportKind {
    /// One file per message.
    #[default]
    Folder,
    /// An HTTP POST per message.
    Webhook,
    /// In memory.
    Memory,
}

/// A text message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sms {
    /// The phone number, international form (`+33612345678`).
    pub to: String,
    /// What it says.
    pub text: String,
}

/// Why a text was not sent.
#[derive(Debug, thiserror::Error)]
#[error("text message not sent: {0}")]
pub struct SmsError(String);

/// The gateway.
#[derive(Clone)]
pub enum SmsGateway {
    /// A folder.
    Folder(PathBuf),
    /// A webhook, its token, and the client.
    Webhook {
        /// Where to post.
        url: String,
        /// Bearer token.
        token: Option<oidc::Secret>,
        /// The HTTP client.
        http: reqwest::Client,
    },
    /// In memory.
    Memory(Arc<Mutex<Vec<Sms>>>),
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsGateway::Folder(path) => f.debug_tuple("Folder").field(path).finish(),
            SmsGateway::Webhook { url, .. } => f.debug_tuple("Webhook").field(url).finish(),
            SmsGateway::Memory(_) => f.write_str("Memory"),
        }
    }
}

impl Config {
    /// Checks the settings; the error names the bad path.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        if self.transport == SmsTransportKind::Webhook {
            let url = self.webhook_url.as_deref().unwrap_or_default();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::new(
                    format!("{path}.webhook_url"),
                    "the webhook transport needs an http(s) URL",
                ));
            }
        }
        if self.folder.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.folder"),
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// The gateway, its folder under `data_dir` when there is one.
    pub fn gateway(&self, data_dir: Option<&Path>, http: reqwest::Client) -> SmsGateway {
        match self.transport {
            SmsTransportKind::Folder => SmsGateway::Folder(match data_dir {
                Some(dir) => dir.join(&self.folder),
                None => PathBuf::from(&self.folder),
            }),
            SmsTransportKind::Webhook => SmsGateway::Webhook {
                url: self.webhook_url.clone().unwrap_or_default(),
                token: self.webhook_token.clone(),
                http,
            },
            SmsTransportKind::Memory => SmsGateway::Memory(Arc::default()),
        }
    }
}

impl SmsGateway {
    /// Sends a text.
    pub async fn send(&self, sms: &Sms) -> Result<(), SmsError> {
        match self {
            SmsGateway::Folder(dir) => write_file(dir, sms)
                .await
                .map_err(|error| SmsError(error.to_string())),
            SmsGateway::Webhook { url, token, http } => {
                let mut request = http.post(url).json(sms).timeout(Duration::from_secs(10));
                if let Some(token) = token {
                    request = request.bearer_auth(token.expose());
                }
                let response = request
                    .send()
                    .await
                    .map_err(|error| SmsError(error.without_url().to_string()))?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(SmsError(format!("gateway answered {}", response.status())))
                }
            }
            SmsGateway::Memory(sent) => {
                sent.lock()
                    .map_err(|_| SmsError("memory poisoned".into()))?
                    .push(sms.clone());
                Ok(())
            }
        }
    }

    /// What a memory gateway kept.
    pub fn sent(&self) -> Vec<Sms> {
        match self {
            SmsGateway::Memory(sent) => sent.lock().map(|sent| sent.clone()).unwrap_or_default(),
            SmsGateway::Folder(_) | SmsGateway::Webhook { .. } => Vec::new(),
        }
    }
}

async fn write_file(dir: &Path, sms: &Sms) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let millis = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let name = format!("{millis}-{}.txt", oidc::types::random_token(6));
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, format!("À : {}\n\n{}\n", sms.to, sms.text)).await?;
    tokio::fs::rename(&partial, dir.join(name)).await
}

/// A French mobile number in international form, from what people type
/// (`06 12 34 56 78`, `+33 6…`, `0033 6…`); `None` when it is not one.
pub fn french_mobile(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '\u{a0}'))
        .collect();
    let national = if let Some(rest) = digits.strip_prefix("+33") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix("0033") {
        rest.to_owned()
    } else {
        digits.strip_prefix('0')?.to_owned()
    };
    let mobile = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && (national.starts_with('6') || national.starts_with('7'));
    mobile.then(|| format!("+33{national}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_french_mobile_number_is_read_as_people_type_it() {
        for typed in [
            "06 12 34 56 78",
            "0612345678",
            "+33 6 12 34 56 78",
            "0033612345678",
            "06.12.34.56.78",
        ] {
            assert_eq!(
                french_mobile(typed).as_deref(),
                Some("+33612345678"),
                "{typed}"
            );
        }
        for typed in [
            "01 23 45 67 89",
            "061234567",
            "+44 7700 900123",
            "06123456789",
            "",
            "0612345a78",
        ] {
            assert_eq!(french_mobile(typed), None, "{typed}");
        }
    }

    #[tokio::test]
    async fn the_folder_gateway_writes_one_file_per_text() -> std::io::Result<()> {
        let dir =
            std::env::temp_dir().join(format!("passerelle-sms-{}", oidc::types::random_token(6)));
        let gateway = SmsGateway::Folder(dir.clone());
        let sms = Sms {
            to: "+33612345678".into(),
            text: "Votre code : 123456".into(),
        };
        gateway.send(&sms).await.map_err(std::io::Error::other)?;
        gateway.send(&sms).await.map_err(std::io::Error::other)?;
        let mut files = Vec::new();
        let mut entries = tokio::fs::read_dir(&dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            files.push(tokio::fs::read_to_string(entry.path()).await?);
        }
        tokio::fs::remove_dir_all(&dir).await?;
        assert_eq!(files.len(), 2);
        assert!(
            files
                .iter()
                .all(|text| text.contains("+33612345678") && text.contains("123456"))
        );
        Ok(())
    }
}
