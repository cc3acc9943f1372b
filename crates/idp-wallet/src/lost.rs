//! A lost card: the identity is deleted from the web, with the personal
//! link mailed at activation (the card, which the app needs, is gone).
//! A new card then makes a new identity.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use web::escape;

use crate::WalletProvider;
use crate::flow::sha256_hex;
use crate::identity::Identity;

/// How long a deletion link lives: as long as a card.
const LINK_SECS: i64 = 10 * 366 * 86_400;

/// What the store files a link under: the token's hash, so that a stolen
/// database holds no usable link.
fn link_key(token: &str) -> String {
    sha256_hex(token)
}

impl WalletProvider {
    /// A new deletion link for an identity, mailed with the activation
    /// notice.
    pub(crate) async fn mail_activation(
        &self,
        identity: &Identity,
        restored: bool,
    ) -> Result<(), store::StoreError> {
        let token = oidc::types::random_token(32);
        let now = self.clock.now();
        self.stores
            .wallet_identities
            .add_deletion_link(&link_key(&token), &identity.stored.id, now + LINK_SECS)
            .await?;
        let what = if restored {
            "Votre identité numérique vient d'être activée sur un nouveau téléphone."
        } else {
            "Votre identité numérique vient d'être créée."
        };
        self.send_mail(
            &identity.stored.email,
            format!("{} - Identité numérique activée", self.config.name),
            format!(
                "Bonjour,\n\n{what}\n\nSi ce n'est pas vous, ou si vous perdez votre carte d'identité, supprimez-la avec ce lien personnel (conservez ce message) :\n{}/supprimer?t={token}\n\nUne nouvelle carte vous permettra ensuite de créer une nouvelle identité numérique.\n",
                self.config.public_url
            ),
        )
        .await;
        Ok(())
    }
}

fn page(idp: &WalletProvider, title: &str, body: String) -> Response {
    crate::french_page(&idp.config.name, title, body)
}

async fn identity_of_link(idp: &WalletProvider, token: &str) -> Option<Identity> {
    let now = idp.clock.now();
    Identity::by_deletion_link(&idp.stores, &link_key(token), now)
        .await
        .inspect_err(|error| tracing::warn!(%error, "deletion link not read"))
        .ok()
        .flatten()
}

const NO_LINK: &str = "<h1>Supprimer mon identité numérique</h1>\
    <p>Ce lien n'est pas valide, ou l'identité a déjà été supprimée.</p>\
    <p>Utilisez le lien personnel reçu par courriel à l'activation. Si vous avez encore votre carte, supprimez votre identité depuis l'application.</p>";

/// `GET /supprimer?t=…`: confirms before deleting.
pub async fn confirm(
    State(idp): State<Arc<WalletProvider>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let token = query.get("t").map_or("", String::as_str);
    if identity_of_link(&idp, token).await.is_none() {
        return page(&idp, "Supprimer mon identité numérique", NO_LINK.to_owned());
    }
    let body = format!(
        "<h1>Supprimer mon identité numérique</h1>\
         <p>Votre carte est perdue ou volée, ou vous ne voulez plus de votre identité numérique : une fois supprimée, elle ne permet plus de se connecter. Ses certifications et justificatifs cessent. Une nouvelle carte permettra d'en créer une nouvelle.</p>\
         <form method=\"post\" action=\"/supprimer\"><input type=\"hidden\" name=\"t\" value=\"{}\">\
         <p><button type=\"submit\">Supprimer mon identité numérique</button></p></form>",
        escape(token)
    );
    page(&idp, "Supprimer mon identité numérique", body)
}

/// `POST /supprimer`: deletes the identity of the link.
pub async fn delete(
    State(idp): State<Arc<WalletProvider>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form.get("t").map_or("", String::as_str);
    let Some(identity) = identity_of_link(&idp, token).await else {
        return page(&idp, "Supprimer mon identité numérique", NO_LINK.to_owned());
    };
    let email = identity.stored.email.clone();
    // The identity's links go with it.
    if let Err(error) = identity.delete(&idp.stores).await {
        return crate::errors::WalletError::from(error).into_response();
    }
    tracing::info!(provider = %idp.config.id, "wallet identity deleted from the web");
    idp.send_mail(
        &email,
        format!("{} - Identité numérique supprimée", idp.config.name),
        "Bonjour,\n\nVotre identité numérique a été supprimée : elle ne permet plus de se connecter.\n".to_owned(),
    )
    .await;
    page(
        &idp,
        "Identité numérique supprimée",
        "<h1>Identité numérique supprimée</h1><p>Elle ne permet plus de se connecter. Avec votre nouvelle carte, activez une nouvelle identité numérique dans l'application.</p>".to_owned(),
    )
}
