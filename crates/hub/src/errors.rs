//! The hub's error pages. Each has a stable code, catalogued in
//! docs/errors.md (generated from [`CATALOGUE`]; a test fails when stale).

use axum::response::{IntoResponse, Response};
use web::{Catalogue, Entry, ErrorPage};

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

/// The catalogue: code, HTTP status, title and message in French and English.
pub const CATALOGUE: &Catalogue<HubError> = &[
    Entry {
        error: HubError::BadRequest,
        code: "HUB-AUTHZ-REQUEST",
        status: 400,
        title: ["Demande illisible", "Unreadable request"],
        message: [
            "La demande de connexion envoyée par le service est illisible. Revenez sur le site du service et réessayez.",
            "The login request sent by the service cannot be read. Go back to the service's site and try again.",
        ],
    },
    Entry {
        error: HubError::UnknownClient,
        code: "HUB-AUTHZ-CLIENT",
        status: 400,
        title: ["Service inconnu", "Unknown service"],
        message: [
            "Le service qui vous a envoyé ici n'est pas enregistré auprès de Passerelle. Revenez sur le site du service et réessayez ; si le problème persiste, contactez ce service.",
            "The service that sent you here is not registered with Passerelle. Go back to the service's site and try again; if the problem persists, contact that service.",
        ],
    },
    Entry {
        error: HubError::BadRedirectUri,
        code: "HUB-AUTHZ-REDIRECT-URI",
        status: 400,
        title: ["Adresse de retour invalide", "Invalid return address"],
        message: [
            "L'adresse de retour demandée par le service n'est pas celle qu'il a enregistrée. Par sécurité, vous ne serez pas redirigé. Contactez le service.",
            "The return address the service asked for is not the one it registered. For your safety, you will not be sent there. Contact the service.",
        ],
    },
    Entry {
        error: HubError::NoInteraction,
        code: "HUB-SESSION",
        status: 400,
        title: ["Session expirée", "Session expired"],
        message: [
            "Aucune connexion n'est en cours dans ce navigateur, ou elle a expiré. Revenez sur le site du service et cliquez de nouveau sur le bouton de connexion.",
            "No login is in progress in this browser, or it has expired. Go back to the service's site and click its login button again.",
        ],
    },
    Entry {
        error: HubError::Csrf,
        code: "HUB-CSRF",
        status: 403,
        title: ["Formulaire expiré", "Form expired"],
        message: [
            "Ce formulaire n'est plus valide. Revenez sur le site du service et recommencez la connexion.",
            "This form is no longer valid. Go back to the service's site and start the login again.",
        ],
    },
    Entry {
        error: HubError::ProviderUnavailable,
        code: "HUB-PROVIDER-UNAVAILABLE",
        status: 400,
        title: ["Compte indisponible", "Account unavailable"],
        message: [
            "Ce compte ne peut pas être utilisé pour ce service. Choisissez un autre compte.",
            "This account cannot be used for this service. Choose another account.",
        ],
    },
    Entry {
        error: HubError::ProviderUnreachable,
        code: "HUB-PROVIDER-UNREACHABLE",
        // 503: from the citizen's side the provider is out of service for
        // now (down, or its own storage is); the hub itself is fine.
        status: 503,
        title: [
            "Fournisseur d'identité indisponible",
            "Identity provider unavailable",
        ],
        message: [
            "Le fournisseur d'identité ne répond pas. Réessayez dans quelques minutes ou choisissez un autre compte.",
            "The identity provider does not answer. Try again in a few minutes or choose another account.",
        ],
    },
    Entry {
        error: HubError::CallbackMismatch,
        code: "HUB-CALLBACK",
        status: 400,
        title: ["Retour inattendu", "Unexpected return"],
        message: [
            "La réponse du fournisseur d'identité ne correspond à aucune connexion en cours dans ce navigateur. Recommencez la connexion depuis le site du service.",
            "The identity provider's answer matches no login in progress in this browser. Start the login again from the service's site.",
        ],
    },
    Entry {
        error: HubError::ProviderTokens,
        code: "HUB-PROVIDER-TOKENS",
        status: 502,
        title: [
            "Réponse du fournisseur refusée",
            "Provider's answer refused",
        ],
        message: [
            "La réponse du fournisseur d'identité n'a pas passé les contrôles de sécurité. Réessayez ou choisissez un autre compte.",
            "The identity provider's answer failed the security checks. Try again or choose another account.",
        ],
    },
    Entry {
        error: HubError::InvalidIdentity,
        code: "HUB-IDENTITY-INVALID",
        status: 502,
        title: ["Identité incomplète", "Incomplete identity"],
        message: [
            "L'identité transmise par le fournisseur d'identité est incomplète ou mal formée. Choisissez un autre compte ou contactez votre fournisseur d'identité.",
            "The identity sent by the identity provider is incomplete or malformed. Choose another account or contact your identity provider.",
        ],
    },
    Entry {
        error: HubError::RegisterNotFound,
        code: "HUB-REGISTER-NOT-FOUND",
        status: 403,
        title: ["Identité non reconnue", "Identity not recognised"],
        message: [
            "Votre identité n'a pas été trouvée dans le registre national. Vérifiez les informations de votre compte auprès de votre fournisseur d'identité.",
            "Your identity was not found in the national register. Check your account's details with your identity provider.",
        ],
    },
    Entry {
        error: HubError::RegisterNearMatch,
        code: "HUB-REGISTER-NEAR-MATCH",
        status: 403,
        title: ["Identité à vérifier", "Identity to be checked"],
        message: [
            "Votre identité ressemble à une identité du registre national sans lui correspondre exactement. Faites corriger votre état civil auprès de votre fournisseur d'identité.",
            "Your identity looks like one in the national register without matching it exactly. Have your civil status corrected by your identity provider.",
        ],
    },
    Entry {
        error: HubError::RegisterDeceased,
        code: "HUB-REGISTER-DECEASED",
        status: 403,
        title: ["Connexion impossible", "Login impossible"],
        message: [
            "La connexion n'a pas pu aboutir avec cette identité. Contactez le support si vous pensez qu'il s'agit d'une erreur.",
            "The login could not go through with this identity. Contact support if you think this is a mistake.",
        ],
    },
    Entry {
        error: HubError::RegisterUnavailable,
        code: "HUB-REGISTER-UNAVAILABLE",
        status: 504,
        title: ["Vérification indisponible", "Check unavailable"],
        message: [
            "La vérification de votre identité est momentanément indisponible. Réessayez dans quelques minutes.",
            "Your identity cannot be checked just now. Try again in a few minutes.",
        ],
    },
    Entry {
        error: HubError::BadLogout,
        code: "HUB-LOGOUT",
        status: 400,
        title: ["Déconnexion impossible", "Logout impossible"],
        message: [
            "La demande de déconnexion du service est invalide. Fermez votre navigateur pour terminer votre session.",
            "The service's logout request is invalid. Close your browser to end your session.",
        ],
    },
    Entry {
        error: HubError::Storage,
        code: "HUB-STORAGE",
        status: 503,
        title: [
            "Service momentanément indisponible",
            "Service temporarily unavailable",
        ],
        message: [
            "Passerelle ne peut pas enregistrer votre connexion pour le moment. Réessayez dans quelques minutes.",
            "Passerelle cannot record your login just now. Try again in a few minutes.",
        ],
    },
    Entry {
        error: HubError::Internal,
        code: "HUB-INTERNAL",
        status: 500,
        title: ["Erreur technique", "Technical error"],
        message: [
            "Une erreur technique est survenue. Réessayez dans quelques minutes.",
            "A technical error occurred. Try again in a few minutes.",
        ],
    },
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
        let mut codes: Vec<&str> = CATALOGUE.iter().map(|entry| entry.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
    }
}
