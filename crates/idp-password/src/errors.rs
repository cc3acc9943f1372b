//! The provider's error pages, catalogued in docs/errors.md.

use axum::response::{IntoResponse, Response};
use web::{Catalogue, Entry, ErrorPage};

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
    /// No account creation in progress in this browser.
    NoSignup,
    /// A page of the account, and nobody logged in.
    NotLoggedIn,
    /// Storage failed.
    Storage,
    /// Too many passwords are being checked at this moment (the hashing
    /// pool is full): nothing was done or counted, try again.
    Busy,
}

/// The catalogue: code, HTTP status, title and message in French and English.
pub const CATALOGUE: &Catalogue<IdpError> = &[
    Entry {
        error: IdpError::UnknownClient,
        code: "IDP-AUTHZ-CLIENT",
        status: 400,
        title: ["Demande invalide", "Invalid request"],
        message: [
            "La demande de connexion ne vient pas d'un service connu de ce fournisseur d'identité.",
            "The login request does not come from a service this identity provider knows.",
        ],
    },
    Entry {
        error: IdpError::BadRedirectUri,
        code: "IDP-AUTHZ-REDIRECT-URI",
        status: 400,
        title: ["Adresse de retour invalide", "Invalid return address"],
        message: [
            "L'adresse de retour demandée n'est pas enregistrée. Par sécurité, vous ne serez pas redirigé.",
            "The return address asked for is not registered. For your safety, you will not be sent there.",
        ],
    },
    Entry {
        error: IdpError::NoLogin,
        code: "IDP-SESSION",
        status: 400,
        title: ["Session expirée", "Session expired"],
        message: [
            "Aucune connexion n'est en cours dans ce navigateur, ou elle a expiré. Recommencez depuis le site du service.",
            "No login is in progress in this browser, or it has expired. Start again from the service's site.",
        ],
    },
    Entry {
        error: IdpError::Csrf,
        code: "IDP-CSRF",
        status: 403,
        title: ["Formulaire expiré", "Form expired"],
        message: [
            "Ce formulaire n'est plus valide. Recommencez la connexion depuis le site du service.",
            "This form is no longer valid. Start the login again from the service's site.",
        ],
    },
    Entry {
        error: IdpError::BadLogout,
        code: "IDP-LOGOUT",
        status: 400,
        title: ["Déconnexion impossible", "Logout impossible"],
        message: [
            "La demande de déconnexion est invalide.",
            "The logout request is invalid.",
        ],
    },
    Entry {
        error: IdpError::NoSignup,
        code: "IDP-SIGNUP",
        status: 400,
        title: ["Création interrompue", "Account creation interrupted"],
        message: [
            "Aucune création de compte n'est en cours dans ce navigateur, ou elle a expiré. Recommencez depuis le début : rien n'a été enregistré.",
            "No account creation is in progress in this browser, or it has expired. Start again from the beginning: nothing was saved.",
        ],
    },
    Entry {
        error: IdpError::NotLoggedIn,
        code: "IDP-ACCOUNT",
        status: 401,
        title: ["Connexion nécessaire", "Login needed"],
        message: [
            "Connectez-vous pour voir votre espace : il n'y a pas de connexion en cours dans ce navigateur, ou elle a expiré.",
            "Log in to see your account: no login is in progress in this browser, or it has expired.",
        ],
    },
    Entry {
        error: IdpError::Storage,
        code: "IDP-STORAGE",
        status: 503,
        title: [
            "Service momentanément indisponible",
            "Service temporarily unavailable",
        ],
        message: [
            "Le fournisseur d'identité ne peut pas traiter votre demande pour le moment. Réessayez dans quelques minutes.",
            "The identity provider cannot handle your request just now. Try again in a few minutes.",
        ],
    },
    Entry {
        error: IdpError::Busy,
        code: "IDP-BUSY",
        status: 503,
        title: ["Service très demandé", "Service in high demand"],
        message: [
            "Service très demandé, réessayez dans un instant. Rien n'a été enregistré ni compté.",
            "The service is in high demand, try again in a moment. Nothing was saved or counted.",
        ],
    },
];

impl IdpError {
    /// The page.
    pub fn page(self) -> ErrorPage {
        ErrorPage::from_catalogue(CATALOGUE, &self, "Fournisseur d'identité")
    }
}

impl IntoResponse for IdpError {
    fn into_response(self) -> Response {
        let mut response = self.page().into_response();
        if self == IdpError::Busy {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(oidc::hash_pool::RETRY_AFTER_SECS),
            );
        }
        response
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
