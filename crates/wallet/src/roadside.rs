//! Showing the driving licence at a roadside check (ISO 18013-5
//! proximity presentation).
//!
//! The app shows a QR code: its device engagement, an ephemeral key and
//! where it listens. There is no BLE or NFC here: the app listens on local
//! HTTP. The officer's reader scans the code and posts its encrypted
//! request (SessionEstablishment). The app shows what is asked, and asks
//! for consent and the code (checked by the card). It then answers with
//! the requested elements only, device-signed for this session and
//! encrypted (SessionData). Declining answers "session terminated".
//! One check, one exchange: the app stops listening after it answers.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use mdoc::session::{DeviceSession, STATUS_TERMINATION, session_status};
use mdoc::{DeviceRequest, ItemsRequest};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::{Answers, HeldLicence, Wallet, ask, card_error, pin_or_ask};

/// How long the app waits for the reader.
const WAIT: Duration = Duration::from_secs(300);

/// The path the app listens on, named in its engagement.
const PATH: &str = "/mdoc";

/// What the citizen is told of a requested element.
pub fn label(element: &str) -> &str {
    match element {
        "family_name" => "nom",
        "given_name" => "prénoms",
        "birth_date" => "date de naissance",
        "issue_date" => "date de délivrance",
        "expiry_date" => "date d'expiration",
        "issuing_country" => "pays de délivrance",
        "issuing_authority" => "autorité de délivrance",
        "document_number" => "numéro du permis",
        "portrait" => "photo",
        "driving_privileges" => "catégories et mentions",
        "un_distinguishing_sign" => "signe distinctif",
        "age_over_18" => "plus de 18 ans",
        "age_over_21" => "plus de 21 ans",
        other => other,
    }
}

/// The request as the app shows it.
pub fn describe_request(request: &ItemsRequest) -> String {
    let asked: Vec<&str> = request
        .name_spaces
        .values()
        .flat_map(|elements| elements.keys().map(|element| label(element)))
        .collect();
    format!("Données demandées : {}", asked.join(", "))
}

/// What became of a presentation.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// The reader received the elements it asked for.
    Shown,
    /// The holder declined; the reader was told the session ended.
    Declined,
}

type Exchange = (Bytes, oneshot::Sender<Vec<u8>>);

impl Wallet {
    /// `permis presenter`: listens on `listener`, calls `show` with the QR
    /// code's text, and answers one reader.
    pub async fn present_licence(
        &self,
        answers: &Answers,
        listener: TcpListener,
        show: impl FnOnce(&str),
    ) -> anyhow::Result<Presented> {
        let licence = self
            .licence()?
            .ok_or_else(|| anyhow!("aucun permis dans ce portefeuille : permis ajouter"))?;
        let address = listener.local_addr()?;
        let mut session = DeviceSession::new(Some(&format!("http://{address}{PATH}")))
            .map_err(|e| anyhow!("{e}"))?;
        let (sender, mut received) = mpsc::channel::<Exchange>(1);
        let app = axum::Router::new()
            .route(PATH, post(relay))
            .with_state(sender);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        show(&session.qr_code());
        let outcome = async {
            let (message, reply) = tokio::time::timeout(WAIT, received.recv())
                .await
                .context("aucun lecteur ne s'est présenté")?
                .ok_or_else(|| anyhow!("la liaison s'est fermée"))?;
            let (answer, outcome) = self.answer(&licence, &mut session, &message, answers)?;
            reply
                .send(answer)
                .map_err(|_| anyhow!("le lecteur est parti"))?;
            Ok(outcome)
        }
        .await;
        // Let the answer leave before the server stops.
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.abort();
        outcome
    }

    /// The answer to the reader's establishment: the response, or a
    /// termination when the holder declines.
    fn answer(
        &self,
        licence: &HeldLicence,
        session: &mut DeviceSession,
        message: &[u8],
        answers: &Answers,
    ) -> anyhow::Result<(Vec<u8>, Presented)> {
        let request = session
            .establish(message)
            .map_err(|e| anyhow!("demande du lecteur illisible : {e}"))?;
        let request = DeviceRequest::from_bytes(&request)
            .map_err(|e| anyhow!("demande du lecteur illisible : {e}"))?;
        println!("Contrôle du permis de conduire");
        for items in &request.doc_requests {
            println!("  {}", describe_request(items));
        }
        let yes = match answers.confirm {
            Some(yes) => yes,
            None => {
                let answer = ask("Montrer ces données ? [oui/non]")?;
                answer.eq_ignore_ascii_case("oui") || answer.eq_ignore_ascii_case("o")
            }
        };
        let terminate = || session_status(STATUS_TERMINATION).map_err(|e| anyhow!("{e}"));
        if !yes {
            return Ok((terminate()?, Presented::Declined));
        }
        let pin = pin_or_ask(&answers.pin, "Code personnel :")?;
        self.with_card(|reader| reader.verify_pin(&pin).map_err(card_error))?;
        let transcript = session
            .transcript()
            .ok_or_else(|| anyhow!("session non établie"))?
            .clone();
        let response = licence
            .mdoc()?
            .present(&request, &transcript)
            .and_then(|response| response.to_bytes())
            .map_err(|e| anyhow!("{e}"))?;
        let sealed = session.seal(&response).map_err(|e| anyhow!("{e}"))?;
        Ok((sealed, Presented::Shown))
    }
}

/// Hands the reader's message to the app and waits for its answer.
async fn relay(State(app): State<mpsc::Sender<Exchange>>, body: Bytes) -> Vec<u8> {
    let (reply, answer) = oneshot::channel();
    if app.send((body, reply)).await.is_err() {
        return session_status(STATUS_TERMINATION).unwrap_or_default();
    }
    answer
        .await
        .unwrap_or_else(|_| session_status(STATUS_TERMINATION).unwrap_or_default())
}
