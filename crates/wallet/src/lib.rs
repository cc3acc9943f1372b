//! The wallet app, as a command-line program: its state is a folder
//! (`wallet.json`: the provider it trusts, the card it reads, its
//! installation key, the identity), the card a card file.
//!
//! The identity is the card plus its code, not this folder: activating the
//! same card with the same code in a new folder restores it.

mod roadside;
mod share;

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use card::{CardState, PinState, Reader, SoftCard};
use idp_wallet::api::{IdentityStatus, LoginContext};
use idp_wallet::licence::IssuedLicence;
use idp_wallet::verify::LOGIN_GROUPS;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use roadside::{Presented, describe_request, label};
pub use share::Shared;

/// `wallet.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct State {
    /// The provider's origin: the only one whose QR codes are accepted.
    pub provider: String,
    /// The card file this app reads.
    pub card: PathBuf,
    /// The installation key (PKCS#8, base64), which signs the app's calls.
    pub installation_key: String,
    /// The identity, once activated.
    pub identity: Option<String>,
    /// A certification request waiting for its emailed code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_certification: Option<String>,
}

/// What a proof is asked for.
#[derive(Debug)]
pub struct ProofOrder {
    pub recipient: String,
    pub purpose: String,
    /// 1 to 30.
    pub days: u32,
    /// Beyond the names: `birthdate`, `birthplace`, `gender`,
    /// `nationality`, `usageName`.
    pub attributes: Vec<String>,
}

/// File names in the wallet's folder.
pub const CERTIFICATION_QR_TEXT: &str = "certification.txt";
pub const CERTIFICATION_QR_SVG: &str = "certification.svg";

/// What `certify` ends with.
#[derive(Debug)]
pub enum Certify {
    /// The code was mailed to this (masked) address; run again with it.
    CodeSent { email: String },
    /// The request's QR code, and until when it is valid.
    Requested { seal: String, expires_at: i64 },
}

/// Where answers come from: flags, else standard input.
#[derive(Debug, Default)]
pub struct Answers {
    pub pin: Option<String>,
    pub new_pin: Option<String>,
    /// `Some(true)`: "Oui, c'est moi"; `Some(false)`: "Non".
    pub confirm: Option<bool>,
}

fn ask(prompt: &str) -> anyhow::Result<String> {
    print!("{prompt} ");
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

fn pin_or_ask(given: &Option<String>, prompt: &str) -> anyhow::Result<String> {
    let pin = match given {
        Some(pin) => pin.clone(),
        None => ask(prompt)?,
    };
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        bail!("le code personnel est fait de 6 chiffres");
    }
    Ok(pin)
}

/// Writes through a temporary file and a rename: never half a file.
fn write_atomically(path: &Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("écriture de {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("écriture de {}", path.display()))?;
    Ok(())
}

/// The wallet in its folder.
#[derive(Debug)]
pub struct Wallet {
    folder: PathBuf,
    state: State,
    key: SigningKey,
    http: reqwest::Client,
}

impl Wallet {
    fn state_path(folder: &Path) -> PathBuf {
        folder.join("wallet.json")
    }

    /// Opens an activated (or at least set-up) wallet.
    pub fn open(folder: &Path) -> anyhow::Result<Self> {
        let path = Self::state_path(folder);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "pas de portefeuille dans {} : lancez `activate`",
                folder.display()
            )
        })?;
        let state: State = serde_json::from_str(&text).context("wallet.json illisible")?;
        let key = SigningKey::from_pkcs8_der(&card::b64::decode(&state.installation_key)?)
            .map_err(|_| anyhow!("clé d'installation illisible"))?;
        Ok(Self::with(folder, state, key))
    }

    fn with(folder: &Path, state: State, key: SigningKey) -> Self {
        Self {
            folder: folder.to_owned(),
            state,
            key,
            http: reqwest::Client::new(),
        }
    }

    fn save(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.folder)?;
        write_atomically(
            &Self::state_path(&self.folder),
            &serde_json::to_string_pretty(&self.state)?,
        )
    }

    fn installation(&self) -> anyhow::Result<String> {
        let der = self
            .key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| anyhow!("{e}"))?;
        Ok(card::b64::encode(der.as_bytes()))
    }

    fn sign(&self, message: &str) -> String {
        let signature: DerSignature = self.key.sign(message.as_bytes());
        card::b64::encode(signature.as_bytes())
    }

    async fn post(&self, url: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("fournisseur injoignable ({url})"))?;
        let status = response.status();
        let ok = status.is_success();
        let value: Value = oidc::answer::json(response)
            .await
            .with_context(|| format!("réponse illisible du fournisseur ({status})"))?;
        if !ok {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("refusé");
            bail!("{message}");
        }
        Ok(value)
    }

    /// A card session: loads the card file, runs `work` on the chip, saves
    /// the chip's state (its try counter) whatever happened.
    fn with_card<T>(
        &self,
        work: impl FnOnce(&mut Reader<'_, SoftCard>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        card_session(&self.state.card, work)
    }

    async fn challenge(&self) -> anyhow::Result<[u8; 8]> {
        let answer = self
            .post(
                &format!("{}/app/challenge", self.state.provider),
                &json!({}),
            )
            .await?;
        parse_challenge(
            answer
                .get("challenge")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
    }

    /// A card read with the code, for a challenge.
    fn read(&self, pin: &str, challenge: &[u8; 8]) -> anyhow::Result<card::Evidence> {
        self.with_card(|reader| {
            reader.verify_pin(pin).map_err(card_error)?;
            reader
                .evidence(&LOGIN_GROUPS, challenge)
                .map_err(card_error)
        })
    }

    /// `activate`: reads the card, sets (new card) or checks (known card)
    /// the code, and makes or restores the identity.
    pub async fn activate(
        folder: &Path,
        provider: &str,
        card_path: &Path,
        email: &str,
        answers: &Answers,
    ) -> anyhow::Result<IdentityStatus> {
        let provider = origin(provider)?;
        let key = card::pki::random_key();
        let der = key.to_pkcs8_der().map_err(|e| anyhow!("{e}"))?;
        let state = State {
            provider,
            card: card_path.to_owned(),
            installation_key: card::b64::encode(der.as_bytes()),
            identity: None,
            pending_certification: None,
        };
        let mut wallet = Self::with(folder, state, key);
        let challenge = wallet.challenge().await?;
        let (evidence, new_code) = wallet.with_card(|reader| {
            let new_code = match reader.pin_state().map_err(card_error)? {
                PinState::Blocked => {
                    bail!("code personnel bloqué : cette carte ne peut plus être activée")
                }
                PinState::NotSet => {
                    let pin = pin_or_ask(
                        &answers.pin,
                        "Choisissez votre code personnel (6 chiffres) :",
                    )?;
                    reader.set_pin(&pin).map_err(card_error)?;
                    true
                }
                PinState::Set { .. } => {
                    let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
                    reader.verify_pin(&pin).map_err(card_error)?;
                    false
                }
            };
            Ok((
                reader
                    .evidence(&LOGIN_GROUPS, &challenge)
                    .map_err(card_error)?,
                new_code,
            ))
        })?;
        let body = json!({
            "challenge": idp_wallet::verify::hex(&challenge),
            "evidence": evidence,
            "email": email,
            "new_code": new_code,
        });
        let answer = wallet
            .post(&format!("{}/app/activate", wallet.state.provider), &body)
            .await?;
        let status: IdentityStatus = serde_json::from_value(answer)?;
        wallet.state.identity = Some(status.identity.clone());
        wallet.save()?;
        Ok(status)
    }

    /// `status`: the identity as the provider sees it, after a card read.
    pub async fn status(&self, answers: &Answers) -> anyhow::Result<IdentityStatus> {
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        let challenge = self.challenge().await?;
        let evidence = self.read(&pin, &challenge)?;
        let body =
            json!({ "challenge": idp_wallet::verify::hex(&challenge), "evidence": evidence });
        let answer = self
            .post(&format!("{}/app/status", self.state.provider), &body)
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    /// `scan <url>`: a login QR code. Returns what was shown and whether
    /// the login was approved.
    pub async fn scan(&self, url: &str, answers: &Answers) -> anyhow::Result<(LoginContext, bool)> {
        let parsed =
            url::Url::parse(url).map_err(|_| anyhow!("ce QR code n'est pas une adresse"))?;
        let qr_ref = parsed
            .path()
            .strip_prefix("/q/")
            .filter(|r| !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| anyhow!("ce QR code n'est pas un QR code de connexion"))?;
        if origin(url)? != self.state.provider {
            bail!(
                "ce QR code ne vient pas de votre fournisseur d'identité ({}) : ne poursuivez pas",
                self.state.provider
            );
        }
        let body = json!({ "installation": self.installation()?, "proof": self.sign(&format!("claim|{qr_ref}")) });
        let answer = self
            .post(&format!("{}/q/{qr_ref}/claim", self.state.provider), &body)
            .await?;
        let context: LoginContext = serde_json::from_value(answer)?;
        println!("{}", describe(&context));
        let yes = match answers.confirm {
            Some(yes) => yes,
            None => {
                let answer = ask("Est-ce vous ? [oui/non]")?;
                answer.eq_ignore_ascii_case("oui") || answer.eq_ignore_ascii_case("o")
            }
        };
        if !yes {
            let body = json!({
                "claim": context.claim,
                "installation": self.installation()?,
                "proof": self.sign(&format!("refuse|{}", context.claim)),
            });
            self.post(&format!("{}/app/refuse", self.state.provider), &body)
                .await?;
            return Ok((context, false));
        }
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        let challenge = parse_challenge(&context.challenge)?;
        let evidence = self.read(&pin, &challenge)?;
        let body = json!({
            "claim": context.claim,
            "installation": self.installation()?,
            "proof": self.sign(&format!("approve|{}", context.claim)),
            "challenge": context.challenge,
            "evidence": evidence,
        });
        self.post(&format!("{}/app/approve", self.state.provider), &body)
            .await?;
        Ok((context, true))
    }

    /// `certify`: without `email_code`, reads the card with the code and
    /// has the provider mail a confirmation code; with it, confirms and
    /// gets the request's QR code (also written to the folder).
    pub async fn certify(
        &mut self,
        answers: &Answers,
        email_code: Option<&str>,
    ) -> anyhow::Result<Certify> {
        let Some(code) = email_code else {
            let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
            let challenge = self.challenge().await?;
            let evidence = self.read(&pin, &challenge)?;
            let body =
                json!({ "challenge": idp_wallet::verify::hex(&challenge), "evidence": evidence });
            let answer = self
                .post(
                    &format!("{}/app/certification/start", self.state.provider),
                    &body,
                )
                .await?;
            let pending = answer
                .get("pending")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("réponse illisible du fournisseur"))?;
            self.state.pending_certification = Some(pending.to_owned());
            self.save()?;
            let email = answer
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Ok(Certify::CodeSent {
                email: email.to_owned(),
            });
        };
        let pending = self.state.pending_certification.clone().ok_or_else(|| {
            anyhow!(
                "aucune demande en attente de code : lancez d'abord `certify` sans --email-code"
            )
        })?;
        let answer = self
            .post(
                &format!("{}/app/certification/confirm", self.state.provider),
                &json!({ "pending": pending, "code": code }),
            )
            .await?;
        let seal = answer
            .get("seal")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("réponse illisible du fournisseur"))?
            .to_owned();
        let expires_at = answer
            .get("expires_at")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        self.state.pending_certification = None;
        self.save()?;
        write_atomically(&self.folder.join(CERTIFICATION_QR_TEXT), &seal)?;
        let svg = web::qr_svg(&seal, 320).ok_or_else(|| anyhow!("QR code trop long"))?;
        write_atomically(&self.folder.join(CERTIFICATION_QR_SVG), &svg)?;
        Ok(Certify::Requested { seal, expires_at })
    }

    /// `proof`: a single-use identity proof for `recipient`, written as a
    /// PDF to `out`; returns its id and last valid day.
    pub async fn proof(
        &self,
        answers: &Answers,
        order: &ProofOrder,
        out: &Path,
    ) -> anyhow::Result<(String, String)> {
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        let challenge = self.challenge().await?;
        let evidence = self.read(&pin, &challenge)?;
        let body = json!({
            "challenge": idp_wallet::verify::hex(&challenge),
            "evidence": evidence,
            "recipient": order.recipient,
            "purpose": order.purpose,
            "days": order.days,
            "attributes": order.attributes,
        });
        let answer = self
            .post(&format!("{}/app/proof", self.state.provider), &body)
            .await?;
        let text = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("réponse illisible du fournisseur"))
        };
        write_atomically(out, card::b64::decode(&text("pdf")?)?)?;
        Ok((text("id")?, text("validity_date")?))
    }

    /// The folder (where `certify` writes its QR code).
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// `change-pin`: proves the old code to the provider, then changes it
    /// on the card; the provider ends any certification.
    pub async fn change_pin(&self, answers: &Answers) -> anyhow::Result<IdentityStatus> {
        let old = pin_or_ask(&answers.pin, "Code personnel actuel :")?;
        let new = pin_or_ask(&answers.new_pin, "Nouveau code personnel :")?;
        let challenge = self.challenge().await?;
        let evidence = self.with_card(|reader| {
            reader.verify_pin(&old).map_err(card_error)?;
            let evidence = reader
                .evidence(&LOGIN_GROUPS, &challenge)
                .map_err(card_error)?;
            reader.change_pin(&old, &new).map_err(card_error)?;
            Ok(evidence)
        })?;
        let body =
            json!({ "challenge": idp_wallet::verify::hex(&challenge), "evidence": evidence });
        let answer = self
            .post(&format!("{}/app/pin-changed", self.state.provider), &body)
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    fn licence_path(&self) -> PathBuf {
        self.folder.join("permis.json")
    }

    /// `permis ajouter`: reads the card with its code and asks the provider
    /// for the holder's driving licence, bound to a device key made here.
    pub async fn add_licence(&self, answers: &Answers) -> anyhow::Result<HeldLicence> {
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        let challenge = self.challenge().await?;
        let evidence = self.read(&pin, &challenge)?;
        let device_key = card::pki::random_key();
        let challenge = idp_wallet::verify::hex(&challenge);
        let public = device_key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| anyhow!("{e}"))?;
        let proof: DerSignature = device_key.sign(format!("licence|{challenge}").as_bytes());
        let body = json!({
            "challenge": challenge,
            "evidence": evidence,
            "device_key": card::b64::encode(public.as_bytes()),
            "proof": card::b64::encode(proof.as_bytes()),
        });
        let answer = self
            .post(&format!("{}/app/licence", self.state.provider), &body)
            .await?;
        let issued: IssuedLicence = serde_json::from_value(answer)?;
        let private = device_key.to_pkcs8_der().map_err(|e| anyhow!("{e}"))?;
        let held = HeldLicence {
            issued,
            device_key: card::b64::encode(private.as_bytes()),
        };
        held.mdoc()?;
        write_atomically(&self.licence_path(), serde_json::to_string_pretty(&held)?)?;
        Ok(held)
    }

    /// `permis renouveler`: presents the licence to its issuer, which
    /// issues a fresh one to the same device key if the identity is active
    /// and the register still says the licence is valid. No card read.
    pub async fn renew_licence(&self) -> anyhow::Result<HeldLicence> {
        let held = self
            .licence()?
            .ok_or_else(|| anyhow!("aucun permis dans ce portefeuille : permis ajouter"))?;
        let identity = self
            .state
            .identity
            .clone()
            .ok_or_else(|| anyhow!("aucune identité numérique dans ce portefeuille"))?;
        let challenge = idp_wallet::verify::hex(&self.challenge().await?);
        let transcript = idp_wallet::licence::renewal_transcript(&self.state.provider, &challenge)
            .map_err(|e| anyhow!("{e}"))?;
        let request = mdoc::DeviceRequest {
            doc_requests: vec![mdoc::ItemsRequest::mdl(
                &idp_wallet::licence::RENEWAL_ELEMENTS,
            )],
        };
        let response = held
            .mdoc()?
            .present(&request, &transcript)
            .and_then(|response| response.to_bytes())
            .map_err(|e| anyhow!("{e}"))?;
        let body = json!({
            "challenge": challenge,
            "identity": identity,
            "device_response": card::b64::encode(&response),
        });
        let answer = self
            .post(&format!("{}/app/licence/renew", self.state.provider), &body)
            .await?;
        let renewed = HeldLicence {
            issued: serde_json::from_value(answer)?,
            device_key: held.device_key,
        };
        renewed.mdoc()?;
        write_atomically(
            &self.licence_path(),
            serde_json::to_string_pretty(&renewed)?,
        )?;
        Ok(renewed)
    }

    /// `permis`: the licence this wallet holds, if any.
    pub fn licence(&self) -> anyhow::Result<Option<HeldLicence>> {
        match std::fs::read_to_string(self.licence_path()) {
            Ok(text) => Ok(Some(
                serde_json::from_str(&text).context("permis.json illisible")?,
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// `delete`: the identity of this card is deleted at the provider, and
    /// this folder forgets it.
    pub async fn delete(mut self, answers: &Answers) -> anyhow::Result<()> {
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        let challenge = self.challenge().await?;
        let evidence = self.read(&pin, &challenge)?;
        let body =
            json!({ "challenge": idp_wallet::verify::hex(&challenge), "evidence": evidence });
        self.post(&format!("{}/app/delete", self.state.provider), &body)
            .await?;
        self.state.identity = None;
        // The licence was issued to the identity: it goes with it.
        match std::fs::remove_file(self.licence_path()) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
        self.save()
    }
}

/// `permis.json`: the driving licence as issued, and the private key of
/// the device it is bound to (a phone keeps it in its secure element; here
/// it is a file of the wallet's folder).
#[derive(Serialize, Deserialize)]
pub struct HeldLicence {
    #[serde(flatten)]
    pub issued: IssuedLicence,
    /// PKCS#8, base64.
    device_key: String,
}

impl std::fmt::Debug for HeldLicence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldLicence")
            .field("document_number", &self.issued.document_number)
            .finish_non_exhaustive()
    }
}

impl HeldLicence {
    /// The mdoc, ready to present.
    pub fn mdoc(&self) -> anyhow::Result<mdoc::Mdoc> {
        let stored = mdoc::holder::StoredMdoc {
            issuer_signed: self.issued.issuer_signed.clone(),
            device_key: self.device_key.clone(),
        };
        mdoc::Mdoc::from_stored(&stored).map_err(|e| anyhow!("permis illisible : {e}"))
    }

    /// Whether it is time to renew it, at `now`.
    pub fn due(&self, now: i64) -> bool {
        now >= self.issued.valid_until - idp_wallet::licence::RENEW_BEFORE_SECS
    }

    /// What `permis` prints.
    pub fn describe(&self, now: i64) -> String {
        let issued = &self.issued;
        let state = if now < issued.valid_until {
            "valide"
        } else {
            "à renouveler"
        };
        format!(
            "Permis de conduire n° {}\n  Catégories : {}\n  Expire le : {}\n  \
             Version numérique : {state} jusqu'au {}",
            issued.document_number,
            issued.categories.join(", "),
            issued.expiry_date,
            card::Date::from_time(issued.valid_until).iso(),
        )
    }
}

/// What the app shows before "c'est moi ?".
pub fn describe(context: &LoginContext) -> String {
    format!(
        "Demande de connexion\n  Service : {}\n  Niveau demandé : {}\n  Données transmises : {}\n  \
         Commencée depuis : {} ({}) à {}\n\
         Ne scannez jamais un QR code reçu par courriel, SMS ou téléphone.\n\
         Oui, c'est moi / Non, ce n'est pas moi",
        context.service,
        context.level.as_str(),
        context.data.join(", "),
        context.browser,
        context.address,
        card::Date::from_time(context.started_at).iso(),
    )
}

/// A card session: loads the card file, runs `work` on the chip (its CAN
/// given), saves the chip's state (its try counter) whatever happened.
fn card_session<T>(
    path: &Path,
    work: impl FnOnce(&mut Reader<'_, SoftCard>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("carte illisible : {}", path.display()))?;
    let state = CardState::from_json(&text).map_err(|e| anyhow!("carte illisible : {e}"))?;
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let result = {
        let mut reader = Reader::new(&mut chip);
        reader
            .open(&can)
            .map_err(|e| anyhow!("lecture de la carte : {e}"))?;
        work(&mut reader)
    };
    let saved = chip.into_state().to_json().map_err(|e| anyhow!("{e}"))?;
    write_atomically(path, &saved)?;
    result
}

/// A line from standard input, `None` when there is none (no terminal,
/// or an empty answer).
pub fn ask_line(prompt: &str) -> anyhow::Result<Option<String>> {
    print!("{prompt} ");
    std::io::stdout().flush().ok();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    Ok((read > 0 && !line.is_empty()).then(|| line.to_owned()))
}

/// A QR code drawn with block characters, for the terminal.
pub fn terminal_qr(text: &str) -> String {
    qrcode::QrCode::new(text.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// A counter's reader: the card read with its code for `challenge`, as
/// the JSON the town-hall console takes.
pub fn counter_read(
    card_path: &Path,
    challenge: &str,
    pin: Option<&str>,
) -> anyhow::Result<String> {
    let challenge_bytes = parse_challenge(challenge.trim())?;
    let pin = pin_or_ask(&pin.map(str::to_owned), "Code personnel :")?;
    let evidence = card_session(card_path, |reader| {
        reader.verify_pin(&pin).map_err(card_error)?;
        reader
            .evidence(&LOGIN_GROUPS, &challenge_bytes)
            .map_err(card_error)
    })?;
    Ok(json!({ "challenge": challenge.trim(), "evidence": evidence }).to_string())
}

fn card_error(error: card::CardError) -> anyhow::Error {
    match error {
        card::CardError::WrongPin { tries_left } => {
            anyhow!(
                "code personnel incorrect : encore {tries_left} essai(s) avant le blocage de la carte"
            )
        }
        card::CardError::PinBlocked => anyhow!("code personnel bloqué : trois codes faux"),
        other => anyhow!("lecture de la carte : {other}"),
    }
}

fn parse_challenge(hex: &str) -> anyhow::Result<[u8; 8]> {
    idp_wallet::verify::parse_challenge(hex).ok_or_else(|| anyhow!("défi illisible"))
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url).map_err(|_| anyhow!("adresse invalide : {url}"))?;
    Ok(parsed.origin().ascii_serialization())
}
