//! The provider's error pages, catalogued in docs/errors.md.

use axum::response::{IntoResponse, Response};
use web::{Catalogue, Entry, ErrorPage};

/// Why the provider shows an error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalletError {
    /// Unknown client, or unreadable request.
    UnknownClient,
    /// Redirect URI not registered.
    BadRedirectUri,
    /// No login in progress in this browser (or not this browser's).
    NoLogin,
    /// Too many logins started from this address.
    TooMany,
    /// A logout request failed its checks.
    BadLogout,
    /// Storage failed.
    Storage,
    /// Too many passwords are being checked at this moment (the hashing
    /// pool is full): nothing was done, try again.
    Busy,
}

/// The catalogue: code, HTTP status, title and message in French and English.
pub const CATALOGUE: &Catalogue<WalletError> = &[
    Entry {
        error: WalletError::UnknownClient,
        code: "WALLET-AUTHZ-CLIENT",
        status: 400,
        title: ["Demande invalide", "Invalid request"],
        message: [
            "La demande de connexion ne vient pas d'un service connu de ce fournisseur d'identité.",
            "The login request does not come from a service this identity provider knows.",
        ],
    },
    Entry {
        error: WalletError::BadRedirectUri,
        code: "WALLET-AUTHZ-REDIRECT-URI",
        status: 400,
        title: ["Adresse de retour invalide", "Invalid return address"],
        message: [
            "L'adresse de retour demandée n'est pas enregistrée. Par sécurité, vous ne serez pas redirigé.",
            "The return address asked for is not registered. For your safety, you will not be sent there.",
        ],
    },
    Entry {
        error: WalletError::NoLogin,
        code: "WALLET-SESSION",
        status: 400,
        title: ["Session expirée", "Session expired"],
        message: [
            "Aucune connexion n'est en cours dans ce navigateur, ou elle a expiré (5 minutes). Recommencez depuis le site du service.",
            "No login is in progress in this browser, or it expired (5 minutes). Start again from the service's site.",
        ],
    },
    Entry {
        error: WalletError::TooMany,
        code: "WALLET-RATE",
        status: 429,
        title: ["Trop de tentatives", "Too many attempts"],
        message: [
            "Trop de connexions ont été commencées depuis votre adresse. Patientez une minute.",
            "Too many logins were started from your address. Wait a minute.",
        ],
    },
    Entry {
        error: WalletError::BadLogout,
        code: "WALLET-LOGOUT",
        status: 400,
        title: ["Déconnexion impossible", "Logout impossible"],
        message: [
            "La demande de déconnexion est invalide.",
            "The logout request is invalid.",
        ],
    },
    Entry {
        error: WalletError::Storage,
        code: "WALLET-STORAGE",
        status: 503,
        title: ["Service indisponible", "Service unavailable"],
        message: [
            "Le service est momentanément indisponible. Réessayez dans quelques instants.",
            "The service is briefly unavailable. Try again in a moment.",
        ],
    },
    Entry {
        error: WalletError::Busy,
        code: "WALLET-BUSY",
        status: 503,
        title: ["Service très demandé", "Service in high demand"],
        message: [
            "Service très demandé, réessayez dans un instant.",
            "The service is in high demand, try again in a moment.",
        ],
    },
];

impl WalletError {
    /// The page.
    pub fn page(self) -> ErrorPage {
        ErrorPage::from_catalogue(CATALOGUE, &self, "Fournisseur d'identité")
    }
}

impl IntoResponse for WalletError {
    fn into_response(self) -> Response {
        let mut response = self.page().into_response();
        if self == WalletError::Busy {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(oidc::hash_pool::RETRY_AFTER_SECS),
            );
        }
        response
    }
}

impl From<store::StoreError> for WalletError {
    fn from(error: store::StoreError) -> Self {
        tracing::warn!(%error, "storage failed");
        WalletError::Storage
    }
}
