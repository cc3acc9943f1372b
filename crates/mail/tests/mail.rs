//! The outbox and its transports, through the real stores and, for SMTP, a
//! real SMTP server on loopback (Python's aiosmtpd, installed by the test
//! command).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use mail::{Config, Mailer, Message, Transport};
use oidc::FakeClock;
use store::Stores;
use store::sealed::Capability;

const FROM: &str = "Passerelle <ne-pas-repondre@passerelle.example.fr>";

fn message(to: &str) -> Message {
    Message {
        to: to.into(),
        subject: "Connexion à Service de démonstration".into(),
        text: "Bonjour,\nvous vous êtes connecté.\n".into(),
        sender: None,
    }
}

fn mailer(transport: Transport, stores: &Stores, clock: &FakeClock) -> Arc<Mailer> {
    Mailer::new(
        FROM,
        transport,
        stores.outbox.clone(),
        Capability::generate(),
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn memory() -> Transport {
    Transport::Memory(Arc::default())
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("passerelle-mail-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_queued_message_is_delivered_once_and_leaves_the_outbox() {
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let mailer = mailer(memory(), &stores, &clock);
    mailer
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    assert_eq!(stores.outbox.waiting().await.unwrap(), 1);
    assert_eq!(mailer.deliver_due().await.unwrap(), 1);
    assert_eq!(mailer.deliver_due().await.unwrap(), 0);
    assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    let raw = &sent[0].raw;
    assert!(raw.contains("To: marie.dupont.1@example.fr"), "{raw}");
    assert!(raw.contains("From: Passerelle <ne-pas-repondre@passerelle.example.fr>"));
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8"),
        "{raw}"
    );
    assert!(
        raw.contains("Subject: Connexion =?utf-8?"),
        "non-ASCII subjects are encoded: {raw}"
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_later_and_a_bad_address_is_dropped() {
    let dir = scratch("retry");
    let blocked = dir.join("outbox");
    // A file where the folder should be: the disk "fails".
    std::fs::write(&blocked, b"").unwrap();
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let mailer = mailer(Transport::Folder(blocked.clone()), &stores, &clock);
    mailer
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    mailer.queue(&message("not an address")).await.unwrap();
    assert_eq!(mailer.deliver_due().await.unwrap(), 0);
    assert_eq!(
        stores.outbox.waiting().await.unwrap(),
        1,
        "the bad address is dropped, the other waits"
    );
    std::fs::remove_file(&blocked).unwrap();
    assert_eq!(
        mailer.deliver_due().await.unwrap(),
        0,
        "not before a minute"
    );
    clock.advance(60);
    assert_eq!(mailer.deliver_due().await.unwrap(), 1);
    let files: Vec<_> = std::fs::read_dir(&blocked)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    assert_eq!(files.len(), 1);
    let partial = std::fs::read_dir(blocked.join(".partial")).unwrap();
    assert_eq!(partial.count(), 0, "no message left half-written");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: marie.dupont.1@example.fr"));
    // Its id names its place in the queue, the same at every attempt: a
    // message delivered twice shows as one.
    let id = eml
        .lines()
        .find_map(|line| line.strip_prefix("Message-ID: "))
        .unwrap();
    assert!(id.starts_with("<1.") && id.ends_with('>'), "{id}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_given_up_after_six_attempts() {
    let dir = scratch("give-up");
    let blocked = dir.join("outbox");
    std::fs::write(&blocked, b"").unwrap();
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let mailer = mailer(Transport::Folder(blocked), &stores, &clock);
    mailer
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    for wait in [0, 60, 300, 900, 3_600, 21_600] {
        clock.advance(wait);
        assert_eq!(stores.outbox.waiting().await.unwrap(), 1);
        mailer.deliver_due().await.unwrap();
    }
    assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_waiting_message_is_sealed_in_the_outbox_file() {
    let dir = scratch("sealed");
    let stores = Stores::sqlite(&dir.join("mail.sqlite")).await.unwrap();
    let clock = FakeClock::at(1_800_000_000);
    let mailer = mailer(memory(), &stores, &clock);
    mailer
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    drop(mailer);
    drop(stores);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("marie.dupont"),
        "the address is not readable at rest"
    );
    assert!(!text.contains("Connexion"), "nor the subject");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Debian's Python, where the test command installs python3-aiosmtpd
/// (another python3 may come first on the PATH).
fn debian_python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A real SMTP server on loopback: aiosmtpd writing to a maildir.
struct SmtpSink {
    child: tokio::process::Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl SmtpSink {
    async fn start(maildir: std::path::PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(debian_python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with aiosmtpd is installed (./scripts/test installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    child,
                    port,
                    maildir,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn a_message_goes_through_a_real_smtp_server() {
    let dir = scratch("smtp");
    let mut sink = SmtpSink::start(dir.join("maildir")).await;
    let config: Config = toml::from_str(&format!(
        "from = \"{}\"\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_security = \"none\"\n",
        FROM.replace('"', "\\\""),
        sink.port
    ))
    .unwrap();
    config.check("mail").unwrap();
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let mailer = mailer(config.transport(None).unwrap(), &stores, &clock);
    mailer
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    assert_eq!(mailer.deliver_due().await.unwrap(), 1);
    let mut received = Vec::new();
    for _ in 0..50 {
        received = sink.messages();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 1, "the sink received the message");
    assert!(
        received[0].contains("To: marie.dupont.1@example.fr"),
        "{}",
        received[0]
    );
    assert!(received[0].contains("ne-pas-repondre@passerelle.example.fr"));
    sink.child.kill().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A self-signed certificate for 127.0.0.1, made with the openssl command.
fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

/// The relay of a real deployment: STARTTLS required, then AUTH. The
/// certificate is trusted through `smtp_ca_file`. A wrong password delivers
/// nothing, and the message waits for a later attempt (aiosmtpd and lettre
/// fall out of step after a refused AUTH: the send timeout ends the wait).
/// The messages of a round then share one connection.
#[tokio::test]
async fn a_message_goes_through_starttls_and_auth_and_a_wrong_password_delivers_nothing() {
    let dir = scratch("starttls");
    let (cert, maildir) = (dir.join("cert.pem"), dir.join("maildir"));
    let (mut sink, port) = tls_sink(&dir, "starttls").await;

    let config = |password: &str| -> Config {
        toml::from_str(&format!(
            "from = \"{}\"\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_security = \"starttls\"\nsmtp_username = \"passerelle\"\nsmtp_password = \"{password}\"\nsmtp_ca_file = \"{}\"\nsmtp_timeout_secs = 2\n",
            FROM.replace('"', "\\\""),
            cert.display()
        ))
        .unwrap()
    };
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let key = Capability::generate();
    let mailer_with = |password: &str| {
        Mailer::new(
            FROM,
            config(password).transport(None).unwrap(),
            stores.outbox.clone(),
            Capability::parse(key.as_str()).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap()
    };
    let wrong = mailer_with("not-the-password");
    wrong
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    assert_eq!(wrong.deliver_due().await.unwrap(), 0);
    assert_eq!(
        stores.outbox.waiting().await.unwrap(),
        1,
        "kept for a later attempt"
    );

    // With the right password, the waiting message goes at its next
    // attempt, with two new ones (at once, a connection each); the next
    // round's three go over the same connections: no new TLS handshake.
    clock.advance(60);
    let right = mailer_with("relay-password-0123");
    let peers = || std::fs::read_to_string(dir.join("maildir.peers")).unwrap();
    let mut first = String::new();
    for round in [2..=3, 4..=6] {
        for n in round {
            right
                .queue(&message(&format!("marie.dupont.{n}@example.fr")))
                .await
                .unwrap();
        }
        assert_eq!(right.deliver_due().await.unwrap(), 3);
        if first.is_empty() {
            first = peers();
        }
    }
    let received: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(received.len(), 6);
    for n in 1..=6 {
        let to = format!("To: marie.dupont.{n}@example.fr");
        assert!(received.iter().any(|text| text.contains(&to)), "{to}");
    }
    let (first, all) = (first, peers());
    let opened: std::collections::BTreeSet<&str> = first.lines().collect();
    assert_eq!(all.lines().count(), 6, "{all}");
    assert!(
        all.lines().all(|port| opened.contains(port)),
        "the second round on the first's connections: {all}"
    );
    drop(sink.stdin.take());
    let _ = sink.wait().await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// `smtp_sink.py` in `dir` (its certificate there, its maildir
/// `dir/maildir`), its TLS as `mode` says (`starttls` or `tls`), one user
/// `passerelle` whose password is `relay-password-0123`; and its port.
async fn tls_sink(dir: &std::path::Path, mode: &str) -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt as _;

    let (cert, key) = certificate(dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sink = tokio::process::Command::new(debian_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py"))
        .arg(port.to_string())
        .args([&dir.join("maildir"), &cert, &key])
        .args(["passerelle", "relay-password-0123", mode])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with aiosmtpd is installed (./scripts/test installs it)");
    let mut ready = tokio::io::BufReader::new(sink.stdout.take().unwrap()).lines();
    assert_eq!(ready.next_line().await.unwrap().as_deref(), Some("ready"));
    (sink, port)
}

#[tokio::test]
async fn a_message_goes_through_tls_from_the_first_byte() {
    let dir = scratch("tls");
    let (mut sink, port) = tls_sink(&dir, "tls").await;
    let config = |ca: &str| -> Config {
        toml::from_str(&format!(
            "from = \"{}\"\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_security = \"tls\"\nsmtp_username = \"passerelle\"\nsmtp_password = \"relay-password-0123\"\n{ca}smtp_timeout_secs = 2\n",
            FROM.replace('"', "\\\""),
        ))
        .unwrap()
    };
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let key = Capability::generate();
    let mailer = |config: Config| {
        Mailer::new(
            FROM,
            config.transport(None).unwrap(),
            stores.outbox.clone(),
            Capability::parse(key.as_str()).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap()
    };
    // Its certificate not trusted: nothing goes, the message waits.
    let untrusted = mailer(config(""));
    untrusted
        .queue(&message("marie.dupont.0@example.fr"))
        .await
        .unwrap();
    assert_eq!(untrusted.deliver_due().await.unwrap(), 0);
    assert_eq!(stores.outbox.waiting().await.unwrap(), 1);
    let trusted = config(&format!(
        "smtp_ca_file = \"{}\"\n",
        dir.join("cert.pem").display()
    ));
    trusted.check("mail").unwrap();
    clock.advance(60);
    let mailer = mailer(trusted);
    for n in 1..=2 {
        mailer
            .queue(&message(&format!("marie.dupont.{n}@example.fr")))
            .await
            .unwrap();
    }
    assert_eq!(
        mailer.deliver_due().await.unwrap(),
        3,
        "the waiting one too"
    );
    assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
    let received = std::fs::read_dir(dir.join("maildir").join("new"))
        .unwrap()
        .count();
    assert_eq!(received, 3);
    drop(sink.stdin.take());
    let _ = sink.wait().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_settings_are_named() {
    let parse = |text: &str| toml::from_str::<Config>(text).unwrap().check("mail");
    assert_eq!(parse("from = \"nobody\"").unwrap_err().path, "mail.from");
    assert_eq!(
        parse("from = \"a@b.fr\"\ntransport = \"smtp\"")
            .unwrap_err()
            .path,
        "mail.smtp_host"
    );
    assert_eq!(
        parse("from = \"a@b.fr\"\ntransport = \"smtp\"\nsmtp_host = \"h\"\nsmtp_username = \"u\"")
            .unwrap_err()
            .path,
        "mail.smtp_password"
    );
    parse("from = \"a@b.fr\"").unwrap();
}

#[test]
fn a_missing_or_bad_ca_file_is_named_in_each_tls_mode() {
    let dir = scratch("bad-ca");
    let not_a_certificate = dir.join("not-a-certificate.pem");
    std::fs::write(&not_a_certificate, "no certificate here").unwrap();
    for security in ["starttls", "tls"] {
        for path in [dir.join("missing.pem"), not_a_certificate.clone()] {
            let config: Config = toml::from_str(&format!(
                "from = \"a@b.fr\"\ntransport = \"smtp\"\nsmtp_host = \"h\"\nsmtp_security = \"{security}\"\nsmtp_ca_file = \"{}\"\n",
                path.display()
            ))
            .unwrap();
            let error = config.transport(None).unwrap_err();
            assert!(
                error.starts_with(&format!("smtp_ca_file {}: ", path.display())),
                "{security}: {error}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// An outbox that counts its claims.
struct CountingClaims {
    outbox: Arc<dyn store::Outbox>,
    claims: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl store::Outbox for CountingClaims {
    async fn push(&self, payload: &[u8], due_at: i64) -> Result<i64, store::StoreError> {
        self.outbox.push(payload, due_at).await
    }
    async fn push_claimed(
        &self,
        payload: &[u8],
        lease_until: i64,
    ) -> Result<i64, store::StoreError> {
        self.outbox.push_claimed(payload, lease_until).await
    }
    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<store::Queued>, store::StoreError> {
        self.claims
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.outbox.claim(now, lease_until, limit).await
    }
    async fn remove(&self, ids: &[i64]) -> Result<(), store::StoreError> {
        self.outbox.remove(ids).await
    }
    async fn postpone(&self, id: i64, due_at: i64) -> Result<(), store::StoreError> {
        self.outbox.postpone(id, due_at).await
    }
    async fn waiting(&self) -> Result<u64, store::StoreError> {
        self.outbox.waiting().await
    }
}

/// The worker, woken by a message its process queued, sends it without
/// claiming it (it was written claimed for this worker), removes it, and
/// then waits: it claims from the outbox at its start, then once a second
/// at most while busy (a claim is a durable write that rewrites its rows).
#[tokio::test]
async fn the_worker_sends_what_its_process_queues_without_a_claim() {
    let clock = FakeClock::at(1_800_000_000);
    let outbox = Arc::new(CountingClaims {
        outbox: Stores::memory().outbox,
        claims: Default::default(),
    });
    let mailer = Mailer::new(
        FROM,
        memory(),
        outbox.clone(),
        Capability::generate(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let worker = tokio::spawn(mailer.clone().run());
    // The worker's first look at the outbox, at its start, finds nothing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let claims = || outbox.claims.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(claims(), 1);
    mailer
        .queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    for _ in 0..50 {
        if !mailer.sent().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.abort();
    assert_eq!(mailer.sent().len(), 1);
    assert_eq!(outbox.outbox.waiting().await.unwrap(), 0);
    assert_eq!(claims(), 1);
}

/// A backlog in the outbox (retries come due, or messages another process
/// queued for a claim) goes at once, a batch after the other: the worker
/// claims again after a whole batch, however recently it claimed.
#[tokio::test]
async fn the_worker_claims_a_backlog_batch_after_batch() {
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let key = Capability::generate();
    let sealed = |n: usize| {
        let message = message(&format!("marie.dupont.{n}@example.fr"));
        key.seal(&serde_json::to_vec(&message).unwrap())
    };
    for n in 0..25 {
        stores.outbox.push(&sealed(n), 1_800_000_000).await.unwrap();
    }
    let mailer = Mailer::new(
        FROM,
        memory(),
        stores.outbox.clone(),
        Capability::parse(key.as_str()).unwrap(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let worker = tokio::spawn(mailer.clone().run());
    for _ in 0..100 {
        if mailer.sent().len() == 25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();
    assert_eq!(mailer.sent().len(), 25);
    assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
}

/// A process that queued a message and died before its worker sent it: the
/// message waits, claimed, until its lease ends; then another process's
/// worker sends it, as its second attempt.
#[tokio::test]
async fn a_message_whose_process_died_is_sent_by_another_after_its_lease() {
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let key = Capability::generate();
    let mailer_with_key = || {
        Mailer::new(
            FROM,
            memory(),
            stores.outbox.clone(),
            Capability::parse(key.as_str()).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap()
    };
    let died = mailer_with_key();
    died.queue(&message("marie.dupont.1@example.fr"))
        .await
        .unwrap();
    drop(died);
    let other = mailer_with_key();
    assert_eq!(other.deliver_due().await.unwrap(), 0, "still leased");
    clock.advance(29);
    assert_eq!(other.deliver_due().await.unwrap(), 0, "still leased");
    clock.advance(1);
    assert_eq!(other.deliver_due().await.unwrap(), 1);
    let sent = other.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message, message("marie.dupont.1@example.fr"));
    assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
}

/// Past what a worker may hold in its hand, messages are queued for a
/// claim: none is lost, and each goes once.
#[tokio::test]
async fn messages_past_a_full_hand_are_claimed_and_each_goes_once() {
    let (stores, clock) = (Stores::memory(), FakeClock::at(1_800_000_000));
    let mailer = mailer(memory(), &stores, &clock);
    for n in 0..300 {
        mailer
            .queue(&message(&format!("marie.dupont.{n}@example.fr")))
            .await
            .unwrap();
    }
    assert_eq!(stores.outbox.waiting().await.unwrap(), 300);
    let mut delivered = 0;
    for _ in 0..100 {
        delivered += mailer.deliver_due().await.unwrap();
        if delivered == 300 {
            break;
        }
    }
    assert_eq!(delivered, 300);
    let mut recipients: Vec<String> = mailer
        .sent()
        .into_iter()
        .map(|sent| sent.message.to)
        .collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 300);
    assert_eq!(stores.outbox.waiting().await.unwrap(), 0);
}
