//! The provider's error pages, catalogued in docs/errors.md.

use axum::response::{IntoResponse, Response};
use web::{Catalogue, ErrorPage};

/// Why the provider shows an error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdpError {
    /// Unknown client, or unreadable request.
    UnknownClient,
    /// Redirect URI not registered.
    BadRedirectUri,
    /// No login in progress in this browser.
    NoLogin,
    /// A form without this session's CSRF token.
    Csrf,
    /// A logout request failed its checks.
    BadLogout,
    /// Storage failed.
    Storage,
}

/// Code, HTTP status, title, message.
pub const CATALOGUE: &Catalogue<IdpError> = &[
    (
        IdpError::UnknownClient,
        "IDP-AUTHZ-CLIENT",
        400,
        "Demande invalide",
        "La demande de connexion ne vient pas d'un service connu de ce fournisseur d'identité.",
    ),
    (
        IdpError::BadRedirectUri,
        "IDP-AUTHZ-REDIRECT-URI",
        400,
        "Adresse de retour invalide",
        "L'adresse de retour demandée n'est pas enregistrée. Par sécurité, vous ne serez pas redirigé.",
    ),
    (
        IdpError::NoLogin,
        "IDP-SESSION",
        400,
        "Session expirée",
        "Aucune connexion n'est en cours dans ce navigateur, ou elle a expiré. Recommencez depuis le site du service.",
    ),
    (
        IdpError::Csrf,
        "IDP-CSRF",
        403,
        "Formulaire expiré",
        "Ce formulaire n'est plus valide. Recommencez la connexion depuis le site du service.",
    ),
    (
        IdpError::BadLogout,
        "IDP-LOGOUT",
        400,
        "Déconnexion impossible",
        "La demande de déconnexion est invalide.",
    ),
    (
        IdpError::Storage,
        "IDP-STORAGE",
        503,
        "Service momentanément indisponible",
        "Le fournisseur d'identité ne peut pas traiter votre demande pour le moment. Réessayez dans quelques minutes.",
    ),
];

impl IdpError {
    /// The page.
    pub fn page(self) -> ErrorPage {
        ErrorPage::from_catalogue(CATALOGUE, &self, "Fournisseur d'identité")
    }
}

impl IntoResponse for IdpError {
    fn into_response(self) -> Response {
        self.page().into_response()
    }
}

impl From<web::SessionError> for IdpError {
    fn from(error: web::SessionError) -> Self {
        tracing::warn!(%error, "session storage failed");
        IdpError::Storage
    }
}

impl From<store::StoreError> for IdpError {
    fn from(error: store::StoreError) -> Self {
        tracing::warn!(%error, "storage failed");
        IdpError::Storage
    }
}
