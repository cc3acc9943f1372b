//! The SMTP relay, over one connection kept from message to message.
//!
//! A message on a new connection costs a TCP connection, the greeting,
//! `EHLO`, with `starttls` (the default) a TLS handshake and a second
//! `EHLO`, `AUTH`, and `QUIT`, around the three commands and the text that
//! carry it. A federation sends one message a connection of a citizen: at
//! thousands of logins a second, that is thousands of TLS handshakes a
//! second on the hub and on the relay. So the worker keeps its connection
//! open while messages come, and closes it (`QUIT`) once it has been idle
//! for [`IDLE_MAX`].
//!
//! One connection carries a message every four round trips (`MAIL`,
//! `RCPT`, `DATA`, the text): about 250 messages a second to a relay a
//! millisecond away, fewer than one hub core's logins. So a worker sends
//! up to [`CONNECTIONS_MAX`] messages at once, each on its own connection,
//! and keeps that many between messages; the one used last is used first,
//! so that at a quiet time one connection carries everything and the
//! others close.
//!
//! A connection is only reused in a known state: it is taken out of its
//! slot for a message and put back only after the relay accepted that
//! message. An attempt that failed, or was cut by the timeout mid-way (its
//! connection dropped with it), leaves no connection behind, so no later
//! message reads an answer meant for another. A relay may close a kept
//! connection at any time (its idle timeout, a cap on messages a
//! connection): when a message fails on a reused connection in a way that
//! is not final, it is tried at once on a new one, within the same
//! timeout. The relay may then have taken it already (its answer lost with
//! the connection): the message goes twice, as any retry after a lost
//! answer does, with the same `Message-ID`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::Failure;

/// How long a connection may wait unused before it is closed rather than
/// reused: well under the five minutes a relay waits at least (RFC 5321
/// §4.5.3.2.7), so that it is the hub that says `QUIT`.
pub(crate) const IDLE_MAX: Duration = Duration::from_secs(30);

/// The connections kept to the relay, and the messages a worker sends at
/// once: four, up to a thousand messages a second to a relay a millisecond
/// away (over 400 measured, BENCHMARKS.md run 27), and a handful of
/// connections from each process for the relay.
pub(crate) const CONNECTIONS_MAX: usize = 4;

/// How the connection is protected.
#[derive(Clone)]
pub(crate) enum Protection {
    /// Plain, upgraded by `STARTTLS`, which must succeed.
    Starttls(TlsParameters),
    /// TLS from the first byte.
    Tls(tokio_native_tls::TlsConnector),
    /// None (a relay on this machine).
    None,
}

/// A connection in TLS from its first byte, as lettre takes a stream of
/// ours (`AsyncSmtpConnection::connect_with_transport`).
struct Wrapped {
    stream: tokio_native_tls::TlsStream<TcpStream>,
    peer: SocketAddr,
}

impl std::fmt::Debug for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wrapped")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Wrapped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wrapped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Wrapped {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

/// What a failed SMTP exchange means for the message: a refusal for what
/// it is (5xx) is final, anything else may pass.
fn failure(error: &lettre::transport::smtp::Error) -> Failure {
    if error.is_permanent() {
        Failure::Permanent(error.to_string())
    } else {
        Failure::Transient(error.to_string())
    }
}

/// An SMTP relay and the connections kept to it.
pub struct Relay {
    host: String,
    port: u16,
    protection: Protection,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    /// The connections between two messages, each with when it was last
    /// used, the one used last at the end.
    kept: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Relay {
    pub(crate) fn new(
        host: String,
        port: u16,
        protection: Protection,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Self {
        Self {
            host,
            port,
            protection,
            credentials,
            hello: ClientId::default(),
            timeout,
            kept: Mutex::new(Vec::with_capacity(CONNECTIONS_MAX)),
        }
    }

    /// The longest one message may take.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `text` to the envelope's recipients, on the kept connection
    /// when there is one, within the timeout. The relay accepted it when
    /// this returns `Ok`.
    pub(crate) async fn send(&self, envelope: &Envelope, text: &[u8]) -> Result<(), Failure> {
        tokio::time::timeout(self.timeout, self.send_within(envelope, text))
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Transient(
                    "the relay did not answer in time".into(),
                ))
            })
    }

    async fn send_within(&self, envelope: &Envelope, text: &[u8]) -> Result<(), Failure> {
        if let Some(mut connection) = self.take() {
            match connection.send(envelope, text).await {
                Ok(_) => {
                    self.keep(connection);
                    return Ok(());
                }
                // Refused for what it is: a new connection would not help.
                Err(error) if error.is_permanent() => return Err(failure(&error)),
                // Closed or confused by the relay meanwhile: lettre has
                // closed it; a new one follows.
                Err(error) => {
                    tracing::info!(%error, "kept relay connection failed: a new one follows");
                }
            }
        }
        let mut connection = self.connect().await?;
        connection
            .send(envelope, text)
            .await
            .map_err(|error| failure(&error))?;
        self.keep(connection);
        Ok(())
    }

    /// A new connection, protected and authenticated as configured.
    ///
    /// The socket is ours, with Nagle's algorithm off: lettre writes a
    /// message's text and its closing `.` in two writes, and the second
    /// waited for the relay to acknowledge the first, which it delays (up
    /// to 40 ms on Linux) while it waits for the rest: a connection carried
    /// 25 messages a second, whatever the relay (BENCHMARKS.md, run 27).
    /// lettre opens its own socket when it does the TLS from the first
    /// byte: that TLS is ours too.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let smtp = |error: lettre::transport::smtp::Error| failure(&error);
        let network = |error: std::io::Error| Failure::Transient(format!("the relay: {error}"));
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(network)?;
        stream.set_nodelay(true).map_err(network)?;
        let stream: Box<dyn AsyncTokioStream> = match &self.protection {
            Protection::Tls(connector) => {
                let peer = stream.peer_addr().map_err(network)?;
                let stream = connector
                    .connect(&self.host, stream)
                    .await
                    .map_err(|error| Failure::Transient(format!("the relay's TLS: {error}")))?;
                Box::new(Wrapped { stream, peer })
            }
            Protection::Starttls(_) | Protection::None => Box::new(stream),
        };
        let mut connection = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(smtp)?;
        if let Protection::Starttls(parameters) = &self.protection {
            connection
                .starttls(parameters.clone(), &self.hello)
                .await
                .map_err(smtp)?;
        }
        if let Some(credentials) = &self.credentials {
            // PLAIN only, over TLS: after a refused PLAIN, some relays and
            // lettre's LOGIN fallback fall out of step and wait forever.
            connection
                .auth(&[Mechanism::Plain], credentials)
                .await
                .map_err(smtp)?;
        }
        Ok(connection)
    }

    /// The kept connection used last, when one is not idle too long. Those
    /// idle too long are dropped: the relay may have closed them already.
    fn take(&self) -> Option<AsyncSmtpConnection> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.retain(|(_, used)| used.elapsed() < IDLE_MAX);
        kept.pop().map(|(connection, _)| connection)
    }

    /// Keeps `connection` for a next message, unless [`CONNECTIONS_MAX`]
    /// are kept already (then it is dropped).
    fn keep(&self, connection: AsyncSmtpConnection) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < CONNECTIONS_MAX {
            kept.push((connection, Instant::now()));
        }
    }

    /// Closes the kept connections (`QUIT`): the worker found nothing to
    /// send for a while.
    pub(crate) async fn close(&self) {
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        for (mut connection, _) in kept {
            // `abort` says QUIT and closes; a relay gone already is fine.
            let _ = tokio::time::timeout(self.timeout, connection.abort()).await;
        }
    }

    /// How many connections are kept (tests).
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A scripted relay on loopback: it counts connections, the messages it
    /// took and the `QUIT`s it heard, and misbehaves on demand.
    #[derive(Default)]
    struct Script {
        connections: AtomicUsize,
        taken: Mutex<Vec<String>>,
        quits: AtomicUsize,
        /// Messages a connection takes before the relay refuses the next
        /// `MAIL` with a 421 and hangs up (0: no cap).
        cap: usize,
        /// Whether the next message's final answer comes two seconds late
        /// (past the client's timeout).
        late_once: AtomicBool,
        /// How long every message's final answer waits.
        slow: Duration,
        /// Messages waiting for their final answer now, and the most at once.
        answering: AtomicUsize,
        most_at_once: AtomicUsize,
    }

    async fn fake_relay(script: Arc<Script>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                script.connections.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, &script).await;
                });
            }
        });
        port
    }

    async fn converse(stream: tokio::net::TcpStream, script: &Script) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 fake ESMTP\r\n").await?;
        let (mut line, mut taken_here) = (String::new(), 0);
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => write.write_all(b"250-fake\r\n250 8BITMIME\r\n").await?,
                "MAIL" if script.cap > 0 && taken_here == script.cap => {
                    write.write_all(b"421 too many messages\r\n").await?;
                    return Ok(());
                }
                "RCPT" if line.contains("refused@") => {
                    write.write_all(b"550 no such user\r\n").await?;
                }
                "DATA" => {
                    write.write_all(b"354 go on\r\n").await?;
                    let mut text = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        text.push_str(&line);
                    }
                    if script.late_once.swap(false, Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    let now = script.answering.fetch_add(1, Ordering::SeqCst) + 1;
                    script.most_at_once.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(script.slow).await;
                    script.answering.fetch_sub(1, Ordering::SeqCst);
                    script.taken.lock().unwrap().push(text);
                    taken_here += 1;
                    write.write_all(b"250 taken\r\n").await?;
                }
                "QUIT" => {
                    script.quits.fetch_add(1, Ordering::SeqCst);
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => write.write_all(b"250 ok\r\n").await?,
            }
        }
    }

    fn relay(port: u16) -> Relay {
        Relay::new(
            "127.0.0.1".into(),
            port,
            Protection::None,
            None,
            Duration::from_secs(1),
        )
    }

    fn envelope(to: &str) -> Envelope {
        Envelope::new(
            Some("hub@passerelle.test".parse().unwrap()),
            vec![to.parse().unwrap()],
        )
        .unwrap()
    }

    async fn send(relay: &Relay, to: &str, text: &str) -> Result<(), String> {
        relay
            .send(&envelope(to), text.as_bytes())
            .await
            .map_err(|failure| match failure {
                Failure::Permanent(why) => format!("permanent: {why}"),
                Failure::Transient(why) => format!("transient: {why}"),
            })
    }

    #[tokio::test]
    async fn messages_share_one_connection_which_closes_with_a_quit() {
        let script = Arc::new(Script::default());
        let relay = relay(fake_relay(script.clone()).await);
        for n in 0..5 {
            send(&relay, "marie@example.fr", &format!("message {n}\r\n"))
                .await
                .unwrap();
        }
        assert_eq!(script.connections.load(Ordering::SeqCst), 1);
        assert_eq!(script.taken.lock().unwrap().len(), 5);
        assert_eq!(relay.kept(), 1);
        relay.close().await;
        assert_eq!(relay.kept(), 0);
        assert_eq!(script.quits.load(Ordering::SeqCst), 1);
        // The next message opens a new one.
        send(&relay, "marie@example.fr", "after\r\n").await.unwrap();
        assert_eq!(script.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_the_relay_ends_is_replaced_and_no_message_is_lost() {
        let script = Arc::new(Script {
            cap: 2,
            ..Script::default()
        });
        let relay = relay(fake_relay(script.clone()).await);
        for n in 0..5 {
            send(&relay, "marie@example.fr", &format!("message {n}"))
                .await
                .unwrap();
        }
        let taken = script.taken.lock().unwrap().clone();
        assert_eq!(
            taken,
            (0..5)
                .map(|n| format!("message {n}\r\n"))
                .collect::<Vec<_>>(),
            "each once, in order"
        );
        assert_eq!(script.connections.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn after_an_answer_too_late_the_next_message_reads_its_own_answers() {
        let script = Arc::new(Script::default());
        let relay = relay(fake_relay(script.clone()).await);
        send(&relay, "marie@example.fr", "first\r\n").await.unwrap();
        script.late_once.store(true, Ordering::SeqCst);
        let late = send(&relay, "marie@example.fr", "late\r\n").await;
        assert_eq!(
            late,
            Err("transient: the relay did not answer in time".into())
        );
        assert_eq!(relay.kept(), 0, "a connection cut mid-message is dropped");
        // The late answer is never read as this message's: a refusal on
        // the next one is seen as such.
        let refused = send(&relay, "refused@example.fr", "third\r\n").await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|why| why.starts_with("permanent")),
            "{refused:?}"
        );
        send(&relay, "marie@example.fr", "fourth\r\n")
            .await
            .unwrap();
        // The first, cut; the refusal's, closed by it; the fourth's.
        assert_eq!(script.connections.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_recipient_is_final_and_not_tried_on_another_connection() {
        let script = Arc::new(Script::default());
        let relay = relay(fake_relay(script.clone()).await);
        send(&relay, "marie@example.fr", "first\r\n").await.unwrap();
        let refused = send(&relay, "refused@example.fr", "second\r\n").await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|why| why.starts_with("permanent")),
            "{refused:?}"
        );
        assert_eq!(script.connections.load(Ordering::SeqCst), 1);
        assert_eq!(script.taken.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_relay_that_is_down_is_a_passing_failure() {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let down = send(&relay(port), "marie@example.fr", "x\r\n").await;
        assert!(
            down.as_ref().is_err_and(|why| why.starts_with("transient")),
            "{down:?}"
        );
    }

    #[tokio::test]
    async fn a_worker_sends_a_round_over_several_connections_at_once_and_keeps_them() {
        let script = Arc::new(Script {
            slow: Duration::from_millis(200),
            ..Script::default()
        });
        let port = fake_relay(script.clone()).await;
        let relay = Arc::new(Relay::new(
            "127.0.0.1".into(),
            port,
            Protection::None,
            None,
            Duration::from_secs(10),
        ));
        let stores = store::Stores::memory();
        let mailer = crate::Mailer::new(
            "Passerelle <hub@passerelle.test>",
            crate::Transport::Smtp(relay.clone()),
            stores.outbox.clone(),
            store::sealed::Capability::generate(),
            Arc::new(oidc::FakeClock::at(1_800_000_000)),
        )
        .unwrap();
        let connections = || script.connections.load(Ordering::SeqCst);
        for round in 0..2 {
            for n in 0..10 {
                let message = crate::Message {
                    to: format!("marie.{round}.{n}@example.fr"),
                    subject: "Connexion".into(),
                    text: "Bonjour".into(),
                    sender: None,
                };
                mailer.queue(&message).await.unwrap();
            }
            assert_eq!(mailer.deliver_due().await.unwrap(), 10);
            assert_eq!(
                script.most_at_once.load(Ordering::SeqCst),
                CONNECTIONS_MAX,
                "sent {CONNECTIONS_MAX} at once, no more"
            );
            assert_eq!(
                connections(),
                CONNECTIONS_MAX,
                "round {round}: kept and reused"
            );
            assert_eq!(relay.kept(), CONNECTIONS_MAX);
        }
        assert_eq!(script.taken.lock().unwrap().len(), 20);
        assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
        relay.close().await;
        assert_eq!(script.quits.load(Ordering::SeqCst), CONNECTIONS_MAX);
    }
}
