//! The hub's error pages. Each has a stable code, catalogued in
//! docs/errors.md (generated from [`CATALOGUE`]; a test fails when stale).

use axum::response::{IntoResponse, Response};
use web::{Catalogue, ErrorPage};

/// Why the hub shows an error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubError {
    /// The request cannot even be read (too large, badly encoded).
    BadRequest,
    /// Unknown or missing `client_id`.
    UnknownClient,
    /// `redirect_uri` missing or not registered.
    BadRedirectUri,
    /// No login in progress in this browser (expired or never started).
    NoInteraction,
    /// A form came without this session's CSRF token.
    Csrf,
    /// The chosen provider is unknown or cannot serve this request.
    ProviderUnavailable,
    /// The provider could not be reached or answered badly.
    ProviderUnreachable,
    /// The callback does not belong to the login in progress.
    CallbackMismatch,
    /// The provider's tokens failed a check.
    ProviderTokens,
    /// The identity the provider sent is malformed.
    InvalidIdentity,
    /// The register knows nobody with this identity.
    RegisterNotFound,
    /// The register found a near match only.
    RegisterNearMatch,
    /// The register says the person is deceased.
    RegisterDeceased,
    /// The register could not be reached.
    RegisterUnavailable,
    /// A logout request failed its checks.
    BadLogout,
    /// Storage failed.
    Storage,
    /// Anything else.
    Internal,
}

/// Code, HTTP status, title, message: the catalogue.
pub const CATALOGUE: &Catalogue<HubError> = &[
    (
        HubError::BadRequest,
        "HUB-AUTHZ-REQUEST",
        400,
        "Demande illisible",
        "La demande de connexion envoyée par le service est illisible. Revenez sur le site du service et réessayez.",
    ),
    (
        HubError::UnknownClient,
        "HUB-AUTHZ-CLIENT",
        400,
        "Service inconnu",
        "Le service qui vous a envoyé ici n'est pas enregistré auprès de Passerelle. Revenez sur le site du service et réessayez ; si le problème persiste, contactez ce service.",
    ),
    (
        HubError::BadRedirectUri,
        "HUB-AUTHZ-REDIRECT-URI",
        400,
        "Adresse de retour invalide",
        "L'adresse de retour demandée par le service n'est pas celle qu'il a enregistrée. Par sécurité, vous ne serez pas redirigé. Contactez le service.",
    ),
    (
        HubError::NoInteraction,
        "HUB-SESSION",
        400,
        "Session expirée",
        "Aucune connexion n'est en cours dans ce navigateur, ou elle a expiré. Revenez sur le site du service et cliquez de nouveau sur le bouton de connexion.",
    ),
    (
        HubError::Csrf,
        "HUB-CSRF",
        403,
        "Formulaire expiré",
        "Ce formulaire n'est plus valide. Revenez sur le site du service et recommencez la connexion.",
    ),
    (
        HubError::ProviderUnavailable,
        "HUB-PROVIDER-UNAVAILABLE",
        400,
        "Compte indisponible",
        "Ce compte ne peut pas être utilisé pour ce service. Choisissez un autre compte.",
    ),
    (
        HubError::ProviderUnreachable,
        "HUB-PROVIDER-UNREACHABLE",
        502,
        "Fournisseur d'identité injoignable",
        "Le fournisseur d'identité ne répond pas. Réessayez dans quelques minutes ou choisissez un autre compte.",
    ),
    (
        HubError::CallbackMismatch,
        "HUB-CALLBACK",
        400,
        "Retour inattendu",
        "La réponse du fournisseur d'identité ne correspond à aucune connexion en cours dans ce navigateur. Recommencez la connexion depuis le site du service.",
    ),
    (
        HubError::ProviderTokens,
        "HUB-PROVIDER-TOKENS",
        502,
        "Réponse du fournisseur refusée",
        "La réponse du fournisseur d'identité n'a pas passé les contrôles de sécurité. Réessayez ou choisissez un autre compte.",
    ),
    (
        HubError::InvalidIdentity,
        "HUB-IDENTITY-INVALID",
        502,
        "Identité incomplète",
        "L'identité transmise par le fournisseur d'identité est incomplète ou mal formée. Choisissez un autre compte ou contactez votre fournisseur d'identité.",
    ),
    (
        HubError::RegisterNotFound,
        "HUB-REGISTER-NOT-FOUND",
        403,
        "Identité non reconnue",
        "Votre identité n'a pas été trouvée dans le registre national. Vérifiez les informations de votre compte auprès de votre fournisseur d'identité.",
    ),
    (
        HubError::RegisterNearMatch,
        "HUB-REGISTER-NEAR-MATCH",
        403,
        "Identité à vérifier",
        "Votre identité ressemble à une identité du registre national sans lui correspondre exactement. Faites corriger votre état civil auprès de votre fournisseur d'identité.",
    ),
    (
        HubError::RegisterDeceased,
        "HUB-REGISTER-DECEASED",
        403,
        "Connexion impossible",
        "La connexion n'a pas pu aboutir avec cette identité. Contactez le support si vous pensez qu'il s'agit d'une erreur.",
    ),
    (
        HubError::RegisterUnavailable,
        "HUB-REGISTER-UNAVAILABLE",
        504,
        "Vérification indisponible",
        "La vérification de votre identité est momentanément indisponible. Réessayez dans quelques minutes.",
    ),
    (
        HubError::BadLogout,
        "HUB-LOGOUT",
        400,
        "Déconnexion impossible",
        "La demande de déconnexion du service est invalide. Fermez votre navigateur pour terminer votre session.",
    ),
    (
        HubError::Storage,
        "HUB-STORAGE",
        503,
        "Service momentanément indisponible",
        "Passerelle ne peut pas enregistrer votre connexion pour le moment. Réessayez dans quelques minutes.",
    ),
    (
        HubError::Internal,
        "HUB-INTERNAL",
        500,
        "Erreur technique",
        "Une erreur technique est survenue. Réessayez dans quelques minutes.",
    ),
];

impl HubError {
    /// The stable code.
    pub fn code(self) -> &'static str {
        self.page().code
    }

    /// The page.
    pub fn page(self) -> ErrorPage {
        ErrorPage::from_catalogue(CATALOGUE, &self, "Passerelle")
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        self.page().into_response()
    }
}

impl From<web::SessionError> for HubError {
    fn from(error: web::SessionError) -> Self {
        tracing::warn!(%error, "session storage failed");
        HubError::Storage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_one_distinct_code() {
        let mut codes: Vec<&str> = CATALOGUE.iter().map(|entry| entry.1).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
    }
}
