//! An SMTP server that keeps what it is sent: the relay of the cluster
//! test. It speaks the SMTP a deployment's relay speaks, STARTTLS under a
//! certificate of its own (no authentication), accepts every message,
//! counts them by `Message-ID`, so that a message delivered twice shows as
//! a duplicate, and counts the connections that carried them. It can wait
//! before each answer, as a relay on another machine would be as far.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_native_tls::{TlsAcceptor, native_tls};

/// A running SMTP sink on 127.0.0.1.
#[derive(Debug)]
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    /// Its certificate, PEM: the relay's CA file of the hubs' settings.
    pub certificate: Vec<u8>,
    received: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    /// Microseconds it waits before each answer (none by default).
    round_trip: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        let (certificate, key) = self_signed()?;
        let identity = native_tls::Identity::from_pkcs8(&certificate, &key)?;
        let tls = TlsAcceptor::from(native_tls::TlsAcceptor::new(identity)?);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let round_trip = Arc::new(AtomicU64::new(0));
        let (kept, counted, far) = (received.clone(), connections.clone(), round_trip.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                let (kept, tls, far) = (kept.clone(), tls.clone(), far.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &tls, &Peer { kept, far }).await;
                });
            }
        });
        Ok(Self {
            port,
            certificate,
            received,
            connections,
            round_trip,
            task,
        })
    }

    /// Waits `round_trip` before each answer from now on: a relay that far
    /// away (the client waits for each answer; nothing is pipelined).
    pub fn set_round_trip(&self, round_trip: std::time::Duration) {
        let micros = u64::try_from(round_trip.as_micros()).unwrap_or(u64::MAX);
        self.round_trip.store(micros, Ordering::Relaxed);
    }

    /// How many messages it received so far.
    pub fn received(&self) -> usize {
        self.received.lock().map_or(0, |received| received.len())
    }

    /// The connections it accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
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

/// A certificate for 127.0.0.1 and its PKCS #8 key, both PEM.
fn self_signed() -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509, X509NameBuilder};

    let curve = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&curve)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "127.0.0.1")?;
    let name = name.build();
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    builder.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    builder.set_not_after(&*Asn1Time::days_from_now(2)?)?;
    let address = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(None, None))?;
    builder.append_extension(address)?;
    builder.sign(&key, MessageDigest::sha256())?;
    Ok((builder.build().to_pem()?, key.private_key_to_pem_pkcs8()?))
}

/// What a connection shares with the sink: where messages go, and how far
/// away the sink plays.
struct Peer {
    kept: Arc<Mutex<Vec<String>>>,
    far: Arc<AtomicU64>,
}

impl Peer {
    /// Waits the round trip the sink plays, if any, before an answer.
    async fn far_away(&self) {
        let micros = self.far.load(Ordering::Relaxed);
        if micros > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
        }
    }
}

/// One connection: plain until the client asks for STARTTLS, then over TLS.
async fn serve(stream: TcpStream, tls: &TlsAcceptor, peer: &Peer) -> anyhow::Result<()> {
    if let Some(stream) = converse(stream, true, peer).await? {
        let stream = tls.accept(stream).await?;
        converse(stream, false, peer).await?;
    }
    Ok(())
}

/// Speaks SMTP on `stream` until `QUIT` or the end; returns the stream when
/// the client asked for STARTTLS (offered when `offer_tls`), which the
/// caller then wraps.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    offer_tls: bool,
    peer: &Peer,
) -> std::io::Result<Option<S>> {
    let mut lines = BufReader::new(stream);
    if offer_tls {
        peer.far_away().await;
        lines.write_all(b"220 sink ESMTP\r\n").await?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        peer.far_away().await;
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" if offer_tls => {
                lines
                    .write_all(b"250-sink\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                    .await?;
            }
            "EHLO" => lines.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?,
            "STARTTLS" if offer_tls => {
                lines.write_all(b"220 go ahead\r\n").await?;
                lines.flush().await?;
                return Ok(Some(lines.into_inner()));
            }
            "DATA" => {
                lines.write_all(b"354 go on\r\n").await?;
                let mut message = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(None);
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    message.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if let Ok(mut kept) = peer.kept.lock() {
                    kept.push(message);
                }
                peer.far_away().await;
                lines.write_all(b"250 kept\r\n").await?;
            }
            "QUIT" => {
                lines.write_all(b"221 bye\r\n").await?;
                return Ok(None);
            }
            _ => lines.write_all(b"250 ok\r\n").await?,
        }
        // TLS may hold an answer back until flushed.
        lines.flush().await?;
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
