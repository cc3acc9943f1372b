//! The email at each connection (the seeds: « A chaque connexion, vous êtes
//! informés par un email »), or, as FranceConnect does, only from a device
//! the hub has not seen the person on.
//!
//! The device is recognised by a cookie, not by anything the hub keeps: the
//! cookie holds up to five short tags, each an HMAC of the person's pivot
//! identity under the platform secret, so it tells nothing about anyone to
//! whoever reads it. The mail is queued before the service gets its code:
//! when the queue cannot take it (the database is down), the login fails
//! with « service indisponible » and no connection goes unannounced.

use axum::http::{HeaderMap, HeaderValue};
use oidc::Acr;
use serde::Deserialize;

use crate::errors::HubError;
use crate::flow::Verified;
use crate::state::Hub;
use crate::sub::pairwise_sub;

/// When the citizen gets an email.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyPolicy {
    /// At every connection to a service (the seeds' promise).
    #[default]
    EveryConnection,
    /// Only from a browser the person has not logged in from before.
    NewDevice,
    /// Never.
    Never,
}

/// Devices remembered per browser.
const MAX_DEVICE_TAGS: usize = 5;

/// One connection: who, where, through whom, how strongly.
#[derive(Debug)]
pub struct Connection<'a> {
    /// The verified person.
    pub verified: &'a Verified,
    /// The service's name.
    pub service: &'a str,
    /// The level reported to the service.
    pub acr: Acr,
    /// The connection's entry in the person's trail, when the trail is
    /// kept: the email gives its number and a signed receipt of the
    /// trail's head after it, signed only for an email that carries it.
    pub trace: Option<&'a store::Trace>,
}

/// Queues the notification when the policy says so; returns the cookie
/// that remembers this device, when it was not remembered yet.
/// [`HubError::Storage`] when the queue cannot take the message.
pub async fn connection(
    hub: &Hub,
    headers: &HeaderMap,
    connection: &Connection<'_>,
) -> Result<Option<HeaderValue>, HubError> {
    let cookie_name = format!("passerelle_devices_{}", hub.id);
    let tag = device_tag(hub, connection.verified);
    let mut tags: Vec<String> = web::cookie_value(headers, &cookie_name)
        .map(|value| value.split('.').map(str::to_owned).collect())
        .unwrap_or_default();
    let known = tags.contains(&tag);
    let send = match hub.config.notify {
        NotifyPolicy::EveryConnection => true,
        NotifyPolicy::NewDevice => !known,
        NotifyPolicy::Never => false,
    };
    if send {
        queue(hub, connection).await?;
    }
    if known {
        return Ok(None);
    }
    tags.insert(0, tag);
    tags.truncate(MAX_DEVICE_TAGS);
    let secure = if hub.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    // Thirteen months, the CNIL's longest for such a cookie.
    Ok(HeaderValue::from_str(&format!(
        "{cookie_name}={}; Path=/; Max-Age=34214400; HttpOnly; SameSite=Lax{secure}",
        tags.join(".")
    ))
    .ok())
}

/// This person's tag: a pseudonym for a pseudo-entity of the hub's own.
fn device_tag(hub: &Hub, verified: &Verified) -> String {
    let pseudonym = pairwise_sub(
        hub.config.sub_secret.as_bytes(),
        "passerelle:device",
        &verified.identity,
    );
    pseudonym.chars().take(16).collect()
}

async fn queue(hub: &Hub, connection: &Connection<'_>) -> Result<(), HubError> {
    let Some(mailer) = &hub.mailer else {
        return Ok(());
    };
    let identity = &connection.verified.identity;
    if identity.email.is_empty() {
        return Ok(());
    }
    let provider = hub
        .identity_provider(&connection.verified.provider)
        .map_or(connection.verified.provider.as_str(), |idp| {
            idp.config.name.as_str()
        });
    let message = mail::Message {
        to: identity.email.clone(),
        subject: format!(
            "Connexion à {} avec {}",
            connection.service, hub.config.name
        ),
        text: text(hub, connection, provider),
        sender: None,
    };
    mailer.queue(&message).await.map_err(|error| {
        tracing::error!(%error, "connection notice not queued");
        HubError::Storage
    })
}

fn text(hub: &Hub, connection: &Connection<'_>, provider: &str) -> String {
    let identity = &connection.verified.identity;
    let when = mail::french_datetime(hub.clock.now());
    let mut text = format!(
        "Bonjour {} {},\n\n\
         Vous vous êtes connecté(e) au service « {} » avec {}, {when}, \
         par votre compte {provider} (niveau {}).\n\n\
         Si c'était bien vous, vous n'avez rien à faire.\n\n",
        identity.given_name,
        identity.family_name,
        connection.service,
        hub.config.name,
        connection.acr,
    );
    match &hub.config.dashboard_url {
        Some(dashboard) => {
            text.push_str(&format!(
                "Ce n'était pas vous ? Signalez-le : {dashboard}/signalement\n\
                 puis changez le mot de passe de votre compte {provider}.\n\n\
                 Vos connexions des six derniers mois : {dashboard}/\n\n"
            ));
            let receipt = connection.trace.and_then(|trace| {
                crate::trail::receipt(hub, connection.verified, trace)
                    .map(|receipt| (trace.seq, receipt))
            });
            if let Some((seq, receipt)) = receipt {
                text.push_str(&format!(
                    "Cette connexion est la n° {seq} de votre historique. Reçu d'intégrité, \
                     à coller dans « Vérifier l'intégrité » de votre tableau de bord pour \
                     vous assurer que l'historique n'a pas été modifié depuis :\n\n\
                     {receipt}\n\n"
                ));
            }
        }
        None => text.push_str(&format!(
            "Ce n'était pas vous ? Changez sans attendre le mot de passe de votre compte {provider}.\n\n"
        )),
    }
    text.push_str(&format!(
        "Ce message vous est envoyé par {} ; merci de ne pas y répondre.\n",
        hub.config.name
    ));
    text
}
