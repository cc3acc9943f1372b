//! The voting proxy (plus platform, eidas3): given fully online only with
//! an identity certified at a town hall. A lower level gets a clear
//! explanation, a link to certification and a way to log in again at
//! eidas3 through the hub (step-up).

use axum::http::StatusCode;
use axum::response::Response;
use oidc::Acr;
use store::{Dossier, DossierStatus};
use web::Session;

use crate::demarche::{
    Demarche, Service, User, Visit, account_section, level_refusal, with_answers,
};
use crate::demarche::{no_notices, no_routes};
use crate::form::{Check, Content, Field, Procedure, Step};
use crate::view::{Action, Notice, Section, Sheet};

/// The voting proxy (eidas3: a certified identity); its login asks eidas2
/// first, explains when it is not enough, then steps up.
pub static PROCURATION: Service = Service {
    path: "procuration",
    name: "Ma procuration (démo)",
    summary: "Donner procuration de vote entièrement en ligne : il faut une identité numérique certifiée en mairie.",
    level: Acr::Eidas3,
    login_level: Acr::Eidas2,
    procedures: std::slice::from_ref(&PROXY),
    routes: no_routes,
    home: |demarche, session, user| Box::pin(home(demarche, session, user)),
    receipt,
    notices: no_notices,
    on_file: |demarche, user, dossier, content, _| {
        Box::pin(on_file(demarche, user, dossier, content))
    },
    level_too_low,
};

static GRANTOR: [Field; 5] = [
    Field::line("nom", "Nom de naissance", Check::Name).filled_by("family_name"),
    Field::line("prenoms", "Prénoms", Check::Name).filled_by("given_name"),
    Field::date("date_naissance", "Date de naissance", Check::PastDate).filled_by("birthdate"),
    Field::line(
        "lieu_naissance",
        "Lieu de naissance (code INSEE)",
        Check::Text(10),
    )
    .filled_by("birthplace"),
    Field::line("commune_vote", "Commune où vous votez", Check::Name)
        .hint("Celle de votre inscription sur les listes électorales")
        .typed("text", "address-level2"),
];

static PROXY_HOLDER: [Field; 4] = [
    Field::line("mandataire_prenom", "Prénom du mandataire", Check::Name),
    Field::line("mandataire_nom", "Nom de naissance du mandataire", Check::Name),
    Field::date(
        "mandataire_naissance",
        "Date de naissance du mandataire",
        Check::PastDate,
    ),
    Field::line(
        "mandataire_nne",
        "Numéro national d'électeur du mandataire",
        Check::VoterNumber,
    )
    .hint("Il figure sur sa carte électorale, ou sur service-public.fr « Interroger sa situation électorale ».")
    .typed("numeric", "off"),
];

static SPAN: [Field; 2] = [
    Field::select(
        "portee",
        "Pour quels scrutins ?",
        &[
            ("scrutin", "Un scrutin (les deux tours)"),
            ("duree", "Tous les scrutins jusqu'à une date"),
        ],
    ),
    Field::date(
        "date_fin",
        "Date du scrutin, ou de fin de la procuration",
        Check::FutureDate(366),
    )
    .hint("Un an au plus à partir d'aujourd'hui"),
];

static CONFIRM: [Field; 1] = [Field::tick(
    "certifie",
    "Je certifie sur l'honneur ne pas pouvoir voter en personne et que les informations données sont exactes.",
)];

/// The voting proxy.
pub static PROXY: Procedure = Procedure {
    kind: "procuration",
    title: "Procuration de vote",
    steps: &[
        Step {
            title: "Vous, le mandant",
            intro: "Votre identité, certifiée, et votre commune de vote.",
            fields: &GRANTOR,
        },
        Step {
            title: "Votre mandataire",
            intro: "L'électeur qui votera à votre place.",
            fields: &PROXY_HOLDER,
        },
        Step {
            title: "Durée",
            intro: "Pour un scrutin ou jusqu'à une date.",
            fields: &SPAN,
        },
        Step {
            title: "Vérifier et valider",
            intro: "Relisez votre procuration avant de la valider.",
            fields: &CONFIRM,
        },
    ],
    submit: "Valider ma procuration",
    done_step: None,
    yearly: false,
};

/// The page for a level under eidas3: why, how to get a certified
/// identity, and the step-up.
pub fn level_too_low(demarche: &Demarche, session: &Session<Visit>, user: &User) -> Response {
    let mut how = Section::new("Comment faire ?")
        .says("1. Créez votre identité numérique dans l'application du portefeuille, avec votre carte d'identité au format carte bancaire et votre code personnel.")
        .says("2. Demandez sa certification dans l'application, puis présentez-vous dans une mairie équipée avec votre carte et le QR code affiché : un agent compare vos empreintes à celles de la puce.")
        .says("3. Vous recevez le résultat par courriel sous 48 heures. Revenez alors ici et reconnectez-vous avec votre identité certifiée.");
    if let Some(url) = &demarche.settings.certification_url {
        how.items.push((
            "Faire certifier mon identité numérique".into(),
            Some(url.clone()),
            Some("la démarche en mairie, pas à pas".into()),
        ));
    }
    let how = how.action(Action::go(
        demarche.path("/niveau-superieur"),
        "Me reconnecter avec une identité certifiée",
    ));
    let sheet = Sheet::new("Une identité certifiée est nécessaire", session.csrf_token())
        .notice(Notice::alert(format!(
            "Pour donner procuration entièrement en ligne, vous devez vous identifier avec une identité numérique certifiée en mairie (niveau {}). Vous êtes connecté au niveau {} : cela ne suffit pas pour cette démarche.",
            demarche.service.level,
            user.acr
        )))
        .section(how)
        .section(
            Section::new("Sans identité certifiée")
                .says("Vous pouvez aussi faire votre demande en ligne puis la faire valider en personne dans un commissariat, une gendarmerie ou un consulat."),
        )
        .section(account_section(demarche, user));
    demarche.page(&sheet, StatusCode::FORBIDDEN)
}

/// The grantor's proxies.
pub async fn home(demarche: &Demarche, session: &Session<Visit>, user: &User) -> Response {
    if let Some(refusal) = level_refusal(demarche, session, user) {
        return refusal;
    }
    let mine = match demarche.dossiers_of(user).await {
        Ok(mine) => mine,
        Err(error) => return demarche.failure(&error),
    };
    let mut proxies = Section::new("Mes procurations");
    for dossier in &mine {
        let text = match dossier.status {
            DossierStatus::Draft => format!("Procuration en cours de saisie ({})", dossier.id),
            DossierStatus::Submitted => format!("Procuration {}", dossier.id),
        };
        proxies.items.push((
            text,
            Some(demarche.path(&format!("/dossier/{}", dossier.id))),
            Some(format!("le {}", mail::french_datetime(dossier.updated_at))),
        ));
    }
    if proxies.items.is_empty() {
        proxies = proxies.says("Vous n'avez donné aucune procuration.");
    }
    let sheet = Sheet::new("Donner procuration", session.csrf_token())
        .lead("Votre identité est certifiée : votre procuration est établie entièrement en ligne, sans passage au commissariat.")
        .section(proxies.action(Action::post(
            demarche.path("/commencer/procuration"),
            "Donner une procuration",
        )))
        .section(account_section(demarche, user));
    demarche.page(&sheet, StatusCode::OK)
}

/// A proxy given.
pub fn receipt(
    demarche: &Demarche,
    session: &Session<Visit>,
    dossier: &Dossier,
    content: &Content,
    procedure: &Procedure,
) -> Sheet {
    let mut sheet = Sheet::new("Procuration établie", session.csrf_token()).notice(Notice::info(format!(
        "Votre procuration n° {} est établie le {}. Votre mairie et votre mandataire, {} {}, en sont informés.",
        dossier.id,
        mail::french_datetime(dossier.updated_at),
        content.answer("mandataire_prenom"),
        content.answer("mandataire_nom"),
    )));
    sheet = with_answers(sheet, content, procedure);
    sheet.section(Section::default().action(Action::go_also(
        demarche.path("/"),
        "Retour à mes procurations",
    )))
}

/// Mails the receipt.
pub async fn on_file(demarche: &Demarche, user: &User, dossier: &Dossier, content: &Content) {
    let Some(email) = user.claim("email") else {
        return;
    };
    let text = format!(
        "Bonjour {},\n\nVotre procuration n° {} est établie : {} {} votera pour vous à {}.\nElle a été donnée avec votre identité numérique certifiée (niveau {}).\n",
        user.name(),
        dossier.id,
        content.answer("mandataire_prenom"),
        content.answer("mandataire_nom"),
        content.answer("commune_vote"),
        user.acr,
    );
    demarche
        .mail(&email, "Votre procuration de vote est établie", text)
        .await;
}
