//! The webhook SMS gateway against a real HTTP server on loopback.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use idp_password::sms::{Sms, SmsGateway};

type Received = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

async fn receive(
    State((received, status)): State<(Received, StatusCode)>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let json = serde_json::from_str(&body).unwrap_or_default();
    if let Ok(mut received) = received.lock() {
        received.push((authorization, json));
    }
    status
}

async fn gateway_answering(status: StatusCode) -> std::io::Result<(String, Received)> {
    let received: Received = Arc::default();
    let app = Router::new()
        .route("/send", post(receive))
        .with_state((received.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/send", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, received))
}

fn sms() -> Sms {
    Sms {
        to: "+33612345678".into(),
        text: "impots.gouv (démo) : votre code de confirmation est 123456.".into(),
    }
}

#[tokio::test]
async fn a_text_is_posted_as_json_with_the_bearer_token() -> std::io::Result<()> {
    let (url, received) = gateway_answering(StatusCode::ACCEPTED).await?;
    let gateway = SmsGateway::Webhook {
        url,
        token: Some("secret-of-the-gateway".into()),
        http: reqwest::Client::new(),
    };
    gateway.send(&sms()).await.map_err(std::io::Error::other)?;
    let received = received.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(
        received,
        [(
            Some("Bearer secret-of-the-gateway".to_owned()),
            serde_json::json!({
                "to": "+33612345678",
                "text": "impots.gouv (démo) : votre code de confirmation est 123456.",
            })
        )]
    );
    Ok(())
}

#[tokio::test]
async fn a_gateway_that_refuses_or_is_down_is_an_error() -> std::io::Result<()> {
    let (url, _) = gateway_answering(StatusCode::SERVICE_UNAVAILABLE).await?;
    let refusing = SmsGateway::Webhook {
        url,
        token: None,
        http: reqwest::Client::new(),
    };
    let error = refusing
        .send(&sms())
        .await
        .err()
        .map(|error| error.to_string());
    assert_eq!(
        error.as_deref(),
        Some("text message not sent: gateway answered 503 Service Unavailable")
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let closed = format!("http://{}/send", listener.local_addr()?);
    drop(listener);
    let down = SmsGateway::Webhook {
        url: closed,
        token: None,
        http: reqwest::Client::new(),
    };
    assert!(down.send(&sms()).await.is_err());
    Ok(())
}
