//! What can go wrong on the dashboard, each with its code (docs/errors.md);
//! logging in and out has its own, `web::rp::CATALOGUE`.

use web::{Catalogue, Entry};

/// A dashboard's refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DashboardError {
    /// The trail or the person's settings cannot be read or written.
    Unavailable,
    /// The connection reported is not one of the person's history.
    UnknownConnection,
}

/// The dashboard's error pages.
pub static CATALOGUE: &Catalogue<DashboardError> = &[
    Entry {
        error: DashboardError::Unavailable,
        code: "DASHBOARD-UNAVAILABLE",
        status: 503,
        title: ["Historique indisponible", "History unavailable"],
        message: [
            "L'historique ne peut pas être lu pour l'instant. Réessayez dans quelques minutes.",
            "The history cannot be read just now. Try again in a few minutes.",
        ],
    },
    Entry {
        error: DashboardError::UnknownConnection,
        code: "DASHBOARD-CONNECTION",
        status: 400,
        title: ["Connexion introuvable", "Login not found"],
        message: [
            "Choisissez une connexion de votre historique.",
            "Choose a login of your history.",
        ],
    },
];
