//! What can go wrong in a démarche, each with its code (docs/errors.md);
//! logging in and out has its own, `web::rp::CATALOGUE`.

use web::{Catalogue, Entry};

/// A démarche's refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemarcheError {
    /// The citizen's level is under the démarche's.
    LevelTooLow,
    /// The dossiers cannot be read or written.
    Unavailable,
    /// The service offers no such démarche.
    UnknownProcedure,
    /// No such dossier, or not the citizen's.
    DossierNotFound,
    /// A form asked for something it cannot do.
    UnknownAction,
    /// The ANTS space has no such part.
    SpaceNotFound,
    /// A registered letter's link leads nowhere.
    LetterNotFound,
    /// The person identified is not the letter's recipient.
    NotTheRecipient,
    /// The recipient's answer is neither accept nor refuse.
    UnknownAnswer,
    /// Too many requests started from this address.
    TooMany,
}

/// The démarches' error pages.
pub static CATALOGUE: &Catalogue<DemarcheError> = &[
    Entry {
        error: DemarcheError::LevelTooLow,
        code: "DEMARCHE-LEVEL",
        status: 403,
        title: ["Niveau insuffisant", "Level too low"],
        message: [
            "Cette démarche demande un niveau d'identification plus élevé que celui de votre connexion.",
            "This procedure needs a higher level of assurance than your login's.",
        ],
    },
    Entry {
        error: DemarcheError::Unavailable,
        code: "DEMARCHE-UNAVAILABLE",
        status: 503,
        title: ["Service indisponible", "Service unavailable"],
        message: [
            "Votre démarche n'a pas pu être lue ou enregistrée. Rien n'a été perdu de ce qui était déjà enregistré ; réessayez dans quelques minutes.",
            "Your procedure could not be read or saved. Nothing already saved was lost; try again in a few minutes.",
        ],
    },
    Entry {
        error: DemarcheError::UnknownProcedure,
        code: "DEMARCHE-UNKNOWN",
        status: 404,
        title: ["Démarche inconnue", "Unknown procedure"],
        message: [
            "Ce service ne propose pas cette démarche.",
            "This service does not offer this procedure.",
        ],
    },
    Entry {
        error: DemarcheError::DossierNotFound,
        code: "DEMARCHE-DOSSIER",
        status: 404,
        title: ["Dossier introuvable", "File not found"],
        message: [
            "Ce dossier n'existe pas ou n'est pas le vôtre.",
            "This file does not exist or is not yours.",
        ],
    },
    Entry {
        error: DemarcheError::UnknownAction,
        code: "DEMARCHE-ACTION",
        status: 400,
        title: ["Action inconnue", "Unknown action"],
        message: [
            "Ce formulaire ne sait pas faire cela.",
            "This form cannot do that.",
        ],
    },
    Entry {
        error: DemarcheError::SpaceNotFound,
        code: "DEMARCHE-SPACE",
        status: 404,
        title: ["Espace introuvable", "Space not found"],
        message: ["Cet espace n'existe pas.", "This space does not exist."],
    },
    Entry {
        error: DemarcheError::LetterNotFound,
        code: "DEMARCHE-LETTER",
        status: 404,
        title: ["Lettre introuvable", "Letter not found"],
        message: [
            "Ce lien ne correspond à aucune lettre recommandée. Vérifiez qu'il est complet.",
            "This link leads to no registered letter. Check that it is whole.",
        ],
    },
    Entry {
        error: DemarcheError::NotTheRecipient,
        code: "DEMARCHE-RECIPIENT",
        status: 403,
        title: [
            "Cette lettre ne vous est pas adressée",
            "This letter is not addressed to you",
        ],
        message: [
            "La personne identifiée n'est pas le destinataire de cette lettre : elle ne peut ni la lire ni en accuser réception.",
            "The person identified is not this letter's recipient: they can neither read it nor acknowledge it.",
        ],
    },
    Entry {
        error: DemarcheError::UnknownAnswer,
        code: "DEMARCHE-ANSWER",
        status: 400,
        title: ["Réponse inconnue", "Unknown answer"],
        message: [
            "Acceptez ou refusez la lettre.",
            "Accept or refuse the letter.",
        ],
    },
    Entry {
        error: DemarcheError::TooMany,
        code: "DEMARCHE-RATE",
        status: 429,
        title: ["Trop de demandes", "Too many requests"],
        message: [
            "Trop de demandes ont été faites depuis votre adresse. Réessayez dans une minute.",
            "Too many requests were made from your address. Try again in a minute.",
        ],
    },
];
