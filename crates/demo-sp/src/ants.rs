//! The ANTS-style space (standard platform, eidas1): « Mon espace
//! Conducteur / Identité / Véhicule », each with its démarche (driving
//! licence, ID card or passport pre-application, vehicle registration), a
//! form in steps filled in from the identity, drafts, one démarche of a
//! kind in progress. Logged in through the hub or with the ANTS account.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use oidc::Acr;
use store::{Dossier, DossierStatus};
use web::Session;

use crate::demarche::{
    Demarche, Service, User, Visit, account_section, require_user, with_answers,
};
use crate::demarche::{level_too_low, no_notices};
use crate::errors::DemarcheError;
use crate::form::{Check, Content, Field, Procedure, Step};
use crate::view::{Action, Notice, Section, Sheet};

/// The ANTS-style space: driving licence, ID card or passport, vehicle
/// registration (eidas1).
pub static ANTS: Service = Service {
    path: "ants",
    name: "ANTS (démo) — Agence nationale des titres sécurisés",
    summary: "Permis de conduire, pré-demande de carte d'identité ou de passeport, certificat d'immatriculation : un formulaire en plusieurs étapes, enregistré en brouillon.",
    level: Acr::Eidas1,
    login_level: Acr::Eidas1,
    procedures: &PROCEDURES,
    routes,
    home: |demarche, session, user| Box::pin(home(demarche, session, user)),
    receipt,
    notices: no_notices,
    on_file: |demarche, user, dossier, content, procedure| {
        Box::pin(on_file(demarche, user, dossier, content, procedure))
    },
    level_too_low,
};

const GENDERS: &[(&str, &str)] = &[("female", "Féminin"), ("male", "Masculin")];

/// The identity, as the hub or the account gave it.
static IDENTITY: [Field; 5] = [
    Field::line("nom", "Nom de naissance", Check::Name).filled_by("family_name"),
    Field::line("prenoms", "Prénoms", Check::Name).filled_by("given_name"),
    Field::date("date_naissance", "Date de naissance", Check::PastDate).filled_by("birthdate"),
    Field::line(
        "lieu_naissance",
        "Lieu de naissance (code INSEE)",
        Check::Text(10),
    )
    .filled_by("birthplace"),
    Field::select("sexe", "Sexe", GENDERS).filled_by("gender"),
];

static CONTACT: [Field; 5] = [
    Field::line("adresse", "Adresse", Check::Text(120))
        .hint("Numéro et voie, exemple : 12 rue des Lilas")
        .typed("text", "street-address"),
    Field::line("code_postal", "Code postal", Check::PostalCode).typed("numeric", "postal-code"),
    Field::line("commune", "Commune", Check::Name).typed("text", "address-level2"),
    Field::line("email", "Adresse électronique", Check::Email)
        .typed("email", "email")
        .filled_by("email"),
    Field::line("telephone", "Téléphone portable", Check::Phone)
        .typed("tel", "tel")
        .optional(),
];

static LICENCE: [Field; 3] = [
    Field::select(
        "motif",
        "Motif de la demande",
        &[
            ("premiere", "Première demande (après l'examen)"),
            ("renouvellement", "Renouvellement (fin de validité)"),
            ("perte", "Perte"),
            ("vol", "Vol"),
            ("deterioration", "Détérioration"),
        ],
    ),
    Field::select(
        "categorie",
        "Catégorie",
        &[
            ("B", "B — voiture"),
            ("A2", "A2 — moto"),
            ("A", "A — moto"),
            ("AM", "AM — cyclomoteur"),
            ("C", "C — poids lourd"),
            ("D", "D — transport de personnes"),
        ],
    ),
    Field::line("code_photo", "Code photo", Check::PhotoCode)
        .hint("22 lettres et chiffres, imprimés sur la planche de photos d'identité faite dans une cabine ou chez un photographe agréé ANTS.")
        .typed("text", "off"),
];

static TITLE: [Field; 4] = [
    Field::select(
        "titre",
        "Titre demandé",
        &[
            ("cni", "Carte nationale d'identité"),
            ("passeport", "Passeport"),
            ("les-deux", "Carte d'identité et passeport"),
        ],
    ),
    Field::select(
        "motif",
        "Motif de la demande",
        &[
            ("premiere", "Première demande"),
            ("renouvellement", "Renouvellement"),
            ("perte", "Perte"),
            ("vol", "Vol"),
        ],
    ),
    Field::line("taille", "Taille (en cm)", Check::Height).typed("numeric", "off"),
    Field::select(
        "yeux",
        "Couleur des yeux",
        &[
            ("marron", "Marron"),
            ("bleu", "Bleu"),
            ("vert", "Vert"),
            ("gris", "Gris"),
            ("noisette", "Noisette"),
            ("noir", "Noir"),
        ],
    ),
];

static VEHICLE: [Field; 4] = [
    Field::select(
        "operation",
        "Démarche",
        &[
            (
                "changement-titulaire",
                "Changement de titulaire (achat d'un véhicule d'occasion)",
            ),
            ("changement-adresse", "Changement d'adresse"),
            ("duplicata", "Duplicata (perte, vol, détérioration)"),
        ],
    ),
    Field::line("immatriculation", "Numéro d'immatriculation", Check::Plate)
        .hint("Au format AA-123-AA")
        .typed("text", "off"),
    Field::line("vin", "Numéro d'identification du véhicule", Check::Vin)
        .hint("17 caractères, repère E du certificat d'immatriculation")
        .typed("text", "off"),
    Field::date(
        "date_achat",
        "Date d'achat ou de changement",
        Check::PastDate,
    ),
];

static CERTIFY: [Field; 1] = [Field::tick(
    "certifie",
    "Je certifie l'exactitude des informations de cette demande.",
)];

const SUMMARY: &str = "Vérifiez votre demande avant de la valider.";

/// The ANTS space's démarches.
pub static PROCEDURES: [Procedure; 3] = [
    Procedure {
        kind: "permis",
        title: "Demande de permis de conduire",
        steps: &[
            Step {
                title: "Identité",
                intro: "Votre identité, transmise lors de votre connexion.",
                fields: &IDENTITY,
            },
            Step {
                title: "Coordonnées",
                intro: "Où vous joindre et où envoyer votre permis.",
                fields: &CONTACT,
            },
            Step {
                title: "La demande",
                intro: "Le permis demandé et votre photo numérique.",
                fields: &LICENCE,
            },
            Step {
                title: "Récapitulatif",
                intro: SUMMARY,
                fields: &CERTIFY,
            },
        ],
        submit: "Valider ma demande",
        done_step: None,
        yearly: false,
    },
    Procedure {
        kind: "titre",
        title: "Pré-demande de carte d'identité ou de passeport",
        steps: &[
            Step {
                title: "Identité",
                intro: "Votre identité, transmise lors de votre connexion.",
                fields: &IDENTITY,
            },
            Step {
                title: "Coordonnées",
                intro: "Où vous joindre.",
                fields: &CONTACT,
            },
            Step {
                title: "La demande",
                intro: "Le titre demandé et votre signalement.",
                fields: &TITLE,
            },
            Step {
                title: "Récapitulatif",
                intro: SUMMARY,
                fields: &CERTIFY,
            },
        ],
        submit: "Valider ma pré-demande",
        done_step: None,
        yearly: false,
    },
    Procedure {
        kind: "immatriculation",
        title: "Demande de certificat d'immatriculation",
        steps: &[
            Step {
                title: "Identité",
                intro: "Votre identité, transmise lors de votre connexion.",
                fields: &IDENTITY,
            },
            Step {
                title: "Coordonnées",
                intro: "L'adresse qui figurera sur le certificat.",
                fields: &CONTACT,
            },
            Step {
                title: "Le véhicule",
                intro: "Le véhicule et la démarche.",
                fields: &VEHICLE,
            },
            Step {
                title: "Récapitulatif",
                intro: SUMMARY,
                fields: &CERTIFY,
            },
        ],
        submit: "Valider ma demande",
        done_step: None,
        yearly: false,
    },
];

/// The three spaces: (path, name, the procedure's kind, the start button).
const SPACES: [(&str, &str, &str, &str); 3] = [
    (
        "conducteur",
        "Mon espace Conducteur",
        "permis",
        "Faire une demande de permis de conduire",
    ),
    (
        "identite",
        "Mon espace Identité",
        "titre",
        "Faire une pré-demande de carte d'identité ou de passeport",
    ),
    (
        "vehicule",
        "Mon espace Véhicule",
        "immatriculation",
        "Faire une demande de certificat d'immatriculation",
    ),
];

/// The ANTS space's own routes.
pub fn routes(base: &str) -> Router<Arc<Demarche>> {
    Router::new().route(&format!("{base}/espace/{{space}}"), get(space))
}

/// The logged-in home: the three spaces, with what is in progress in each.
pub async fn home(demarche: &Demarche, session: &Session<Visit>, user: &User) -> Response {
    let mine = match demarche.dossiers_of(user).await {
        Ok(mine) => mine,
        Err(error) => return demarche.failure(&error),
    };
    let mut sheet = Sheet::new("Mon espace", session.csrf_token()).lead(
        "Vos démarches de titres : permis de conduire, pièces d'identité, certificats d'immatriculation.",
    );
    for (path, name, kind, start) in SPACES {
        let in_progress = mine
            .iter()
            .filter(|dossier| dossier.kind == kind && dossier.status == DossierStatus::Draft)
            .count();
        let mut section =
            Section::new(name).action(Action::go(demarche.path(&format!("/espace/{path}")), name));
        section = if in_progress > 0 {
            section.says("Une démarche est en cours : retrouvez-la dans cet espace.")
        } else {
            section.action(Action::post_also(
                demarche.path(&format!("/commencer/{kind}")),
                start,
            ))
        };
        sheet = sheet.section(section);
    }
    demarche.page(
        &sheet.section(account_section(demarche, user)),
        StatusCode::OK,
    )
}

async fn space(
    State(demarche): State<Arc<Demarche>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = demarche.visit(&headers).await;
    let here = demarche.path(&format!("/espace/{path}"));
    let (session, user) = match require_user(&demarche, session, &here).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let Some((_, name, kind, start)) = SPACES.iter().find(|(space, ..)| *space == path) else {
        return demarche.refuse(DemarcheError::SpaceNotFound);
    };
    let mine = match demarche.dossiers_of(&user).await {
        Ok(mine) => mine,
        Err(error) => return demarche.failure(&error),
    };
    let ours = || mine.iter().filter(|dossier| dossier.kind == *kind);
    let mut sheet = Sheet::new(*name, session.csrf_token());
    let mut current = Section::new("Démarche en cours");
    for draft in ours().filter(|dossier| dossier.status == DossierStatus::Draft) {
        current.items.push((
            format!("Reprendre la démarche {}", draft.id),
            Some(demarche.path(&format!("/dossier/{}", draft.id))),
            Some(format!(
                "commencée le {}, enregistrée le {}",
                mail::french_date(draft.created_at),
                mail::french_datetime(draft.updated_at)
            )),
        ));
    }
    if current.items.is_empty() {
        current = current.says("Aucune démarche en cours.");
    }
    sheet = sheet.section(current.action(Action::post(
        demarche.path(&format!("/commencer/{kind}")),
        *start,
    )));
    let mut filed = Section::new("Démarches déposées");
    for dossier in ours().filter(|dossier| dossier.status == DossierStatus::Submitted) {
        filed.items.push((
            format!("Demande {}", dossier.id),
            Some(demarche.path(&format!("/dossier/{}", dossier.id))),
            Some(format!(
                "déposée le {}",
                mail::french_datetime(dossier.updated_at)
            )),
        ));
    }
    if filed.items.is_empty() {
        filed = filed.says("Aucune démarche déposée.");
    }
    let sheet = sheet.section(filed).section(
        Section::default().action(Action::go_also(demarche.path("/"), "Retour à mon espace")),
    );
    demarche.page(&sheet, StatusCode::OK)
}

/// A filed demand: its number, what it says, what comes next.
pub fn receipt(
    demarche: &Demarche,
    session: &Session<Visit>,
    dossier: &Dossier,
    content: &Content,
    procedure: &Procedure,
) -> Sheet {
    let next = match procedure.kind {
        "titre" => {
            "Prenez rendez-vous dans une mairie équipée d'un dispositif de recueil, avec ce numéro de pré-demande, vos justificatifs et votre photo d'identité."
        }
        "permis" => {
            "Votre demande est transmise au service instructeur. Vous serez informé par courriel de son avancement, puis de l'envoi de votre permis."
        }
        _ => {
            "Votre demande est transmise. Vous recevrez votre certificat d'immatriculation par courrier ; en attendant, imprimez ce récapitulatif."
        }
    };
    let mut sheet = Sheet::new(
        format!("{} enregistrée", procedure.title),
        session.csrf_token(),
    )
    .notice(Notice::info(format!(
        "Votre demande est enregistrée sous le numéro {} le {}.",
        dossier.id,
        mail::french_datetime(dossier.updated_at)
    )))
    .section(Section::new("Et maintenant ?").says(next));
    sheet = with_answers(sheet, content, procedure);
    sheet.section(
        Section::default().action(Action::go_also(demarche.path("/"), "Retour à mon espace")),
    )
}

/// Mails the demand's number to the citizen.
pub async fn on_file(
    demarche: &Demarche,
    user: &User,
    dossier: &Dossier,
    content: &Content,
    procedure: &Procedure,
) {
    let text = format!(
        "Bonjour {},\n\nVotre démarche « {} » est enregistrée sous le numéro {}.\nVous pouvez la consulter dans votre espace : {}/dossier/{}\n",
        user.name(),
        procedure.title,
        dossier.id,
        demarche.base_url,
        dossier.id,
    );
    demarche
        .mail(
            content.answer("email"),
            &format!("{} : demande {}", procedure.title, dossier.id),
            text,
        )
        .await;
}
