//! Mail: what the federation tells citizens by email, through a durable
//! outbox.
//!
//! Sending never holds up or fails a login: [`Mailer::queue`] only writes
//! the message, sealed, to the outbox; a worker ([`Mailer::run`]) delivers
//! it through the configured [`Transport`] and tries again, with growing
//! delays, when the transport fails. A delivered message is deleted.
//!
//! The worker of the process that queued a message makes its first
//! attempt: the message is written to the outbox already claimed by it
//! (`Outbox::push_claimed`), and handed to it in memory. A claim is a
//! durable write, and rewrites every row it takes: the hand saves one
//! write per message. When the process dies before the attempt, the
//! message's lease ends and any worker claims it, as any message due.
//!
//! The outbox is the mail part's own store (not the hub's): the hub keeps no
//! personal data at rest, and a message waiting here is sealed under a key
//! of the mail part, for the minutes or hours until it goes.

mod config;
mod french;
mod relay;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

pub use config::{Config, Security, TransportKind};
pub use french::{
    civil_from_days, days_from_civil, english_datetime, french_date, french_datetime,
    paris_instant, paris_year,
};
use futures_util::{StreamExt as _, stream};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message as Email};
use oidc::Clock;
pub use relay::Relay;
use serde::{Deserialize, Serialize};
use store::sealed::Capability;
use store::{Outbox, Queued};
use tokio::sync::{Notify, mpsc};

/// A message to send: plain text, UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The recipient's address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub text: String,
    /// The sender's name, when not the mailer's (a provider writes as
    /// itself, from the mailer's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// The email of `message` from `from` (its name replaced by the message's
/// sender, when it names one). Whatever the recipient, subject, sender name
/// and text hold (they carry names that citizens and services typed),
/// they stay in their own header or in the body: lettre encodes them, and
/// the `mail_wire` fuzz target checks that no header is ever added.
fn compose(message: &Message, from: &Mailbox, id: &str, now: i64) -> Result<Email, String> {
    let to = message
        .to
        .parse::<Mailbox>()
        .map_err(|error| format!("recipient: {error}"))?;
    let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or_default());
    let from = match &message.sender {
        Some(name) => Mailbox::new(Some(one_line(name)), from.email.clone()),
        None => from.clone(),
    };
    // The envelope given, not read back from the headers just written.
    let envelope = Envelope::new(Some(from.email.clone()), vec![to.email.clone()])
        .map_err(|error| format!("envelope: {error}"))?;
    Email::builder()
        .envelope(envelope)
        .from(from)
        .to(to)
        .subject(one_line(&message.subject))
        .message_id(Some(id.to_owned()))
        .date(date)
        .header(ContentType::TEXT_PLAIN)
        .body(message.text.clone())
        .map_err(|error| error.to_string())
}

/// A header's text on one line: control characters (line breaks among
/// them) become spaces, whatever typed them. lettre panicked on
/// some of them in a sender's name (found by this crate's injection test).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What `message`, sent from `from` (`Name <address>`), is on the wire
/// (RFC 5322 text); an error for what cannot be sent (a recipient that is
/// not an address). For the fuzz target and the tests.
pub fn wire_text(message: &Message, from: &str) -> Result<Vec<u8>, String> {
    let from = from
        .parse::<Mailbox>()
        .map_err(|error| format!("sender: {error}"))?;
    let email = compose(message, &from, "<1.fuzz@example.fr>", 1_800_000_000)?;
    Ok(email.formatted())
}

/// The header names a message of ours has, and the only ones.
const HEADERS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Message-ID",
    "Date",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
];

/// What is wrong with the headers of an RFC 5322 text, read as a lenient
/// server reads it (a bare line feed ends a line too): the first header
/// that is not one of ours, or is there twice; `None` when each is ours
/// and there once. The check of the injection test and the `mail_wire`
/// fuzz target.
pub fn header_problem(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let names: Vec<&str> = text
        .split('\n')
        .map(|line| line.trim_end_matches('\r'))
        .take_while(|line| !line.is_empty())
        .filter(|line| !line.starts_with([' ', '\t']))
        .map(|line| line.split(':').next().unwrap_or_default())
        .collect();
    names.iter().find_map(|name| {
        if !HEADERS.contains(name) {
            Some(format!("header {name:?} is not ours: {names:?}"))
        } else if names.iter().filter(|other| *other == name).count() > 1 {
            Some(format!("header {name:?} is there twice: {names:?}"))
        } else {
            None
        }
    })
}

/// A message as a memory transport kept it (tests read them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// What was queued.
    pub message: Message,
    /// The RFC 5322 text that would have gone on the wire.
    pub raw: String,
}

/// Why mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The outbox failed.
    #[error("outbox: {0}")]
    Outbox(#[from] store::StoreError),
    /// The message is not valid JSON (cannot happen) or not sendable.
    #[error("message: {0}")]
    Message(String),
}

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    /// One `.eml` file per message in a folder (the demo's default: open
    /// them with any mail reader).
    Folder(PathBuf),
    /// An SMTP relay, over a connection kept while messages come.
    Smtp(Arc<Relay>),
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<Sent>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Folder(path) => f.debug_tuple("Folder").field(path).finish(),
            Transport::Smtp(relay) => f.debug_tuple("Smtp").field(relay).finish(),
            Transport::Memory(_) => f.write_str("Memory"),
        }
    }
}

/// Waits after a failed attempt n (1-based) before attempt n + 1: 1 min,
/// 5 min, 15 min, 1 h, 6 h; after the sixth failure the message is dropped
/// (a connection notice a day late is worth little).
const BACKOFF_SECS: [i64; 5] = [60, 300, 900, 3_600, 21_600];

/// The shortest lease on claimed messages: when their worker dies (a
/// process killed mid-round), another sends them this long after at most.
const LEASE_MIN_SECS: i64 = 30;

/// How often the worker looks at the outbox when nothing wakes it.
const POLL: Duration = Duration::from_secs(30);

/// Messages claimed per round, and messages taken from the hand.
const BATCH: u32 = 10;

/// The messages a process's worker may hold in its hand at once. Past
/// them, a message is queued for a claim, as another process's would be.
const HANDED_MAX: usize = 256;

/// How often a worker busy with what it is handed still claims what is
/// due in the outbox: retries, messages whose worker died, and those
/// queued while its hand was full (these wake it for a claim at once).
const CLAIM_EVERY: Duration = Duration::from_secs(1);

/// How long the worker, once woken, lets messages gather before it claims
/// them: a claim and a removal are a durable write each, so at a few
/// connections a second a round takes several messages instead of one
/// each, and a message still leaves well within a second.
const GATHER: Duration = Duration::from_millis(100);

/// The mailer: an outbox, a transport, a worker.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    outbox: Arc<dyn Outbox>,
    key: Capability,
    clock: Arc<dyn Clock>,
    wake: Notify,
    /// Where [`Mailer::queue`] hands the worker what it claimed for it.
    hand: mpsc::Sender<Attempt>,
    /// What the worker was handed.
    handed: Mutex<mpsc::Receiver<Attempt>>,
    /// A message was queued for a claim since the worker's last one.
    unhanded: AtomicBool,
}

/// What a round left: whether it claimed a whole batch of due messages,
/// or took a whole batch from the hand (more may wait), and how many
/// messages went.
struct Round {
    due_left: bool,
    hand_left: bool,
    delivered: usize,
}

/// A message claimed for an attempt before `lease_until`, and its text
/// when the worker has it already (handed, not read back from the outbox).
struct Attempt {
    queued: Queued,
    message: Option<Message>,
    lease_until: i64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer sending as `from` (`Name <address>`) through `transport`,
    /// keeping waiting messages in `outbox` sealed under `key`.
    pub fn new(
        from: &str,
        transport: Transport,
        outbox: Arc<dyn Outbox>,
        key: Capability,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, String> {
        let from = from
            .parse::<Mailbox>()
            .map_err(|error| format!("sender: {error}"))?;
        let (hand, handed) = mpsc::channel(HANDED_MAX);
        Ok(Arc::new(Self {
            from,
            transport,
            outbox,
            key,
            clock,
            wake: Notify::new(),
            hand,
            handed: Mutex::new(handed),
            unhanded: AtomicBool::new(false),
        }))
    }

    /// Queues a message and wakes the worker. Returns once it is in the
    /// outbox: delivery happens later.
    pub async fn queue(&self, message: &Message) -> Result<(), MailError> {
        let json =
            serde_json::to_vec(message).map_err(|error| MailError::Message(error.to_string()))?;
        let payload = self.key.seal(&json);
        let now = self.clock.now();
        match self.hand.try_reserve() {
            // Claimed for this process's worker as it is written.
            Ok(room) => {
                let lease_until = self.lease_from(now);
                let id = self.outbox.push_claimed(&payload, lease_until).await?;
                room.send(Attempt {
                    queued: Queued {
                        id,
                        payload,
                        attempts: 1,
                    },
                    message: Some(message.clone()),
                    lease_until,
                });
            }
            Err(_) => {
                self.outbox.push(&payload, now).await?;
                self.unhanded.store(true, Ordering::Relaxed);
            }
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The messages a memory transport kept.
    pub fn sent(&self) -> Vec<Sent> {
        match &self.transport {
            Transport::Memory(sent) => sent.lock().map(|sent| sent.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The longest one attempt may take (the relay's timeout).
    fn attempt_secs(&self) -> i64 {
        match &self.transport {
            Transport::Smtp(relay) => i64::try_from(relay.timeout().as_secs()).unwrap_or(i64::MAX),
            Transport::Folder(_) | Transport::Memory(_) => 1,
        }
    }

    /// The end of a lease taken at `now`: two attempts' time, at least
    /// [`LEASE_MIN_SECS`].
    fn lease_from(&self, now: i64) -> i64 {
        now + (2 * self.attempt_secs()).max(LEASE_MIN_SECS)
    }

    /// Delivers what is due, and what this process queued; returns how
    /// many messages went.
    ///
    /// A message whose attempt could outlast its lease is left for the
    /// next claim rather than sent while another worker may take it too.
    pub async fn deliver_due(&self) -> Result<usize, MailError> {
        self.round(true).await.map(|round| round.delivered)
    }

    /// One round: what the worker was handed, and what is due in the
    /// outbox when it `claim`s.
    async fn round(&self, claim: bool) -> Result<Round, MailError> {
        let now = self.clock.now();
        let batch = BATCH as usize;
        let mut attempts = Vec::new();
        if claim {
            let lease_until = self.lease_from(now);
            let claimed = self.outbox.claim(now, lease_until, BATCH).await?;
            attempts.extend(claimed.into_iter().map(|queued| Attempt {
                queued,
                message: None,
                lease_until,
            }));
        }
        let claimed = attempts.len();
        {
            let mut hand = self.handed.lock().unwrap_or_else(PoisonError::into_inner);
            while attempts.len() - claimed < batch
                && let Ok(attempt) = hand.try_recv()
            {
                attempts.push(attempt);
            }
        }
        let mut round = Round {
            due_left: claimed == batch,
            hand_left: attempts.len() - claimed == batch,
            delivered: 0,
        };
        // Those that went (or were given up) leave the outbox together at
        // the end of the round, also when a postponement failed: until
        // then their lease keeps other workers off them.
        let mut gone = Vec::with_capacity(attempts.len());
        let attempted = self
            .attempt_round(attempts, now, &mut gone, &mut round.delivered)
            .await;
        self.outbox.remove(&gone).await?;
        attempted.map(|()| round)
    }

    async fn attempt_round(
        &self,
        attempts: Vec<Attempt>,
        now: i64,
        gone: &mut Vec<i64>,
        delivered: &mut usize,
    ) -> Result<(), MailError> {
        let attempt = self.attempt_secs();
        // The demo's folder takes the round's messages in one blocking
        // task at the end, not a thread hop each; the relay takes several
        // at once, each on its own connection.
        let mut to_folder = Vec::new();
        let mut to_relay = Vec::new();
        for Attempt {
            queued,
            message,
            lease_until,
        } in attempts
        {
            if self.clock.now() + attempt >= lease_until {
                continue;
            }
            let message = message.or_else(|| {
                self.key
                    .open(&queued.payload)
                    .ok()
                    .and_then(|json| serde_json::from_slice::<Message>(&json).ok())
            });
            let Some(message) = message else {
                tracing::error!(id = queued.id, "unreadable outbox message dropped");
                gone.push(queued.id);
                continue;
            };
            let email = compose(
                &message,
                &self.from,
                &self.message_id(&queued),
                self.clock.now(),
            );
            let outcome = match (email, &self.transport) {
                (Err(error), _) => Err(Failure::Permanent(error)),
                (Ok(email), Transport::Folder(_)) => {
                    to_folder.push((queued, email.formatted()));
                    continue;
                }
                (Ok(email), Transport::Smtp(_)) => {
                    to_relay.push((queued, email, lease_until));
                    continue;
                }
                (Ok(email), Transport::Memory(sent)) => keep(sent, &message, &email),
            };
            self.settle(&queued, outcome, now, gone, delivered).await?;
        }
        if let Transport::Smtp(relay) = &self.transport {
            let sent: Vec<_> = stream::iter(to_relay)
                .map(|(queued, email, lease_until)| async move {
                    // An attempt that could outlast its lease waits for the
                    // next claim (sends before it took time).
                    if self.clock.now() + attempt >= lease_until {
                        return (queued, None);
                    }
                    let outcome = relay.send(email.envelope(), &email.formatted()).await;
                    (queued, Some(outcome))
                })
                .buffer_unordered(relay::CONNECTIONS_MAX)
                .collect()
                .await;
            for (queued, outcome) in sent {
                if let Some(outcome) = outcome {
                    self.settle(&queued, outcome, now, gone, delivered).await?;
                }
            }
        }
        if let Transport::Folder(dir) = &self.transport
            && !to_folder.is_empty()
        {
            let (queued, texts): (Vec<_>, Vec<_>) = to_folder.into_iter().unzip();
            for (queued, written) in queued.iter().zip(write_emls(dir, texts).await) {
                let outcome = written.map_err(|error| Failure::Transient(error.to_string()));
                self.settle(queued, outcome, now, gone, delivered).await?;
            }
        }
        Ok(())
    }

    /// What follows an attempt: the message leaves the queue when it went
    /// or cannot go; it waits its turn again when it may go later, until
    /// the last turn.
    async fn settle(
        &self,
        queued: &store::Queued,
        outcome: Result<(), Failure>,
        now: i64,
        gone: &mut Vec<i64>,
        delivered: &mut usize,
    ) -> Result<(), MailError> {
        match outcome {
            Ok(()) => {
                gone.push(queued.id);
                *delivered += 1;
            }
            Err(Failure::Permanent(error)) => {
                tracing::error!(id = queued.id, %error, "message cannot be sent; dropped");
                gone.push(queued.id);
            }
            Err(Failure::Transient(error)) => {
                let attempt = usize::try_from(queued.attempts).unwrap_or(usize::MAX);
                match BACKOFF_SECS.get(attempt.saturating_sub(1)) {
                    Some(wait) => {
                        tracing::warn!(id = queued.id, attempt, %error, "delivery failed; will retry");
                        self.outbox.postpone(queued.id, now + wait).await?;
                    }
                    None => {
                        tracing::error!(id = queued.id, attempt, %error, "delivery given up");
                        gone.push(queued.id);
                    }
                }
            }
        }
        Ok(())
    }

    /// The worker: delivers what it is handed whenever a message is
    /// queued, and what is due in the outbox at its start, every 30 s, and
    /// once a second at most while it is busy; after a whole batch claimed,
    /// it claims again at once (a backlog). Runs until the task is dropped.
    /// A round that took less than a whole batch left nothing behind it:
    /// the worker waits rather than claim again for nothing (a message
    /// queued meanwhile has woken it already).
    pub async fn run(self: Arc<Self>) {
        let mut claimed_at: Option<tokio::time::Instant> = None;
        let mut due_left = false;
        loop {
            loop {
                let claim = due_left
                    || self.unhanded.swap(false, Ordering::Relaxed)
                    || claimed_at.is_none_or(|at| at.elapsed() >= CLAIM_EVERY);
                if claim {
                    claimed_at = Some(tokio::time::Instant::now());
                }
                match self.round(claim).await {
                    Ok(round) => {
                        due_left = round.due_left;
                        if !due_left && !round.hand_left {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "outbox unavailable");
                        break;
                    }
                }
            }
            match tokio::time::timeout(POLL, self.wake.notified()).await {
                Ok(()) => tokio::time::sleep(GATHER).await,
                // Nothing to send for a while: the relay's connection goes.
                Err(_) => {
                    if let Transport::Smtp(relay) = &self.transport {
                        relay.close().await;
                    }
                }
            }
        }
    }

    /// The message's `Message-ID`: the same at every attempt, so that a
    /// message delivered twice (a worker that died after the relay took it,
    /// before the queue knew) shows as a duplicate. Its outbox id and the
    /// sealed payload's random nonce make it unique across databases.
    fn message_id(&self, queued: &store::Queued) -> String {
        let nonce = base16ct::lower::encode_string(queued.payload.get(1..9).unwrap_or_default());
        format!("<{}.{nonce}@{}>", queued.id, self.from.email.domain())
    }
}

/// Keeps `message` and its wire text in memory (tests).
fn keep(sent: &Mutex<Vec<Sent>>, message: &Message, email: &Email) -> Result<(), Failure> {
    let raw = String::from_utf8_lossy(&email.formatted()).into_owned();
    sent.lock()
        .map_err(|_| Failure::Transient("memory transport poisoned".into()))?
        .push(Sent {
            message: message.clone(),
            raw,
        });
    Ok(())
}

enum Failure {
    /// Trying again would fail the same way (bad address, refused).
    Permanent(String),
    /// The relay or the disk may be back later.
    Transient(String),
}

/// The folder, inside the messages' own, where each is written before it
/// is renamed into place (as a maildir's `tmp`): a reader never sees half a
/// message.
const PARTIAL: &str = ".partial";

/// Writes each message in [`PARTIAL`], then renames it into the folder. Its
/// name is made and removed there for less than in the folder of every
/// message, where it was written before: 2 % less of the hub's CPU a single
/// sign-on (BENCHMARKS.md, run 21). One blocking task for them all:
/// the folders made once, no thread hop a message. One result a message, in
/// their order.
async fn write_emls(dir: &std::path::Path, texts: Vec<Vec<u8>>) -> Vec<std::io::Result<()>> {
    let dir = dir.to_owned();
    let count = texts.len();
    let written = tokio::task::spawn_blocking(move || {
        let partial = dir.join(PARTIAL);
        let made = std::fs::create_dir_all(&partial);
        texts
            .iter()
            .map(|bytes| match &made {
                Ok(()) => write_eml_now(&dir, &partial, bytes),
                Err(error) => Err(std::io::Error::new(error.kind(), error.to_string())),
            })
            .collect()
    })
    .await;
    // The blocking task died: none is known to be written.
    written.unwrap_or_else(|_| {
        (0..count)
            .map(|_| Err(std::io::Error::other("the writing task died")))
            .collect()
    })
}

fn write_eml_now(
    dir: &std::path::Path,
    partial: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    let name = format!(
        "{}-{}.eml",
        std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis())
            .unwrap_or_default(),
        Capability::generate()
            .lookup_key()
            .get(..12)
            .unwrap_or_default()
    );
    let written = partial.join(&name);
    std::fs::write(&written, bytes)?;
    std::fs::rename(&written, dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_typed_by_people_never_add_a_header() {
        let injected = [
            "Bonjour\r\nBcc: evil@example.fr",
            "Bonjour\nBcc: evil@example.fr",
            "Bonjour\r\n\r\nFrom: evil@example.fr",
            "=?utf-8?q?a=0D=0ABcc:_evil@example.fr?=",
            "Élodie « ÇA » \u{0}\u{1b}",
        ];
        for text in injected {
            let message = Message {
                to: "marie@example.fr".into(),
                subject: text.into(),
                text: text.into(),
                sender: Some(text.into()),
            };
            let raw = wire_text(&message, "Passerelle <ne-pas-repondre@example.fr>").unwrap();
            assert_eq!(header_problem(&raw), None, "{text:?}");
        }
        let to = Message {
            to: "marie@example.fr\r\nBcc: evil@example.fr".into(),
            subject: "s".into(),
            text: "t".into(),
            sender: None,
        };
        if let Ok(raw) = wire_text(&to, "Passerelle <ne-pas-repondre@example.fr>") {
            assert_eq!(header_problem(&raw), None);
        }
    }
}
