//! An SMTP server that keeps what it is sent: the relay of the cluster
//! test. It speaks the plain SMTP a relay on the same machine speaks (no
//! TLS, no authentication), accepts every message, and counts them by
//! `Message-ID`, so that a message delivered twice shows as a duplicate.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A running SMTP sink on 127.0.0.1.
#[derive(Debug)]
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, &kept).await;
                });
            }
        });
        Ok(Self {
            port,
            received,
            task,
        })
    }

    /// Every message received, as sent (headers and body).
    pub fn messages(&self) -> Vec<String> {
        self.received
            .lock()
            .map(|received| received.clone())
            .unwrap_or_default()
    }

    /// How many times each `Message-ID` was received.
    pub fn by_id(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for message in self.messages() {
            let id = header(&message, "message-id").unwrap_or_else(|| "(none)".to_owned());
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A header's value (the first of its name), unfolded.
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.eq_ignore_ascii_case(name) {
            let mut value = value.trim().to_owned();
            while let Some(next) = lines.next_if(|next| next.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
            }
            return Some(value);
        }
    }
    None
}

async fn converse(stream: TcpStream, kept: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?,
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                let mut message = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    message.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if let Ok(mut kept) = kept.lock() {
                    kept.push(message);
                }
                write.write_all(b"250 kept\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 ok\r\n").await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::header;

    #[test]
    fn a_header_is_found_by_name_whatever_its_case_and_unfolded() {
        let message = "From: a@b\r\nMessage-ID: <1.ab@x>\r\nSubject: one\r\n two\r\n\r\nbody";
        assert_eq!(header(message, "message-id").as_deref(), Some("<1.ab@x>"));
        assert_eq!(header(message, "subject").as_deref(), Some("one two"));
        assert_eq!(header(message, "to"), None);
    }
}
