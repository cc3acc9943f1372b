//! The wallet end to end, driven by the real `passerelle wallet` program:
//! a card issued for a citizen, activated, then a login from the demo
//! service through the plus hub, the wallet provider's QR page, the app's
//! scan, back to the hub and the service.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure is a failed test"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use testkit::{Citizen, Federation, Response};

const PIN: &str = "482913";

/// A phone: the app's folder, next to its card file.
struct Phone {
    folder: PathBuf,
    card: PathBuf,
}

/// The program with `args`, no code in its environment and no input.
fn program(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_passerelle"));
    command
        .args(args)
        .env_remove("PASSERELLE_WALLET_PIN")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null());
    command
}

/// Runs the program.
async fn passerelle(args: &[&str]) -> Run {
    let output = program(args).output().await.unwrap();
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The last mail delivered whose subject contains `subject`.
async fn last_mail(federation: &Federation, subject: &str) -> mail::Sent {
    let mails = federation.delivered_mails().await;
    mails
        .into_iter()
        .rev()
        .find(|sent| sent.message.subject.contains(subject))
        .unwrap()
}

/// The confirmation code of the last certification email.
async fn last_email_code(federation: &Federation) -> String {
    let mail = last_mail(federation, "Code de confirmation").await;
    assert_eq!(mail.message.to, "titulaire@example.fr");
    let text = &mail.message.text;
    let start = text.find("confirmation : ").unwrap() + "confirmation : ".len();
    text[start..start + 6].to_owned()
}

/// A fresh folder for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "passerelle-wallet-{}-{name}-{}",
        std::process::id(),
        oidc::types::random_token(4)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a run of the program printed.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts the program succeeded and printed each of `texts`.
    fn assert_ok_saying(&self, texts: &[&str]) {
        assert!(self.ok, "{}", self.stderr);
        for text in texts {
            assert!(self.stdout.contains(text), "{text}: {}", self.stdout);
        }
    }

    /// Asserts the program failed and its error says each of `texts`.
    fn assert_failed_saying(&self, texts: &[&str]) {
        assert!(!self.ok, "{}", self.stdout);
        for text in texts {
            assert!(self.stderr.contains(text), "{text}: {}", self.stderr);
        }
    }
}

/// Asserts `page` shows each of `texts`.
fn assert_shows(page: &Response, texts: &[&str]) {
    for text in texts {
        assert!(page.shows(text), "{text}: {}", page.body);
    }
}

/// The population's first card holder, whose card `Phone::activated` holds.
fn first_holder(federation: &Federation) -> population::Citizen {
    let now = oidc::Clock::now(&federation.clock);
    passerelle::cards::card_holders(&federation.running.citizens, now, 1)[0].clone()
}

impl Phone {
    /// A card for the first card holder, on a new phone, activated with `PIN`.
    async fn activated(federation: &Federation, name: &str) -> Self {
        Self::activated_first(federation, name, |_| true).await
    }

    /// A card for the first card holder for whom `which` holds, activated.
    async fn activated_first(
        federation: &Federation,
        name: &str,
        which: impl Fn(&population::Citizen) -> bool,
    ) -> Self {
        let phone = Self::with_card_of_first(federation, name, which, 0);
        assert!(phone.activate(federation, PIN).await.ok);
        phone
    }

    /// A card for the `nth` card holder of the population, on a new phone.
    fn with_card_of(federation: &Federation, nth: usize, name: &str) -> Self {
        Self::with_card_of_first(federation, name, |_| true, nth)
    }

    /// A card for the `nth` card holder for whom `which` holds.
    fn with_card_of_first(
        federation: &Federation,
        name: &str,
        which: impl Fn(&population::Citizen) -> bool,
        nth: usize,
    ) -> Self {
        let now = oidc::Clock::now(&federation.clock);
        let citizens = &federation.running.citizens;
        let holders = passerelle::cards::card_holders(citizens, now, citizens.len());
        let holder = holders.into_iter().filter(|c| which(c)).nth(nth).unwrap();
        Self::with_card_for(federation, holder, name)
    }

    /// A card issued now for `holder`, on a new phone.
    fn with_card_for(federation: &Federation, holder: &population::Citizen, name: &str) -> Self {
        let now = oidc::Clock::now(&federation.clock);
        let pki = federation.running.card_pki.as_ref().unwrap();
        let state = passerelle::cards::issue_card(pki, holder, now).unwrap();
        let dir = scratch(name);
        let card = dir.join("carte.json");
        std::fs::write(&card, state.to_json().unwrap()).unwrap();
        Self {
            folder: dir.join("app"),
            card,
        }
    }

    /// The same card on another phone.
    fn another_phone(&self, name: &str) -> Self {
        Self {
            folder: scratch(name).join("app"),
            card: self.card.clone(),
        }
    }

    /// The app's saved state, its `wallet.json`.
    fn saved_state(&self) -> Value {
        let text = std::fs::read_to_string(self.folder.join("wallet.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// `passerelle wallet` on this phone's folder.
    async fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["wallet", "--folder", self.folder.to_str().unwrap()];
        all.extend_from_slice(args);
        passerelle(&all).await
    }

    /// `wallet certify`, then the emailed code: the request's QR code.
    async fn certify(&self, federation: &Federation) -> Result<String, String> {
        let asked = self.run(&["certify", "--pin", PIN]).await;
        if !asked.ok {
            return Err(asked.stderr);
        }
        assert!(asked.stdout.contains("t***@example.fr"), "{}", asked.stdout);
        let code = last_email_code(federation).await;
        let confirmed = self.run(&["certify", "--email-code", &code]).await;
        if !confirmed.ok {
            return Err(confirmed.stderr);
        }
        assert!(confirmed.stdout.contains("Présentez ce QR code en mairie"));
        Ok(std::fs::read_to_string(self.folder.join("certification.txt")).unwrap())
    }

    /// The counter's reader: the card read for the console's challenge.
    async fn counter_read(&self, challenge: &str) -> String {
        let card = self.card.to_str().unwrap();
        let run = passerelle(&[
            "card",
            "read",
            "--card",
            card,
            "--challenge",
            challenge,
            "--pin",
            PIN,
        ])
        .await;
        assert!(run.ok, "{}", run.stderr);
        run.stdout.trim().to_owned()
    }

    /// `wallet activate` with the card and the code `pin`.
    async fn activate(&self, federation: &Federation, pin: &str) -> Run {
        self.run(&[
            "activate",
            "--provider",
            federation.url("wallet"),
            "--card",
            self.card.to_str().unwrap(),
            "--email",
            "titulaire@example.fr",
            "--pin",
            pin,
        ])
        .await
    }

    /// `wallet scan` of a QR code's address, answering `answer`.
    async fn scan(&self, url: &str, answer: &str) -> Run {
        self.run(&["scan", url, "--pin", PIN, answer]).await
    }

    /// `wallet status` succeeds and says each of `texts`.
    async fn assert_status_says(&self, texts: &[&str]) {
        self.run(&["status", "--pin", PIN])
            .await
            .assert_ok_saying(texts);
    }

    /// `wallet proof` for `recipient` and `purpose`, valid `days`, with
    /// `more` arguments; returns the PDF.
    async fn proof(&self, recipient: &str, purpose: &str, days: &str, more: &[&str]) -> Vec<u8> {
        let out = self.card.with_file_name("justificatif.pdf");
        let mut args = vec![
            "proof",
            "--pin",
            PIN,
            "--recipient",
            recipient,
            "--purpose",
            purpose,
            "--days",
            days,
        ];
        args.extend_from_slice(more);
        args.extend(["--out", out.to_str().unwrap()]);
        let made = self.run(&args).await;
        assert!(made.ok, "{}", made.stderr);
        std::fs::read(&out).unwrap()
    }

    /// `wallet permis partager` of a verifier's link, accepted.
    async fn share_licence(&self, link: &str) -> Run {
        self.run(&["permis", "partager", link, "--yes", "--pin", PIN])
            .await
    }
}

/// The browser goes from the demo service's "+" button to the wallet
/// provider's QR page; returns that page.
async fn qr_page(federation: &Federation, browser: &Citizen) -> Response {
    let start = format!("{}/login/plus", federation.url("demo_sp"));
    qr_page_from(federation, browser, &start).await
}

/// The same from any login link of a plus service.
async fn qr_page_from(federation: &Federation, browser: &Citizen, start: &str) -> Response {
    let choice = browser.open(start, "").await;
    assert!(choice.shows("value=\"wallet\""), "{}", choice.body);
    let chosen = browser
        .choose(&federation.hub_plus, &choice, "wallet")
        .await;
    let page = browser.follow(chosen, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.url.starts_with(federation.url("wallet")),
        "{}",
        page.url
    );
    assert!(page.shows("src=\"/login/qr.svg"), "{}", page.body);
    page
}

/// The address the page's QR code carries (also its "open the app" link).
fn qr_link(page: &Response) -> String {
    let marker = "id=\"app-link\" href=\"";
    let start = page.body.find(marker).unwrap() + marker.len();
    let end = page.body[start..].find('"').unwrap();
    page.body[start..start + end].replace("&amp;", "&")
}

/// A new browser on the QR page; returns it and its QR code's address.
async fn start_qr_login(federation: &Federation) -> (Citizen, String) {
    let browser = Citizen::new();
    let link = qr_link(&qr_page(federation, &browser).await);
    (browser, link)
}

/// A new QR login scanned by `phone`, which has no identity: refused.
/// Returns the login's browser.
async fn login_refused_without_identity(federation: &Federation, phone: &Phone) -> Citizen {
    let (browser, link) = start_qr_login(federation).await;
    let run = phone.scan(&link, "--yes").await;
    run.assert_failed_saying(&["Aucune identité numérique"]);
    browser
}

/// The page's polling, as its script does it.
async fn poll(federation: &Federation, browser: &Citizen) -> Value {
    let state = browser
        .get(&format!("{}/login/etat", federation.url("wallet")))
        .await;
    assert_eq!(state.status, 200, "{}", state.body);
    serde_json::from_str(&state.body).unwrap()
}

/// From the approved QR page to the demo service's page of what it
/// received.
async fn back_to_service(federation: &Federation, browser: &Citizen, location: &str) -> Response {
    let consent = browser.open(location, "").await;
    consent_to_service(federation, browser, &consent).await
}

/// From the hub's consent page, consenting, to the service's page.
async fn consent_to_service(
    federation: &Federation,
    browser: &Citizen,
    consent: &Response,
) -> Response {
    assert!(consent.shows("Continuer sur"), "{}", consent.body);
    let back = browser.consent(&federation.hub_plus, consent).await;
    browser.follow(back, "").await
}

/// The acr of the ID token the demo service shows it received.
fn id_token_acr(me: &Response) -> String {
    let marker = "&#34;acr&#34;: &#34;";
    let start = me.body.find(marker).map(|at| at + marker.len());
    start
        .and_then(|start| {
            me.body[start..]
                .find("&#34;")
                .map(|end| me.body[start..start + end].to_owned())
        })
        .unwrap_or_else(|| panic!("no acr in {}", me.body))
}

/// Activate, log in by QR through the plus hub, land on the service at
/// eidas2 with the card's identity; the QR code cannot be claimed again and
/// another browser learns nothing of the login.
#[tokio::test]
async fn a_card_holder_logs_in_to_a_plus_service_by_qr_code_with_the_wallet_app() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::with_card_of(&federation, 0, "login");
    let activated = phone.activate(&federation, PIN).await;
    activated.assert_ok_saying(&["Identité numérique créée", "non certifiée (eidas2)"]);

    let (browser, link) = start_qr_login(&federation).await;
    assert!(link.starts_with(&format!("{}/q/", federation.url("wallet"))));
    assert_eq!(poll(&federation, &browser).await["status"], "pending");

    let scanned = phone.scan(&link, "--yes").await;
    scanned.assert_ok_saying(&[
        "Oui, c'est moi / Non, ce n'est pas moi",
        "Niveau demandé : eidas2",
        "acceptée",
    ]);

    // A second scan of the same code: refused.
    let again = phone.scan(&link, "--yes").await;
    assert!(!again.ok, "{}", again.stdout);

    // A browser without the login's cookie learns nothing.
    let stranger = Citizen::new();
    let seen = poll(&federation, &stranger).await;
    assert_eq!(seen["status"], "expired");
    assert!(seen["location"].is_null());

    let state = poll(&federation, &browser).await;
    assert_eq!(state["status"], "approved", "{state}");
    let location = state["location"].as_str().unwrap();
    assert!(location.starts_with(&federation.hub_plus), "{location}");
    // The code went to this browser once: the next poll has no location.
    assert!(poll(&federation, &browser).await["location"].is_null());

    let me = back_to_service(&federation, &browser, location).await;
    assert!(me.shows("Identité reçue"), "{}", me.body);
    assert_eq!(id_token_acr(&me), "eidas2");
    let holder = first_holder(&federation);
    assert!(me.shows(&holder.family_name), "{}", me.body);
}

/// "Non, ce n'est pas moi": the page shows the refusal, and going on takes
/// the browser back to the service with access_denied.
#[tokio::test]
async fn a_login_refused_in_the_app_shows_refused_on_the_page() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "refuse").await;
    let (browser, link) = start_qr_login(&federation).await;
    let refused = phone.scan(&link, "--no").await;
    refused.assert_ok_saying(&["Connexion refusée"]);
    let state = poll(&federation, &browser).await;
    assert_eq!(state["status"], "refused");
    assert!(state["message"].as_str().unwrap().contains("refusée"));
    let reloaded = browser
        .get(&format!("{}/login", federation.url("wallet")))
        .await;
    let params = reloaded.location_params();
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied")
    );
}

/// The scan accepts only its provider's QR codes.
#[tokio::test]
async fn the_app_refuses_a_qr_code_of_another_origin() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "origin").await;
    let (browser, link) = start_qr_login(&federation).await;
    let phishing = link.replace("127.0.0.1", "localhost");
    let run = phone.scan(&phishing, "--yes").await;
    run.assert_failed_saying(&["ne vient pas de votre fournisseur"]);
    // The real code is still unclaimed.
    assert_eq!(poll(&federation, &browser).await["status"], "pending");
}

/// The identity is the card plus the code: a new phone with the same card
/// and code gets the same identity; a wrong code counts against the card.
#[tokio::test]
async fn a_new_phone_with_the_same_card_and_code_restores_the_identity() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "restore").await;
    let first = phone.saved_state();
    let new_phone = phone.another_phone("restore-new");
    let wrong = new_phone.activate(&federation, "000000").await;
    wrong.assert_failed_saying(&["encore 2 essai"]);
    let restored = new_phone.activate(&federation, PIN).await;
    restored.assert_ok_saying(&["retrouvée"]);
    let second = new_phone.saved_state();
    assert_eq!(first["identity"], second["identity"]);
    assert_ne!(first["installation_key"], second["installation_key"]);
}

/// Another citizen's card, or a card that was never activated, logs no
/// one in: the claim works (it needs no card) but the approval is refused.
#[tokio::test]
async fn a_card_without_an_identity_cannot_approve_a_login() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "mine").await;
    // The same app, now reading another citizen's card (never activated).
    let other = Phone::with_card_of(&federation, 1, "theirs");
    let mut state = phone.saved_state();
    state["card"] = Value::String(other.card.to_str().unwrap().to_owned());
    // Its code is set (a card in use): set it through the chip's own command.
    set_code(&other.card, PIN);
    std::fs::write(phone.folder.join("wallet.json"), state.to_string()).unwrap();

    let browser = login_refused_without_identity(&federation, &phone).await;
    assert_ne!(poll(&federation, &browser).await["status"], "approved");
}

/// Opens the chip of the card file `card` with its CAN and uses it;
/// returns what the use gave and the chip's state after.
fn with_opened_card<T>(
    card: &Path,
    use_it: impl FnOnce(&mut card::Reader<'_, card::SoftCard>) -> T,
) -> (T, card::CardState) {
    let state = card::CardState::from_json(&std::fs::read_to_string(card).unwrap()).unwrap();
    let can = state.can.clone();
    let mut chip = card::SoftCard::new(state);
    let mut reader = card::Reader::new(&mut chip);
    reader.open(&can).unwrap();
    let used = use_it(&mut reader);
    (used, chip.into_state())
}

/// Sets a card's first code, as the app does at activation.
fn set_code(card: &Path, pin: &str) {
    let ((), state) = with_opened_card(card, |reader| reader.set_pin(pin).unwrap());
    std::fs::write(card, state.to_json().unwrap()).unwrap();
}

/// Deleting the identity from the app: the card logs no one in any more;
/// activating it again makes a new identity.
#[tokio::test]
async fn a_deleted_identity_logs_no_one_in_and_the_card_makes_a_new_one() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "delete").await;
    let before = phone.saved_state();
    let deleted = phone.run(&["delete", "--pin", PIN]).await;
    deleted.assert_ok_saying(&["supprimée"]);

    login_refused_without_identity(&federation, &phone).await;

    let again = phone.activate(&federation, PIN).await;
    again.assert_ok_saying(&["créée"]);
    assert_ne!(before["identity"], phone.saved_state()["identity"]);
}

/// Each card read answers a challenge once: the same read sent twice is
/// refused the second time.
#[tokio::test]
async fn a_replayed_card_read_is_refused() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "replay").await;
    let http = reqwest::Client::new();
    let wallet = federation.url("wallet");
    let challenge: Value = http
        .post(format!("{wallet}/app/challenge"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hex = challenge["challenge"].as_str().unwrap().to_owned();
    let bytes = idp_wallet::verify::parse_challenge(&hex).unwrap();
    let (evidence, _) = with_opened_card(&phone.card, |reader| {
        reader.verify_pin(PIN).unwrap();
        reader
            .evidence(&idp_wallet::verify::LOGIN_GROUPS, &bytes)
            .unwrap()
    });
    let body = serde_json::json!({ "challenge": hex, "evidence": evidence });
    let send = || http.post(format!("{wallet}/app/status")).json(&body).send();
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = send().await.unwrap();
    assert_eq!(second.status(), 403);
    let refused: Value = second.json().await.unwrap();
    assert_eq!(refused["error"], "challenge_replayed");
}

const AGENT: &str = "agent.paris15";
const OBSERVER: &str = "observateur.paris15";
const AGENT_PASSWORD: &str = "Mairie-demo-2026";

/// The TOTP secret of the console login `login`.
fn totp_secret(federation: &Federation, login: &str) -> Vec<u8> {
    let agent = federation
        .config
        .idp_wallet
        .as_ref()
        .unwrap()
        .agents
        .iter()
        .find(|agent| agent.login == login)
        .unwrap();
    idp_wallet::totp::decode_base32(&agent.totp_secret).unwrap()
}

/// An agent logs in to the console; returns the page after.
async fn agent_login(federation: &Federation, desk: &Citizen, login: &str, code: &str) -> Response {
    let console = format!("{}/mairie", federation.url("wallet"));
    let form = desk.get(&console).await;
    let csrf = form.input("csrf").unwrap();
    let sent = desk
        .post(
            &format!("{console}/connexion"),
            &[
                ("csrf", &csrf),
                ("login", login),
                ("password", AGENT_PASSWORD),
                ("code", code),
            ],
        )
        .await;
    desk.follow(sent, "").await
}

/// A desk whose agent `login` is logged in to the console.
async fn logged_in_agent(federation: &Federation, login: &str) -> Citizen {
    let desk = Citizen::new();
    let now = oidc::Clock::now(&federation.clock);
    let code = idp_wallet::totp::code_at(&totp_secret(federation, login), now).unwrap();
    let page = agent_login(federation, &desk, login, &code).await;
    assert!(page.shows("Demandes de certification"), "{}", page.body);
    desk
}

/// Posts a console form, with the CSRF token of the console's home.
async fn console_post(
    federation: &Federation,
    desk: &Citizen,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    let console = format!("{}/mairie", federation.url("wallet"));
    let csrf = desk.get(&console).await.input("csrf").unwrap();
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    desk.post(&format!("{console}{path}"), &form).await
}

/// Presents a request's QR code, its seal, at the console.
async fn present_seal(federation: &Federation, desk: &Citizen, seal: &str) -> Response {
    console_post(federation, desk, "/demande", &[("seal", seal)]).await
}

/// Reads `phone`'s card at the counter for the challenge of the console's
/// `page`, and gives the read to the console.
async fn read_card_at_counter(
    federation: &Federation,
    desk: &Citizen,
    phone: &Phone,
    page: &Response,
) -> Response {
    let read = phone.counter_read(&challenge_of(page)).await;
    console_post(federation, desk, "/carte", &[("read", &read)]).await
}

/// Records at the console what the fingerprints' comparison gave.
async fn decide(federation: &Federation, desk: &Citizen, fingerprints: &str) -> Response {
    console_post(
        federation,
        desk,
        "/decision",
        &[("fingerprints", fingerprints)],
    )
    .await
}

/// The console's challenge for the card read, from its page.
fn challenge_of(page: &Response) -> String {
    let marker = "<code id=\"challenge\">";
    let start = page.body.find(marker).unwrap() + marker.len();
    page.body[start..start + 16].to_owned()
}

/// Presents the QR code, reads `phone`'s card, records `fingerprints`.
async fn visit(
    federation: &Federation,
    desk: &Citizen,
    seal: &str,
    phone: &Phone,
    fingerprints: &str,
) {
    let checked = present_seal(federation, desk, seal).await;
    assert!(checked.shows("Demande valide"), "{}", checked.body);
    let card = read_card_at_counter(federation, desk, phone, &checked).await;
    assert!(card.shows("Carte vérifiée"), "{}", card.body);
    let decided = decide(federation, desk, fingerprints).await;
    assert!(decided.shows("Décision enregistrée"), "{}", decided.body);
}

/// `phone` asks for certification and is certified at the town hall.
async fn certified_at_town_hall(federation: &Federation, phone: &Phone) {
    let seal = phone.certify(federation).await.unwrap();
    let desk = logged_in_agent(federation, AGENT).await;
    visit(federation, &desk, &seal, phone, "concordantes").await;
}

/// A QR login from the demo service's "+" button; returns the acr the
/// service received.
async fn qr_login_acr(federation: &Federation, phone: &Phone) -> String {
    let browser = Citizen::new();
    let start = format!("{}/login/plus", federation.url("demo_sp"));
    let consent = qr_login_from(federation, &browser, phone, &start).await;
    id_token_acr(&consent_to_service(federation, &browser, &consent).await)
}

/// The whole certification: the request in the app (card, code, emailed
/// code), the QR code checked at the town hall a second before its month
/// ends, the wrong card refused, the right one read, fingerprints
/// concordant: certified at once (the demo's delay), mailed, eidas3 at
/// the next login, until the code changes.
#[tokio::test]
async fn a_holder_certified_at_the_town_hall_logs_in_at_eidas3_until_the_code_changes() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "certify").await;
    let seal = phone.certify(&federation).await.unwrap();
    // One request at a time.
    let again = phone.run(&["certify", "--pin", PIN]).await;
    again.assert_failed_saying(&["déjà en cours"]);

    // A month less a second later, at the counter.
    let claims = seal_claims(&seal);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(
        (28 * 86_400..=31 * 86_400).contains(&(exp - iat)),
        "a calendar month"
    );
    federation.clock.advance(exp - iat - 1);
    let desk = logged_in_agent(&federation, AGENT).await;
    let checked = present_seal(&federation, &desk, &seal).await;
    assert!(checked.shows("Demande valide"), "{}", checked.body);

    // Another citizen's card is not the request's.
    let stranger = Phone::with_card_of(&federation, 1, "stranger");
    set_code(&stranger.card, PIN);
    let refused = read_card_at_counter(&federation, &desk, &stranger, &checked).await;
    assert!(refused.shows("pas celle de la demande"), "{}", refused.body);
    // No decision without the right card.
    let early = decide(&federation, &desk, "concordantes").await;
    assert_shows(&early, &["abord la carte de la demande"]);

    let card = read_card_at_counter(&federation, &desk, &phone, &refused).await;
    assert!(card.shows("Carte vérifiée"), "{}", card.body);
    let decided = decide(&federation, &desk, "concordantes").await;
    assert!(decided.shows("Certification accordée"), "{}", decided.body);

    // The same QR code again: already processed.
    let replayed = present_seal(&federation, &desk, &seal).await;
    assert!(replayed.shows("déjà traitée"), "{}", replayed.body);

    let mails = federation.delivered_mails().await;
    assert!(
        mails
            .iter()
            .any(|sent| sent.message.to == "titulaire@example.fr"
                && sent.message.subject.contains("est certifiée"))
    );
    phone
        .assert_status_says(&["certifiée (eidas3)", "Certification accordée"])
        .await;
    assert_eq!(qr_login_acr(&federation, &phone).await, "eidas3");

    // A new code ends the certification.
    let changed = phone
        .run(&["change-pin", "--pin", PIN, "--new-pin", "246810"])
        .await;
    changed.assert_ok_saying(&["non certifiée (eidas2)"]);
}

/// What a seal says.
fn seal_claims(seal: &str) -> serde_json::Map<String, Value> {
    serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            seal.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap()
}

/// An attacker who saw a holder's QR code forges its seal under a country
/// signing CA of his own making, with the same names as the real one: the
/// counter refuses it and reads no card on its strength, and the request
/// is left as it was, its true seal still good.
#[tokio::test]
async fn a_seal_forged_for_an_open_request_is_refused_and_changes_nothing() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "forged").await;
    let seal = phone.certify(&federation).await.unwrap();
    let now = u64::try_from(oidc::Clock::now(&federation.clock)).unwrap();
    let attackers = card::pki::TestPki::generate(now).unwrap();
    let forged = idp_wallet::seal::sign(
        &attackers.seal_signer,
        idp_wallet::certification::SEAL_TYPE,
        &seal_claims(&seal),
    )
    .unwrap();
    let desk = logged_in_agent(&federation, AGENT).await;
    let refused = present_seal(&federation, &desk, &forged).await;
    assert_shows(&refused, &["Demande refusée", "pas reconnu"]);
    let read = console_post(&federation, &desk, "/carte", &[("read", "{}")]).await;
    assert!(read.shows("Aucune demande en cours"), "{}", read.body);

    visit(&federation, &desk, &seal, &phone, "concordantes").await;
}

/// A month and a second after the request, its QR code is refused; a new
/// request can then be made; fingerprints that cannot be captured refuse
/// the certification, and the identity stays usable at eidas2.
#[tokio::test]
async fn an_expired_qr_code_is_refused_and_uncapturable_fingerprints_refuse_certification() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "expired").await;
    let seal = phone.certify(&federation).await.unwrap();
    let iat = oidc::Clock::now(&federation.clock);
    let exp = idp_wallet::certification::one_month_after(iat);
    federation.clock.advance(exp - iat + 1);
    let desk = logged_in_agent(&federation, AGENT).await;
    let late = present_seal(&federation, &desk, &seal).await;
    assert!(late.shows("a expiré"), "{}", late.body);

    let fresh = phone.certify(&federation).await.unwrap();
    visit(&federation, &desk, &fresh, &phone, "non_capturables").await;
    let refusal = last_mail(&federation, "Certification refusée").await;
    assert!(refusal.message.text.contains("n'ont pas pu être relevées"));
    phone
        .assert_status_says(&["non certifiée (eidas2)", "Certification refusée"])
        .await;
    assert_eq!(qr_login_acr(&federation, &phone).await, "eidas2");
}

/// Strong login: a wrong code is refused, a code serves once; an observer
/// checks seals but may neither read cards nor decide.
#[tokio::test]
async fn console_logins_need_password_and_a_fresh_code_and_observers_cannot_decide() {
    let federation = Federation::start().await.unwrap();
    let now = oidc::Clock::now(&federation.clock);
    let secret = totp_secret(&federation, AGENT);
    let code = idp_wallet::totp::code_at(&secret, now).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = agent_login(&federation, &Citizen::new(), AGENT, wrong).await;
    assert!(
        refused.shows("Identifiant, mot de passe ou code incorrect"),
        "{}",
        refused.body
    );
    let first = agent_login(&federation, &Citizen::new(), AGENT, &code).await;
    assert!(first.shows("Demandes de certification"));
    let replayed = agent_login(&federation, &Citizen::new(), AGENT, &code).await;
    assert!(replayed.shows("déjà servi"), "{}", replayed.body);
    // Five tries per login and quarter of an hour: the sixth is refused.
    for _ in 0..2 {
        agent_login(&federation, &Citizen::new(), AGENT, wrong).await;
    }
    let locked = agent_login(&federation, &Citizen::new(), AGENT, wrong).await;
    assert!(locked.shows("Trop de tentatives"), "{}", locked.body);
    // Locked, the next right code is refused too: a brute force gets five
    // guesses a quarter of an hour, right or wrong.
    federation.clock.advance(30);
    let next = idp_wallet::totp::code_at(&secret, now + 30).unwrap();
    let still = agent_login(&federation, &Citizen::new(), AGENT, &next).await;
    assert!(still.shows("Trop de tentatives"), "{}", still.body);

    let phone = Phone::activated(&federation, "observer").await;
    let seal = phone.certify(&federation).await.unwrap();
    let observer = logged_in_agent(&federation, OBSERVER).await;
    let checked = present_seal(&federation, &observer, &seal).await;
    assert_shows(&checked, &["Demande valide", "Observateur"]);
    let decided = decide(&federation, &observer, "concordantes").await;
    assert_eq!(decided.status, 403);
    let forged = present_seal(&federation, &observer, &seal.replace('.', ".x")).await;
    assert!(forged.shows("Demande refusée"), "{}", forged.body);
}

/// With the longest delay allowed (48 h), the result is not there a second
/// before and is there, mailed, at 48 h.
#[tokio::test]
async fn the_result_takes_effect_and_is_mailed_within_48_hours() {
    let federation = Federation::builder()
        .edit(|config| {
            if let Some(wallet) = config.idp_wallet.as_mut() {
                wallet.certification_delay_secs = 172_800;
            }
        })
        .start()
        .await
        .unwrap();
    let wallet = federation.running.wallet.clone().unwrap();
    let phone = Phone::activated(&federation, "delay").await;
    certified_at_town_hall(&federation, &phone).await;
    let certified = |mails: &[mail::Sent]| {
        mails
            .iter()
            .any(|sent| sent.message.subject.contains("est certifiée"))
    };
    federation.clock.advance(48 * 3600 - 1);
    assert_eq!(wallet.run_due_jobs().await.unwrap(), 0);
    assert!(!certified(&federation.delivered_mails().await));
    phone.assert_status_says(&["non certifiée"]).await;
    federation.clock.advance(1);
    assert_eq!(wallet.run_due_jobs().await.unwrap(), 1);
    assert!(certified(&federation.delivered_mails().await));
    phone.assert_status_says(&["certifiée (eidas3)"]).await;
}

/// Checks a proof through the API, as the recipient (or anyone).
async fn check_proof(federation: &Federation, pdf: &[u8], recipient: &str) -> Value {
    let url = format!(
        "{}/api/justificatif/verifier?destinataire={}",
        federation.url("wallet"),
        url::form_urlencoded::byte_serialize(recipient.as_bytes()).collect::<String>()
    );
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/pdf")
        .body(pdf.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Asserts the status the API gives to `pdf` checked for `recipient`.
async fn assert_proof_status(federation: &Federation, pdf: &[u8], recipient: &str, status: &str) {
    let seen = check_proof(federation, pdf, recipient).await;
    assert_eq!(seen["status"], status, "{recipient}: {seen}");
}

/// A single-use proof from `passerelle wallet proof`: it shows the names
/// and only the chosen attributes; anyone may check it without using it;
/// another recipient is refused; its recipient's first check uses it;
/// a changed byte, a file that is not a PDF, or a PDF without seal are
/// told apart.
#[tokio::test]
async fn a_single_use_proof_is_checked_then_used_once_by_its_recipient() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "proof").await;
    let pdf = phone
        .proof(
            "Agence Immo du Centre",
            "Dossier de location",
            "7",
            &["--attributes", "birthdate"],
        )
        .await;
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert!(pdf.len() < 64 * 1024, "{} bytes", pdf.len());

    let seen = check_proof(&federation, &pdf, "").await;
    assert_eq!(seen["status"], "VALID", "{seen}");
    assert_eq!(seen["consumed"], false);
    let attributes = &seen["attributes"];
    let holder = first_holder(&federation);
    assert_eq!(attributes["familyName"], holder.family_name.as_str());
    assert_eq!(attributes["recipient"], "Agence Immo du Centre");
    assert_eq!(attributes["reason"], "Dossier de location");
    assert!(attributes["birthdate"].is_string());
    assert!(attributes["birthplace"].is_null(), "not chosen, not shown");
    assert!(attributes["gender"].is_null());

    let mut changed = pdf.clone();
    let at = changed.len() / 2;
    changed[at] ^= 1;
    for (checked, recipient, status) in [
        (&pdf[..], "Quelqu'un d'autre", "NOT_VALID"),
        (&changed[..], "Agence Immo du Centre", "NOT_VALID"),
        (&b"not a pdf"[..], "", "ERROR_FILE"),
        (&b"%PDF-1.4\n%%EOF\n"[..], "", "ERROR_CONTENT"),
    ] {
        assert_proof_status(&federation, checked, recipient, status).await;
    }

    let used = check_proof(&federation, &pdf, "  agence immo du centre ").await;
    assert_eq!(used["status"], "VALID", "{used}");
    assert_eq!(used["consumed"], true);
    let again = check_proof(&federation, &pdf, "Agence Immo du Centre").await;
    assert_eq!(again["status"], "NOT_VALID");
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("déjà été utilisé")
    );
    assert_proof_status(&federation, &pdf, "", "NOT_VALID").await;
}

/// A proof valid 2 days is valid a second before its end and expired a
/// second after; the web page reads the QR code's content too.
#[tokio::test]
async fn a_proof_expires_to_the_second_and_the_page_checks_its_qr_code() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "proof-expiry").await;
    let pdf = phone.proof("Mairie", "Test", "2", &[]).await;
    let seal = idp_wallet::pdf::seal_of(&pdf).unwrap();
    let browser = Citizen::new();
    let page = format!("{}/justificatif", federation.url("wallet"));
    let check_on_page = async |seal: &str| {
        browser
            .post(&page, &[("seal", seal), ("destinataire", "")])
            .await
    };
    federation.clock.advance(2 * 86_400 - 1);
    let valid = check_on_page(&seal).await;
    assert!(valid.shows("VALIDE"), "{}", valid.body);
    federation.clock.advance(2);
    let expired = check_on_page(&seal).await;
    assert!(expired.shows("EXPIRÉ"), "{}", expired.body);
    assert_proof_status(&federation, &pdf, "Mairie", "EXPIRED").await;
    let garbage = check_on_page("n'importe quoi").await;
    assert!(garbage.shows("ILLISIBLE"), "{}", garbage.body);
}

/// A lost card: the personal link of the activation email deletes the
/// identity from the web; the card logs no one in; a new card makes a new
/// identity.
#[tokio::test]
async fn a_lost_card_s_identity_is_deleted_with_the_link_of_the_activation_email() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "lost").await;
    let activation = last_mail(&federation, "Identité numérique activée").await;
    let text = &activation.message.text;
    let start = text.find("http://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    assert!(link.contains("/supprimer?t="), "{link}");

    let browser = Citizen::new();
    let confirm = browser.get(&link).await;
    assert_shows(&confirm, &["Supprimer mon identité numérique"]);
    let token = confirm.input("t").unwrap();
    let deleted = browser
        .post(
            &format!("{}/supprimer", federation.url("wallet")),
            &[("t", &token)],
        )
        .await;
    assert_shows(&deleted, &["Identité numérique supprimée"]);
    let twice = browser.get(&link).await;
    assert!(twice.shows("n'est pas valide"), "{}", twice.body);

    login_refused_without_identity(&federation, &phone).await;

    let new_card = Phone::with_card_of(&federation, 0, "lost-new");
    let activated = new_card.activate(&federation, PIN).await;
    activated.assert_ok_saying(&["créée"]);
}

/// The QR code's reference lives a minute and the page gets a new one;
/// the old one no longer logs in, the new one does; a whole login lasts
/// five minutes.
#[tokio::test]
async fn the_qr_code_is_renewed_each_minute_and_a_login_lasts_five_minutes() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "renew").await;
    let (browser, old) = start_qr_login(&federation).await;
    federation.clock.advance(61);
    let state = poll(&federation, &browser).await;
    let fresh_ref = state["qr"].as_str().unwrap();
    assert!(!old.ends_with(fresh_ref), "a new reference after a minute");
    let stale = phone.scan(&old, "--yes").await;
    assert!(!stale.ok, "{}", stale.stdout);
    let fresh = format!("{}/q/{fresh_ref}", federation.url("wallet"));
    let scanned = phone.scan(&fresh, "--yes").await;
    assert!(scanned.ok, "{}", scanned.stderr);
    assert_eq!(poll(&federation, &browser).await["status"], "approved");

    let late = Citizen::new();
    qr_page(&federation, &late).await;
    federation.clock.advance(301);
    assert_eq!(poll(&federation, &late).await["status"], "expired");
}

/// On a phone, the login page offers "Ouvrir l'application" instead of a
/// QR code to scan.
#[tokio::test]
async fn a_phone_gets_an_open_the_app_link_instead_of_a_qr_code() {
    let federation = Federation::start().await.unwrap();
    let browser = Citizen::new();
    qr_page(&federation, &browser).await;
    let wallet = federation.url("wallet");
    let cookie = browser.cookie(wallet, "passerelle_wallet_wallet").unwrap();
    let page = reqwest::Client::new()
        .get(format!("{wallet}/login"))
        .header("cookie", format!("passerelle_wallet_wallet={cookie}"))
        .header(
            "user-agent",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Ouvrir l'application"), "{page}");
    assert!(page.contains(&format!("href=\"{wallet}/q/")), "{page}");
    assert!(!page.contains("qr.svg"), "{page}");
}

/// Activation is for adults: a minor's card is refused.
#[tokio::test]
async fn a_minor_s_card_cannot_be_activated() {
    let federation = Federation::start().await.unwrap();
    let now = oidc::Clock::now(&federation.clock);
    let today = card::Date::from_unix(u64::try_from(now).unwrap());
    // A seeded citizen, born seventeen years ago.
    let mut minor = first_holder(&federation);
    minor.birthdate = population::Date::new(today.year - 17, today.month, 1).unwrap();
    let phone = Phone::with_card_for(&federation, &minor, "minor");
    let run = phone.activate(&federation, PIN).await;
    run.assert_failed_saying(&["majeures"]);
}

/// Rate limits: logins started per address, claims per app installation.
#[tokio::test]
async fn logins_per_address_and_claims_per_installation_are_limited() {
    let federation = Federation::start().await.unwrap();
    let wallet = federation.url("wallet");
    let callback = format!("{}/api/v2/oidc-callback/wallet", federation.hub_plus);
    let mut authorize = url::Url::parse(&format!("{wallet}/authorize")).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", "passerelle-hub-plus"),
        ("redirect_uri", callback.as_str()),
        ("scope", "openid given_name family_name"),
        ("state", "state-of-the-hub-0123456789"),
        ("nonce", "nonce-of-the-hub-0123456789"),
        ("acr_values", "eidas2"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]);
    let browser = Citizen::new();
    let first = browser.get(authorize.as_str()).await;
    assert_eq!(
        first.location.as_deref(),
        Some("/login"),
        "{:?}",
        first.location
    );
    let mut statuses = vec![first.status];
    for _ in 1..31 {
        statuses.push(browser.get(authorize.as_str()).await.status);
    }
    assert!(statuses[..30].iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(statuses[30], 429);

    let phone = Phone::activated(&federation, "limits").await;
    let unknown = format!("{wallet}/q/unknown-reference");
    for _ in 0..10 {
        let run = phone.scan(&unknown, "--yes").await;
        assert!(run.stderr.contains("expiré"), "{}", run.stderr);
    }
    let run = phone.scan(&unknown, "--yes").await;
    assert!(run.stderr.contains("Trop de demandes"), "{}", run.stderr);
}

/// Logs `browser` in by QR code from `start`, a login link of a plus
/// service; returns where the hub's answer leads (followed).
async fn qr_login_from(
    federation: &Federation,
    browser: &Citizen,
    phone: &Phone,
    start: &str,
) -> Response {
    let link = qr_link(&qr_page_from(federation, browser, start).await);
    let scanned = phone.scan(&link, "--yes").await;
    assert!(scanned.ok, "{}", scanned.stderr);
    let state = poll(federation, browser).await;
    browser.open(state["location"].as_str().unwrap(), "").await
}

/// Starts a voting proxy from `page`, a page of the portal's.
async fn start_proxy(browser: &Citizen, portal: &str, page: &Response) -> Response {
    let csrf = page.input("csrf").unwrap();
    browser
        .post(
            &format!("{portal}/procuration/commencer/procuration"),
            &[("csrf", &csrf)],
        )
        .await
}

/// The voting proxy needs eidas3 (issue 7): logged in at eidas2 with an
/// identity not certified, the citizen is told why, with a link to
/// certification and a way to step up; stepping up through the hub with
/// the same identity does not pass the hub; once certified at the town
/// hall, the step-up lands at eidas3 and the proxy is given.
#[tokio::test]
async fn the_voting_proxy_needs_a_certified_identity_and_steps_up_through_the_hub() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "proxy").await;
    let portal = federation.url("demo_sp").to_owned();
    let step_up = format!("{portal}/procuration/niveau-superieur");
    let browser = Citizen::new();

    let login = format!("{portal}/procuration/connexion/passerelle");
    let consent = qr_login_from(&federation, &browser, &phone, &login).await;
    assert_shows(&consent, &["Continuer sur Ma procuration"]);
    let refused = consent_to_service(&federation, &browser, &consent).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_shows(
        &refused,
        &[
            "identité numérique certifiée en mairie (niveau eidas3)",
            "Vous êtes connecté au niveau eidas2",
            &format!("href=\"{}/certification\"", federation.url("wallet")),
            "href=\"/procuration/niveau-superieur\"",
        ],
    );
    // No proxy can be started at this level either.
    let start = start_proxy(&browser, &portal, &refused).await;
    assert_eq!(start.status, 403);
    let guide = browser
        .get(&format!("{}/certification", federation.url("wallet")))
        .await;
    assert!(guide.shows("dans une mairie équipée"), "{}", guide.body);

    // Stepping up with the identity as it is: the hub stops it.
    let bounced = qr_login_from(&federation, &browser, &phone, &step_up).await;
    assert!(
        bounced.url.starts_with(&federation.hub_plus),
        "{}",
        bounced.url
    );
    assert_shows(
        &bounced,
        &["n&#39;a pas le niveau de sécurité que demande ce service (eidas3)"],
    );

    // Certified at the town hall, then stepping up again.
    certified_at_town_hall(&federation, &phone).await;
    let consent = qr_login_from(&federation, &browser, &phone, &step_up).await;
    let home = consent_to_service(&federation, &browser, &consent).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert_shows(&home, &["Donner procuration", "niveau eidas3"]);

    let started = start_proxy(&browser, &portal, &home).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let url = format!("{portal}{}", started.location.as_deref().unwrap());
    let steps: [&[(&str, &str)]; 4] = [
        &[("commune_vote", "Paris")],
        &[
            ("mandataire_prenom", "Paul"),
            ("mandataire_nom", "Durand"),
            ("mandataire_naissance", "1970-04-12"),
            ("mandataire_nne", "123456789"),
        ],
        &[("portee", "scrutin"), ("date_fin", "2027-03-14")],
        &[("certifie", "oui")],
    ];
    let mut page = browser.get(&url).await;
    for (index, fields) in steps.into_iter().enumerate() {
        let csrf = page.input("csrf").unwrap();
        let action = if index == 3 { "deposer" } else { "suivant" };
        let mut form = vec![("csrf", csrf.as_str()), ("action", action)];
        form.extend_from_slice(fields);
        let sent = browser.post(&url, &form).await;
        assert_eq!(sent.status, 303, "step {index}: {}", sent.body);
        page = browser.get(&url).await;
    }
    assert_shows(&page, &["Procuration établie", "Paul Durand"]);
}

/// Issue 16: the wallet provider on PostgreSQL and Redis, as deployed. Its
/// identities, certification requests and proofs are durable; a QR login
/// writes nothing durable (the login, its QR reference and claim, the card
/// challenge and the code all go to Redis); a second scan of a claimed QR
/// code is told apart from an unknown one; a certification and a proof
/// work as on one SQLite file.
#[tokio::test]
async fn the_wallet_runs_on_postgresql_and_redis() {
    let federation = Federation::builder().on_postgres().start().await.unwrap();
    let wallet_id = federation.config.idp_wallet.as_ref().unwrap().id.clone();
    let stores = federation.running.stores[&wallet_id].clone();
    assert!(stores.expires_by_itself());
    let phone = Phone::with_card_of(&federation, 0, "postgres");
    let durable = stores.durable_writes();
    let activated = phone.activate(&federation, PIN).await;
    assert!(activated.ok, "{}", activated.stderr);
    assert_eq!(
        stores.durable_writes() - durable,
        2,
        "the identity and its deletion link"
    );

    let durable = stores.durable_writes();
    let (browser, link) = start_qr_login(&federation).await;
    let scanned = phone.scan(&link, "--yes").await;
    assert!(scanned.ok, "{}", scanned.stderr);
    let again = phone.scan(&link, "--yes").await;
    again.assert_failed_saying(&["déjà été scanné"]);
    let state = poll(&federation, &browser).await;
    assert_eq!(state["status"], "approved", "{state}");
    let me = back_to_service(&federation, &browser, state["location"].as_str().unwrap()).await;
    assert_eq!(id_token_acr(&me), "eidas2");
    assert_eq!(stores.durable_writes(), durable, "a login writes to Redis");

    certified_at_town_hall(&federation, &phone).await;
    assert_eq!(qr_login_acr(&federation, &phone).await, "eidas3");

    let pdf = phone
        .proof("Agence Immo du Centre", "Dossier de location", "7", &[])
        .await;
    let used = check_proof(&federation, &pdf, "Agence Immo du Centre").await;
    assert_eq!(
        (&used["status"], &used["consumed"]),
        (&"VALID".into(), &true.into())
    );
    let again = check_proof(&federation, &pdf, "Agence Immo du Centre").await;
    assert_eq!(again["status"], "NOT_VALID", "{again}");
    federation.drop_postgres().await.unwrap();
}

/// The licence of a wallet's `permis.json`, presented for `elements` in a
/// session of its own and checked against the provider's IACA.
fn present_licence(
    federation: &Federation,
    phone: &Phone,
    elements: &[&str],
) -> Result<mdoc::Verified, mdoc::MdocError> {
    let text = std::fs::read_to_string(phone.folder.join("permis.json")).unwrap();
    let held: wallet::HeldLicence = serde_json::from_str(&text).unwrap();
    let request = mdoc::ItemsRequest::mdl(elements);
    let handover = mdoc::OpenId4VpHandover::new("verifier", "https://v.test/r", "n", "m").unwrap();
    let transcript = mdoc::SessionTranscript::openid4vp(handover);
    let device_request = mdoc::DeviceRequest {
        doc_requests: vec![mdoc::ItemsRequest::mdl(elements)],
    };
    let response = held
        .mdoc()
        .unwrap()
        .present(&device_request, &transcript)
        .unwrap();
    let trust = mdoc::TrustedIacas::new(&[provider_iaca(federation)]).unwrap();
    let now = u64::try_from(oidc::Clock::now(&federation.clock)).unwrap();
    mdoc::verify(
        &response.to_bytes().unwrap(),
        &request,
        &transcript,
        &trust,
        now,
    )
}

#[tokio::test]
async fn a_holder_adds_the_driving_licence_of_the_register_and_it_verifies() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "licence").await;
    let none = phone.run(&["permis"]).await;
    none.assert_ok_saying(&["Aucun permis"]);

    let added = phone.run(&["permis", "ajouter", "--pin", PIN]).await;
    added.assert_ok_saying(&["Permis de conduire n° 197500000001", "Catégories : B"]);
    let shown = phone.run(&["permis"]).await;
    shown.assert_ok_saying(&["197500000001", "valide jusqu'au"]);

    let verified =
        present_licence(&federation, &phone, &["family_name", "driving_privileges"]).unwrap();
    assert!(
        verified.signer.contains("DS-mDL-TEST"),
        "{}",
        verified.signer
    );
    let elements = &verified.elements[mdoc::MDL_NAMESPACE];
    assert_eq!(
        elements.keys().collect::<Vec<_>>(),
        ["driving_privileges", "family_name"],
        "what was asked, nothing else"
    );
    assert_eq!(elements["family_name"], mdoc::Value::Text("DUPONT".into()));
    let privileges = format!("{:?}", elements["driving_privileges"]);
    assert!(
        privileges.contains("\"B\"") && privileges.contains("\"01\""),
        "{privileges}"
    );
    let valid_for = verified.validity.valid_until.0 - verified.validity.valid_from.0;
    assert_eq!(valid_for, 30 * 24 * 3600, "a bounded validity");

    // Renewed before it ends, without the card: the app presents it to its
    // issuer, which issues a fresh one to the same key.
    let valid_until = |phone: &Phone| -> i64 {
        let text = std::fs::read_to_string(phone.folder.join("permis.json")).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["valid_until"]
            .as_i64()
            .unwrap()
    };
    let first = valid_until(&phone);
    federation.clock.advance(25 * 24 * 3600);
    let renewed = phone.run(&["permis", "renouveler"]).await;
    assert!(renewed.ok, "{}", renewed.stderr);
    assert_eq!(valid_until(&phone), first + 25 * 24 * 3600);
    assert!(present_licence(&federation, &phone, &["age_over_21"]).is_ok());
    let kept: Vec<(PathBuf, String)> = ["wallet.json", "permis.json"]
        .iter()
        .map(|name| {
            let path = phone.folder.join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();

    // A new code keeps the licence: it is bound to the device key, not to
    // the code. Deleting the identity deletes it.
    let changed = phone
        .run(&["change-pin", "--pin", PIN, "--new-pin", "135790"])
        .await;
    assert!(changed.ok, "{}", changed.stderr);
    let kept_licence = phone.run(&["permis"]).await;
    kept_licence.assert_ok_saying(&["197500000001"]);
    let deleted = phone.run(&["delete", "--pin", "135790"]).await;
    assert!(deleted.ok, "{}", deleted.stderr);
    let gone = phone.run(&["permis"]).await;
    gone.assert_ok_saying(&["Aucun permis"]);
    let refused = phone.run(&["permis", "ajouter", "--pin", "135790"]).await;
    refused.assert_failed_saying(&["Aucune identité numérique"]);
    // A copy kept from before cannot be renewed: its identity is gone.
    for (path, text) in &kept {
        std::fs::write(path, text).unwrap();
    }
    let orphan = phone.run(&["permis", "renouveler"]).await;
    orphan.assert_failed_saying(&["Aucune identité numérique"]);
    // Nor once it has ended.
    federation.clock.advance(31 * 24 * 3600);
    let ended = phone.run(&["permis", "renouveler"]).await;
    ended.assert_failed_saying(&["ne peut pas être renouvelé"]);

    // The old pink paper licence is added as well, valid until 2033.
    let paper = |c: &population::Citizen| {
        population::driving_licence(c).is_some_and(|l| {
            l.format == population::LicenceFormat::PinkPaper
                && l.status == population::LicenceStatus::Valid
        })
    };
    let phone = Phone::activated_first(&federation, "paper", paper).await;
    let added = phone.run(&["permis", "ajouter", "--pin", PIN]).await;
    added.assert_ok_saying(&["Expire le : 2033-01-19"]);
}

#[tokio::test]
async fn a_suspended_or_cancelled_licence_is_refused_and_no_licence_is_said() {
    let federation = Federation::start().await.unwrap();
    let status = |c: &population::Citizen| population::driving_licence(c).map(|l| l.status);
    for (which, says) in [
        (Some(population::LicenceStatus::Suspended), "suspendu"),
        (Some(population::LicenceStatus::Cancelled), "annulé"),
        (None, "Aucun permis de conduire n'est enregistré"),
    ] {
        let phone = Phone::activated_first(&federation, "refused", |c| status(c) == which).await;
        let run = phone.run(&["permis", "ajouter", "--pin", PIN]).await;
        assert!(!run.ok, "{which:?}: {}", run.stdout);
        assert!(run.stderr.contains(says), "{which:?}: {}", run.stderr);
        assert!(!phone.folder.join("permis.json").exists());
    }
}

/// `wallet permis presenter` running: the child and the QR code it shows.
async fn presenting(phone: &Phone, answer: &str) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt as _;
    let folder = phone.folder.to_str().unwrap();
    let mut child = program(&["wallet", "--folder", folder])
        .args(["permis", "presenter", "--pin", PIN, answer])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("mdoc:") {
            // The rest of its output is read by `shown`.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, line);
        }
    }
    panic!("the app showed no QR code");
}

/// The IACA under which the wallet provider issues licences, as DER.
fn provider_iaca(federation: &Federation) -> Vec<u8> {
    let wallet = federation.running.wallet.as_ref().unwrap();
    wallet.licence.as_ref().unwrap().iaca_der().unwrap()
}

/// The IACA a verifier trusts, as a file.
fn iaca_file(federation: &Federation, name: &str) -> PathBuf {
    let path = scratch(name).join("iaca.der");
    std::fs::write(&path, provider_iaca(federation)).unwrap();
    path
}

/// `verifier controle`, at the federation's time.
async fn roadside(qr: &str, iaca: &Path) -> Run {
    let iaca = iaca.to_str().unwrap();
    passerelle(&[
        "verifier",
        "controle",
        "--qr",
        qr,
        "--iaca",
        iaca,
        "--at",
        "1800000100",
    ])
    .await
}

#[tokio::test]
async fn an_officer_checks_the_licence_the_app_shows_at_the_roadside() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "roadside").await;
    assert!(phone.run(&["permis", "ajouter", "--pin", PIN]).await.ok);
    let iaca = iaca_file(&federation, "police");

    let (mut app, qr) = presenting(&phone, "--yes").await;
    let check = roadside(&qr, &iaca).await;
    check.assert_ok_saying(&[
        "Permis de conduire vérifié",
        "family_name : DUPONT",
        "driving_privileges : B (01)",
    ]);
    assert!(
        !check.stdout.contains("issuing_authority"),
        "only what was asked"
    );
    assert!(app.wait().await.unwrap().success());

    // The same QR code again: the app has answered its one reader and
    // stopped listening.
    let again = roadside(&qr, &iaca).await;
    again.assert_failed_saying(&["ne répond pas"]);

    // A reader that trusts another root of the same name refuses it.
    let stranger = mdoc::LicencePki::generate(1_700_000_000).unwrap();
    let other = scratch("other-iaca").join("iaca.der");
    std::fs::write(&other, stranger.iaca.certificate_der().unwrap()).unwrap();
    let (mut app, qr) = presenting(&phone, "--yes").await;
    let refused = roadside(&qr, &other).await;
    refused.assert_failed_saying(&["permis refusé", "not signed by the IACA"]);
    app.wait().await.unwrap();

    // The holder declines: nothing is shown.
    let (mut app, qr) = presenting(&phone, "--no").await;
    let declined = roadside(&qr, &iaca).await;
    declined.assert_failed_saying(&["refusé de montrer"]);
    assert!(app.wait().await.unwrap().success());
}

/// The rental's request page: its `openid4vp://` link and its state.
async fn rental_request(federation: &Federation, browser: &Citizen) -> (String, String) {
    let page = browser
        .get(&format!("{}/location/demande", federation.url("demo_sp")))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let between = |start: &str, end: &str| {
        let from = page.body.find(start).unwrap() + start.len();
        page.body[from..from + page.body[from..].find(end).unwrap()].to_owned()
    };
    let link = between("<pre id=\"link\">", "</pre>")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&");
    let state = between("/location/resultat/", "\"");
    (link, state)
}

/// The rental's result page for the request `state`.
async fn rental_result(federation: &Federation, browser: &Citizen, state: &str) -> Response {
    browser
        .get(&format!(
            "{}/location/resultat/{state}",
            federation.url("demo_sp")
        ))
        .await
}

#[tokio::test]
async fn a_car_rental_learns_the_categories_and_age_over_21_and_nothing_else() {
    let federation = Federation::start().await.unwrap();
    let phone = Phone::activated(&federation, "rental").await;
    assert!(phone.run(&["permis", "ajouter", "--pin", PIN]).await.ok);
    let browser = Citizen::new();
    let home = browser
        .get(&format!("{}/location/", federation.url("demo_sp")))
        .await;
    assert!(home.shows("Prouver mon droit de conduire"), "{}", home.body);

    let (link, state) = rental_request(&federation, &browser).await;
    // Whoever sees the QR code can post to the request: what they post is
    // refused and closes nothing, and the wallet's answer is still taken.
    let header = format!(r#"{{"alg":"ECDH-ES","enc":"A256GCM","kid":"{state}"}}"#);
    let forged = format!(
        "{}..AAAA.AAAA.AAAA",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
    );
    let posted = reqwest::Client::new()
        .post(format!("{}/location/reponse", federation.url("demo_sp")))
        .form(&[("response", forged)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 400);
    let waiting = rental_result(&federation, &browser, &state).await;
    assert!(waiting.shows("Pas encore de réponse"), "{}", waiting.body);
    let shared = phone.share_licence(&link).await;
    shared.assert_ok_saying(&["Demande de Location de voitures (démo) (http://127.0.0.1:"]);
    assert!(
        shared
            .stdout
            .contains("Données demandées : plus de 21 ans, catégories et mentions")
            || shared
                .stdout
                .contains("Données demandées : catégories et mentions, plus de 21 ans"),
        "{}",
        shared.stdout
    );
    let result = rental_result(&federation, &browser, &state).await;
    assert_shows(
        &result,
        &[
            "Droit de conduire vérifié",
            "<td>B (01)</td>",
            "Vous pouvez louer une voiture",
        ],
    );
    // The rental verified the answer with mdoc::verify, which refuses any
    // element it did not ask for: the wallet sent these two and nothing
    // else. Nor does the page show anything else.
    for private in ["DUPONT", "Marie", "1985", "197500000001"] {
        assert!(
            !result.shows(private),
            "{private} disclosed: {}",
            result.body
        );
    }

    // A request is answered once.
    let again = phone.share_licence(&link).await;
    again.assert_failed_saying(&["already answered"]);

    // Declined: nothing is sent, the page still waits.
    let (link, state) = rental_request(&federation, &browser).await;
    let declined = phone.run(&["permis", "partager", &link, "--no"]).await;
    declined.assert_ok_saying(&["Rien n'a été transmis"]);
    let waiting = rental_result(&federation, &browser, &state).await;
    assert!(waiting.shows("Pas encore de réponse"), "{}", waiting.body);

    // A link that sends the answer elsewhere than HTTPS is refused.
    let plain = link.replace("http%3A%2F%2F127.0.0.1", "http%3A%2F%2Fexample.test");
    let refused = phone.share_licence(&plain).await;
    refused.assert_failed_saying(&["HTTPS"]);
}

/// Anyone may ask the rental for a request, and each costs a key, a write
/// and ten minutes of keeping: one address may start a bounded number a
/// minute, the others are still served.
#[tokio::test]
async fn a_flood_of_rental_requests_from_one_address_is_refused_past_its_bound() {
    let federation = Federation::start().await.unwrap();
    let url = format!("{}/location/demande", federation.url("demo_sp"));
    let http = reqwest::Client::new();
    // The test connects from 127.0.0.1, which may name the client as a
    // local reverse proxy does.
    let from = |address: &'static str| http.get(&url).header("x-forwarded-for", address);
    for _ in 0..20 {
        let page = from("198.51.100.7").send().await.unwrap();
        assert_eq!(page.status(), 200);
    }
    for _ in 0..5 {
        let refused = from("198.51.100.7").send().await.unwrap();
        assert_eq!(refused.status(), 429);
        let body = refused.text().await.unwrap();
        assert!(body.contains("DEMARCHE-RATE"), "{body}");
        assert!(body.contains("Trop de demandes"), "{body}");
        assert!(!body.contains("<pre id=\"link\">"), "{body}");
    }
    let other = from("198.51.100.8").send().await.unwrap();
    assert_eq!(other.status(), 200);
    assert!(other.text().await.unwrap().contains("<pre id=\"link\">"));
}
