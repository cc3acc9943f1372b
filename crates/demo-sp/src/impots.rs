//! The tax return in 5 steps (standard platform, eidas1), as the documents
//! tell it: préalable, renseignements personnels (from the identity),
//! revenus et charges, résumé et signature, fin; the online deadline by
//! département of residence; an acknowledgement of receipt at the end.

use axum::http::StatusCode;
use axum::response::Response;
use oidc::Acr;
use store::{Dossier, DossierStatus};
use web::Session;

use crate::demarche::{
    Demarche, Service, User, Visit, account_section, dossier_kind, with_answers,
};
use crate::demarche::{level_too_low, no_routes};
use crate::form::{Check, Content, Field, Procedure, Step};
use crate::view::{Action, Notice, Section, Sheet};

/// The tax return in 5 steps (eidas1).
pub static IMPOTS: Service = Service {
    path: "impots",
    name: "impots.gouv (démo) — Votre espace particulier",
    summary: "La déclaration des revenus en 5 étapes, avec la date limite de votre département et un accusé de réception.",
    level: Acr::Eidas1,
    login_level: Acr::Eidas1,
    procedures: std::slice::from_ref(&DECLARATION),
    routes: no_routes,
    home: |demarche, session, user| Box::pin(home(demarche, session, user)),
    receipt,
    notices,
    on_file: |demarche, user, dossier, content, _| {
        Box::pin(on_file(demarche, user, dossier, content))
    },
    level_too_low,
};

static PRELIMINARY: [Field; 5] = [
    Field::line(
        "revenu_fiscal_de_reference",
        "Revenu fiscal de référence de l'an dernier",
        Check::Euros,
    )
    .hint("Transmis par l'administration fiscale quand vous l'acceptez à la connexion")
    .typed("numeric", "off")
    .filled_by("revenu_fiscal_de_reference")
    .optional(),
    Field::line("parts", "Nombre de parts du foyer", Check::Text(5))
        .hint("Transmis par l'administration fiscale quand vous l'acceptez à la connexion")
        .typed("text", "off")
        .filled_by("nombre_de_parts")
        .optional(),
    Field::select(
        "situation",
        "Situation de famille au 1er janvier",
        &[
            ("celibataire", "Célibataire"),
            ("marie", "Marié(e)"),
            ("pacse", "Pacsé(e)"),
            ("divorce", "Divorcé(e) ou séparé(e)"),
            ("veuf", "Veuf ou veuve"),
        ],
    )
    .filled_by("situation_de_famille"),
    Field::select(
        "changement",
        "Changement de situation l'an dernier",
        &[
            ("aucun", "Aucun"),
            ("mariage", "Mariage ou Pacs"),
            ("divorce", "Divorce, séparation ou rupture du Pacs"),
            ("deces", "Décès du conjoint"),
        ],
    ),
    Field::line("personnes_a_charge", "Personnes à charge", Check::Count(20))
        .hint("Enfants mineurs ou handicapés, personnes invalides vivant sous votre toit")
        .typed("numeric", "off"),
];

static PERSONAL: [Field; 8] = [
    Field::line("nom", "Nom de naissance", Check::Name).filled_by("family_name"),
    Field::line("prenoms", "Prénoms", Check::Name).filled_by("given_name"),
    Field::date("date_naissance", "Date de naissance", Check::PastDate).filled_by("birthdate"),
    Field::line("lieu_naissance", "Lieu de naissance (code INSEE)", Check::Text(10))
        .filled_by("birthplace"),
    Field::line("adresse", "Adresse au 1er janvier", Check::Text(120))
        .typed("text", "street-address"),
    Field::line("code_postal", "Code postal", Check::PostalCode).typed("numeric", "postal-code"),
    Field::line("commune", "Commune", Check::Name).typed("text", "address-level2"),
    Field::line("departement", "Département de résidence", Check::Departement)
        .hint("Son numéro : 01 à 95, 2A, 2B, 971 à 976 ; 99 si vous ne résidez pas en France. Il fixe votre date limite.")
        .typed("text", "off"),
];

static INCOME: [Field; 5] = [
    Field::line(
        "salaires",
        "Traitements et salaires (case 1AJ)",
        Check::Euros,
    )
    .hint("En euros, sans centimes ; 0 si vous n'en avez pas")
    .typed("numeric", "off"),
    Field::line("pensions", "Pensions et retraites (case 1AS)", Check::Euros)
        .typed("numeric", "off")
        .optional(),
    Field::line(
        "fonciers",
        "Revenus fonciers, micro-foncier (case 4BE)",
        Check::Euros,
    )
    .typed("numeric", "off")
    .optional(),
    Field::line("dons", "Dons aux associations (case 7UF)", Check::Euros)
        .typed("numeric", "off")
        .optional(),
    Field::line(
        "garde",
        "Frais de garde des enfants de moins de 6 ans (case 7GA)",
        Check::Euros,
    )
    .typed("numeric", "off")
    .optional(),
];

static SIGNATURE: [Field; 1] = [Field::tick(
    "signature",
    "Je signe ma déclaration : je certifie l'exactitude des informations déclarées.",
)];

/// The tax return.
pub static DECLARATION: Procedure = Procedure {
    kind: "declaration",
    title: "Déclaration des revenus",
    steps: &[
        Step {
            title: "Étape préalable",
            intro: "Votre situation, avant de commencer.",
            fields: &PRELIMINARY,
        },
        Step {
            title: "Renseignements personnels",
            intro: "Vérifiez votre état civil et indiquez votre adresse.",
            fields: &PERSONAL,
        },
        Step {
            title: "Revenus et charges",
            intro: "Vos revenus de l'an dernier et les charges qui ouvrent droit à une réduction d'impôt.",
            fields: &INCOME,
        },
        Step {
            title: "Résumé et signature",
            intro: "Relisez votre déclaration, puis signez-la.",
            fields: &SIGNATURE,
        },
    ],
    submit: "Signer ma déclaration",
    done_step: Some("Fin de déclaration"),
    yearly: true,
};

/// The online deadlines, by départements (the document's table): the day
/// in May or June, and who it is for.
const DEADLINES: [(i64, i64, &str); 3] = [
    (5, 26, "départements 01 à 19 et non-résidents"),
    (6, 1, "départements 20 à 54"),
    (6, 8, "départements 55 à 976"),
];

/// Which deadline a département has (an index of [`DEADLINES`]).
fn deadline_of(departement: &str) -> Option<usize> {
    match departement {
        "99" => Some(0),
        "2A" | "2B" => Some(1),
        code => match code.parse::<u32>().ok()? {
            1..=19 => Some(0),
            20..=54 => Some(1),
            55..=976 => Some(2),
            _ => None,
        },
    }
}

/// `mardi 1 juin 2027 à 23 h 59`.
fn deadline_text(year: i64, index: usize) -> Option<(String, &'static str)> {
    let (month, day, who) = DEADLINES.get(index)?;
    let at = mail::paris_instant(year, *month, *day, 23, 59);
    Some((format!("{} à 23 h 59", mail::french_date(at)), *who))
}

/// The year the return is filed in.
fn filing_year(demarche: &Demarche) -> i64 {
    mail::paris_year(demarche.clock.now())
}

/// Above each step: the deadline, the citizen's once the département is
/// known.
pub fn notices(demarche: &Demarche, content: &Content) -> Vec<Notice> {
    let year = filing_year(demarche);
    match deadline_of(content.answer("departement")).and_then(|index| deadline_text(year, index)) {
        Some((when, who)) => vec![Notice::info(format!(
            "Votre date limite de déclaration en ligne : {when} ({who})."
        ))],
        None => vec![Notice::info(
            "La date limite de déclaration en ligne dépend de votre département de résidence : vous la verrez dès qu'il sera indiqué.",
        )],
    }
}

/// The deadlines' table.
fn deadlines_section(year: i64) -> Section {
    let mut section = Section::new(format!("Dates limites de déclaration en ligne en {year}"));
    for index in 0..DEADLINES.len() {
        if let Some((when, who)) = deadline_text(year, index) {
            section = section.row(who, when);
        }
    }
    section
}

/// The particular's space: the return of the year, where it stands.
pub async fn home(demarche: &Demarche, session: &Session<Visit>, user: &User) -> Response {
    let mine = match demarche.dossiers_of(user).await {
        Ok(mine) => mine,
        Err(error) => return demarche.failure(&error),
    };
    let year = filing_year(demarche);
    let kind = dossier_kind(demarche, &DECLARATION);
    let this_year = mine.iter().find(|dossier| dossier.kind == kind);
    let mut declare = Section::new(format!("Déclarer mes revenus de {}", year - 1));
    declare = match this_year {
        Some(dossier) if dossier.status == DossierStatus::Submitted => declare
            .says(format!(
                "Votre déclaration a été déposée le {}.",
                mail::french_datetime(dossier.updated_at)
            ))
            .action(Action::go(
                demarche.path(&format!("/dossier/{}", dossier.id)),
                "Voir l'accusé de réception",
            )),
        Some(dossier) => declare
            .says(format!(
                "Votre déclaration est commencée, enregistrée le {}.",
                mail::french_datetime(dossier.updated_at)
            ))
            .action(Action::go(
                demarche.path(&format!("/dossier/{}", dossier.id)),
                "Reprendre ma déclaration",
            )),
        None => declare
            .says("Vérifiez les informations déjà renseignées, puis suivez les 5 étapes : préalable, renseignements personnels, revenus et charges, résumé et signature, fin de déclaration.")
            .action(Action::post(
                demarche.path("/commencer/declaration"),
                "Accéder à la déclaration en ligne",
            )),
    };
    let sheet = Sheet::new("Votre espace particulier", session.csrf_token())
        .section(declare)
        .section(deadlines_section(year))
        .section(account_section(demarche, user));
    demarche.page(&sheet, StatusCode::OK)
}

/// Step 5: the acknowledgement of receipt.
pub fn receipt(
    demarche: &Demarche,
    session: &Session<Visit>,
    dossier: &Dossier,
    content: &Content,
    procedure: &Procedure,
) -> Sheet {
    let mut sheet = Sheet::new("Fin de déclaration", session.csrf_token())
        .lead(format!(
            "Étape {0} sur {0} — votre déclaration est transmise à l'administration fiscale.",
            procedure.step_names().len()
        ))
        .section(
            Section::new("Accusé de réception")
                .row("Numéro", dossier.id.clone())
                .row("Déposée le", mail::french_datetime(dossier.updated_at))
                .row("Déclarant", format!("{} {}", content.answer("prenoms"), content.answer("nom")))
                .says("Conservez ce numéro. Votre avis d'impôt sera disponible dans votre espace particulier durant l'été ; vous pouvez corriger votre déclaration en ligne d'ici là."),
        );
    sheet = with_answers(sheet, content, procedure);
    sheet.section(
        Section::default().action(Action::go_also(demarche.path("/"), "Retour à mon espace")),
    )
}

/// Mails the acknowledgement of receipt.
pub async fn on_file(demarche: &Demarche, user: &User, dossier: &Dossier, _content: &Content) {
    let Some(email) = user.claim("email") else {
        return;
    };
    let text = format!(
        "Bonjour {},\n\nVotre déclaration des revenus est déposée : accusé de réception n° {}, le {}.\nRetrouvez-la dans votre espace particulier : {}/dossier/{}\n",
        user.name(),
        dossier.id,
        mail::french_datetime(demarche.clock.now()),
        demarche.base_url,
        dossier.id,
    );
    demarche
        .mail(
            &email,
            "Accusé de réception de votre déclaration des revenus",
            text,
        )
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_follows_the_departement_as_in_the_document() {
        assert_eq!(deadline_of("01"), Some(0));
        assert_eq!(deadline_of("19"), Some(0));
        assert_eq!(deadline_of("99"), Some(0));
        assert_eq!(deadline_of("2A"), Some(1));
        assert_eq!(deadline_of("54"), Some(1));
        assert_eq!(deadline_of("55"), Some(2));
        assert_eq!(deadline_of("976"), Some(2));
        assert_eq!(deadline_of(""), None);
        // 2021, the document's year: Wednesday 26 May, Tuesday 1 and 8 June.
        assert_eq!(
            deadline_text(2021, 0).map(|(when, _)| when),
            Some("mercredi 26 mai 2021 à 23 h 59".to_owned())
        );
        assert_eq!(
            deadline_text(2021, 1).map(|(when, _)| when),
            Some("mardi 1 juin 2021 à 23 h 59".to_owned())
        );
        assert_eq!(
            deadline_text(2021, 2).map(|(when, _)| when),
            Some("mardi 8 juin 2021 à 23 h 59".to_owned())
        );
    }
}
