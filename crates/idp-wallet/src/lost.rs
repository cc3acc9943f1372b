//! A lost card: the identity is deleted from the web, with the personal
//! link mailed at activation (the card, which the app needs, is gone).
//! A new card then makes a new identity.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use web::Lang;

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

fn page(idp: &WalletProvider, title: &str, body: &impl Template) -> Response {
    crate::render_page(&idp.config.name, title, Lang::Fr, body)
}

async fn identity_of_link(idp: &WalletProvider, token: &str) -> Option<Identity> {
    let now = idp.clock.now();
    Identity::by_deletion_link(&idp.stores, &link_key(token), now)
        .await
        .inspect_err(|error| tracing::warn!(%error, "deletion link not read"))
        .ok()
        .flatten()
}

/// The page of a link that deletes nothing.
#[derive(Template)]
#[template(path = "lost_no_link.html")]
struct NoLink;

#[derive(Template)]
#[template(path = "lost_confirm.html")]
struct ConfirmPage<'a> {
    token: &'a str,
}

/// `GET /supprimer?t=…`: confirms before deleting.
pub async fn confirm(
    State(idp): State<Arc<WalletProvider>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let token = query.get("t").map_or("", String::as_str);
    if identity_of_link(&idp, token).await.is_none() {
        return page(&idp, "Supprimer mon identité numérique", &NoLink);
    }
    page(
        &idp,
        "Supprimer mon identité numérique",
        &ConfirmPage { token },
    )
}

#[derive(Template)]
#[template(path = "lost_deleted.html")]
struct DeletedPage;

/// `POST /supprimer`: deletes the identity of the link.
pub async fn delete(
    State(idp): State<Arc<WalletProvider>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form.get("t").map_or("", String::as_str);
    let Some(identity) = identity_of_link(&idp, token).await else {
        return page(&idp, "Supprimer mon identité numérique", &NoLink);
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
    page(&idp, "Identité numérique supprimée", &DeletedPage)
}
