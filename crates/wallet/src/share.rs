//! Proving the right to drive online: the licence presented to a service
//! over OpenID for Verifiable Presentations (ISO/IEC 18013-7 Annex B).
//!
//! The service's page shows an `openid4vp://` link. The app reads it and
//! shows who asks and for what. With the holder's consent and code, it
//! answers with the asked elements only, device-signed over the
//! OpenID4VP transcript and encrypted to the service's key.

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jose::KeyAlg;
use mdoc::DeviceRequest;
use mdoc::oid4vp::PresentationRequest;
use serde_json::{Map, Value, json};

use crate::roadside::describe_request;
use crate::{Answers, Wallet, ask, card_error, pin_or_ask};

/// What became of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Shared {
    /// The service received the elements.
    Sent,
    /// The holder declined; nothing was sent.
    Declined,
}

/// The origin a response goes to, if the app may send there: HTTPS, or
/// plain HTTP on this machine (the demo).
fn origin_of(response_uri: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(response_uri).map_err(|_| anyhow!("adresse de réponse invalide"))?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && local) {
        bail!("ce service ne répond pas en HTTPS : rien n'est envoyé");
    }
    Ok(url.origin().ascii_serialization())
}

impl Wallet {
    /// `permis partager <lien>`: answers a service's OpenID4VP request.
    pub async fn share_licence(&self, link: &str, answers: &Answers) -> anyhow::Result<Shared> {
        let licence = self
            .licence()?
            .ok_or_else(|| anyhow!("aucun permis dans ce portefeuille : permis ajouter"))?;
        let request = PresentationRequest::from_uri(link.trim())
            .map_err(|e| anyhow!("lien illisible : {e}"))?;
        let origin = origin_of(&request.response_uri)?;
        println!("Demande de {} ({origin})", request.client_name);
        println!("  {}", describe_request(&request.items()));
        let yes = match answers.confirm {
            Some(yes) => yes,
            None => {
                let answer = ask("Transmettre ces données ? [oui/non]")?;
                answer.eq_ignore_ascii_case("oui") || answer.eq_ignore_ascii_case("o")
            }
        };
        if !yes {
            return Ok(Shared::Declined);
        }
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        self.with_card(|reader| reader.verify_pin(&pin).map_err(card_error))?;

        let wallet_nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let transcript = request
            .transcript(&wallet_nonce)
            .map_err(|e| anyhow!("{e}"))?;
        let device_request = DeviceRequest {
            doc_requests: vec![request.items()],
        };
        let device_response = licence
            .mdoc()?
            .present(&device_request, &transcript)
            .and_then(|response| response.to_bytes())
            .map_err(|e| anyhow!("{e}"))?;
        let payload = serde_json::to_vec(&request.response(&device_response))?;
        let keys = json!({ "keys": [request.encryption_key] }).to_string();
        let recipient = jose::PublicKeySet::from_json(&keys)
            .ok()
            .and_then(|set| set.keys().first().cloned())
            .ok_or_else(|| anyhow!("clé de chiffrement du service illisible"))?;
        let mut header = Map::new();
        header.insert(
            "apu".into(),
            Value::String(URL_SAFE_NO_PAD.encode(&wallet_nonce)),
        );
        header.insert(
            "apv".into(),
            Value::String(URL_SAFE_NO_PAD.encode(&request.nonce)),
        );
        let response = jose::encrypt(&payload, &recipient, KeyAlg::EcdhEs, "JSON", &header)
            .map_err(|e| anyhow!("chiffrement : {e}"))?;
        let answer = reqwest::Client::new()
            .post(&request.response_uri)
            .form(&[("response", response.as_str()), ("state", &request.state)])
            .send()
            .await
            .with_context(|| format!("service injoignable ({origin})"))?;
        if !answer.status().is_success() {
            let text = oidc::answer::text(answer).await.unwrap_or_default();
            bail!(
                "le service a refusé la réponse : {}",
                text.chars().take(200).collect::<String>()
            );
        }
        Ok(Shared::Sent)
    }
}
