//! The registered electronic letter (plus platform, eidas2): the sender
//! composes and sends it; the recipient is told by mail, identifies
//! through the hub, and accepts or refuses it; each step is time-stamped,
//! and the sender sees the acknowledgement.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use oidc::Acr;
use oidc::types::{constant_time_eq, random_token};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::{Dossier, DossierStatus};
use web::Session;

use crate::demarche::{
    Demarche, Service, User, Visit, account_section, expired_form, require_user,
};
use crate::demarche::{level_too_low, no_notices};
use crate::errors::DemarcheError;
use crate::form::{Check, Content, Field, Procedure, Step, parse_body};
use crate::view::{Action, Notice, Section, Sheet};

/// The registered electronic letter (eidas2).
pub static LETTRE: Service = Service {
    path: "lettre",
    name: "Lettre recommandée électronique (démo)",
    summary: "Envoyer une lettre recommandée électronique : dépôt, avis au destinataire, accusé de réception, chaque étape horodatée.",
    level: Acr::Eidas2,
    login_level: Acr::Eidas2,
    procedures: std::slice::from_ref(&LETTER),
    routes,
    home: |demarche, session, user| Box::pin(home(demarche, session, user)),
    receipt: |demarche, session, dossier, content, _| receipt(demarche, session, dossier, content),
    notices: no_notices,
    on_file: |demarche, user, dossier, content, _| {
        Box::pin(on_send(demarche, user, dossier, content))
    },
    level_too_low,
};

/// Days the recipient has to accept or refuse.
const CLAIM_DAYS: i64 = 15;

static COMPOSE: [Field; 5] = [
    Field::line("destinataire_prenom", "Prénom du destinataire", Check::Name).typed("text", "off"),
    Field::line("destinataire_nom", "Nom du destinataire", Check::Name).typed("text", "off"),
    Field::line(
        "destinataire_email",
        "Adresse électronique du destinataire",
        Check::Email,
    )
    .hint("Le destinataire y reçoit l'avis de lettre recommandée.")
    .typed("email", "off"),
    Field::line("objet", "Objet", Check::Text(120)),
    Field::area("message", "Message", 3000).hint(
        "3 000 caractères au plus. Le destinataire ne le lit qu'après avoir accepté la lettre.",
    ),
];

static CONFIRM: [Field; 1] = [Field::tick(
    "confirme",
    "Je confirme l'envoi de cette lettre recommandée électronique.",
)];

/// The letter.
pub static LETTER: Procedure = Procedure {
    kind: "lettre",
    title: "Lettre recommandée électronique",
    steps: &[
        Step {
            title: "Rédiger",
            intro: "Le destinataire et votre lettre.",
            fields: &COMPOSE,
        },
        Step {
            title: "Vérifier et envoyer",
            intro: "Relisez votre lettre avant de l'envoyer : une fois déposée, elle ne se modifie plus.",
            fields: &CONFIRM,
        },
    ],
    submit: "Envoyer la lettre recommandée",
    done_step: None,
    yearly: false,
};

/// The letter's own routes: the recipient's.
pub fn routes(base: &str) -> Router<Arc<Demarche>> {
    Router::new().route(
        &format!("{base}/reception/{{id}}"),
        get(reception).post(decide),
    )
}

fn digest(key: &str) -> String {
    base16ct::lower::encode_string(&Sha256::digest(key.as_bytes()))
}

/// A time among the letter's facts (Unix seconds; 0 when missing).
fn time_of(content: &Content, name: &str) -> i64 {
    content.fact(name).parse().unwrap_or_default()
}

/// When the recipient's days to answer end.
fn claim_deadline(content: &Content) -> i64 {
    time_of(content, "envoyee_le") + CLAIM_DAYS * 86_400
}

/// Where a sent letter stands, in words.
fn status(demarche: &Demarche, content: &Content) -> String {
    let at = |name: &str| mail::french_datetime(time_of(content, name));
    match content.fact("decision") {
        "acceptee" => format!("acceptée le {}", at("decision_le")),
        "refusee" => format!("refusée le {}", at("decision_le")),
        _ if demarche.clock.now() > claim_deadline(content) => {
            "non réclamée dans le délai de 15 jours".into()
        }
        _ => format!(
            "envoyée le {}, en attente du destinataire",
            at("envoyee_le")
        ),
    }
}

/// The sender's letters.
pub async fn home(demarche: &Demarche, session: &Session<Visit>, user: &User) -> Response {
    let mine = match demarche.dossiers_of(user).await {
        Ok(mine) => mine,
        Err(error) => return demarche.failure(&error),
    };
    let mut letters = Section::new("Mes lettres recommandées");
    for dossier in &mine {
        let Ok(content) = serde_json::from_slice::<Content>(&dossier.content) else {
            continue;
        };
        let (text, hint) = match dossier.status {
            DossierStatus::Draft => (
                format!("Brouillon : {}", content.answer("objet")),
                format!(
                    "enregistré le {}",
                    mail::french_datetime(dossier.updated_at)
                ),
            ),
            DossierStatus::Submitted => (
                format!(
                    "{} — à {} {}",
                    content.answer("objet"),
                    content.answer("destinataire_prenom"),
                    content.answer("destinataire_nom")
                ),
                status(demarche, &content),
            ),
        };
        letters.items.push((
            text,
            Some(demarche.path(&format!("/dossier/{}", dossier.id))),
            Some(hint),
        ));
    }
    if letters.items.is_empty() {
        letters = letters.says("Vous n'avez envoyé aucune lettre.");
    }
    let letters = letters.action(Action::post(
        demarche.path("/commencer/lettre"),
        "Écrire une lettre recommandée",
    ));
    let sheet = Sheet::new("Lettre recommandée électronique", session.csrf_token())
        .lead("Une lettre recommandée électronique a la même valeur qu'une lettre recommandée papier : son dépôt, sa remise et son acceptation sont horodatés, et son destinataire est identifié avant de la lire.")
        .section(letters)
        .section(account_section(demarche, user));
    demarche.page(&sheet, StatusCode::OK)
}

/// The time-stamps of a letter.
fn timeline(content: &Content) -> Section {
    let mut section = Section::new("Horodatage");
    for event in &content.events {
        section = section.row(mail::french_datetime(event.at), event.what.clone());
    }
    section
}

/// The sender's view of a letter sent.
pub fn receipt(
    demarche: &Demarche,
    session: &Session<Visit>,
    dossier: &Dossier,
    content: &Content,
) -> Sheet {
    Sheet::new(
        format!("Lettre recommandée {}", dossier.id),
        session.csrf_token(),
    )
    .notice(Notice::info(format!(
        "Lettre {}.",
        status(demarche, content)
    )))
    .section(
        Section::new("Envoi")
            .row(
                "Destinataire",
                format!(
                    "{} {} <{}>",
                    content.answer("destinataire_prenom"),
                    content.answer("destinataire_nom"),
                    content.answer("destinataire_email")
                ),
            )
            .row("Objet", content.answer("objet")),
    )
    .section(timeline(content))
    .section(Section::new("Message").says(content.answer("message")))
    .section(Section::default().action(Action::go_also(demarche.path("/"), "Retour à mes lettres")))
}

/// Sent: the key of the recipient's link, the notice to the recipient.
pub async fn on_send(demarche: &Demarche, user: &User, dossier: &Dossier, content: &mut Content) {
    let now = demarche.clock.now();
    let key = random_token(24);
    content.facts.insert("cle".into(), digest(&key));
    content.facts.insert("envoyee_le".into(), now.to_string());
    content.facts.insert("expediteur".into(), user.name());
    if let Some(email) = user.claim("email") {
        content.facts.insert("expediteur_email".into(), email);
    }
    let to = content.answer("destinataire_email").to_owned();
    content.record(
        now,
        "Lettre déposée par l'expéditeur, identifié au niveau ".to_owned() + user.acr.as_str(),
    );
    content.record(now, format!("Avis de lettre recommandée envoyé à {to}"));
    let text = format!(
        "Bonjour {} {},\n\n{} vous a envoyé une lettre recommandée électronique le {}.\n\nPour en prendre connaissance, identifiez-vous sur {}/reception/{}?cle={}\nVous pourrez alors l'accepter et la lire, ou la refuser. Vous avez {CLAIM_DAYS} jours pour le faire.\n",
        content.answer("destinataire_prenom"),
        content.answer("destinataire_nom"),
        user.name(),
        mail::french_datetime(now),
        demarche.base_url,
        dossier.id,
        key,
    );
    demarche
        .mail(
            &to,
            "Vous avez reçu une lettre recommandée électronique",
            text,
        )
        .await;
}

#[derive(Debug, Deserialize)]
struct KeyQuery {
    #[serde(default)]
    cle: String,
}

/// The letter behind a recipient's link, or the page to show instead.
async fn letter(
    demarche: &Demarche,
    id: &str,
    key: &str,
) -> Result<(Dossier, Content), Box<Response>> {
    let missing = || Box::new(demarche.refuse(DemarcheError::LetterNotFound));
    let dossier = match demarche.dossiers.get(id).await {
        Ok(Some(dossier)) => dossier,
        Ok(None) => return Err(missing()),
        Err(error) => return Err(Box::new(demarche.failure(&error))),
    };
    if dossier.service != demarche.service.path || dossier.status != DossierStatus::Submitted {
        return Err(missing());
    }
    let content: Content = serde_json::from_slice(&dossier.content).map_err(|_| missing())?;
    if key.is_empty() || !constant_time_eq(digest(key).as_bytes(), content.fact("cle").as_bytes()) {
        return Err(missing());
    }
    Ok((dossier, content))
}

/// Whether the person logged in is the one the letter names: same family
/// name, and the first given name among theirs.
fn is_recipient(user: &User, content: &Content) -> bool {
    let fold = |text: &str| text.trim().to_uppercase();
    let family = fold(&user.claim("family_name").unwrap_or_default());
    let given = fold(&user.claim("given_name").unwrap_or_default());
    let named_given = fold(content.answer("destinataire_prenom"));
    !family.is_empty()
        && family == fold(content.answer("destinataire_nom"))
        && given.split(' ').any(|name| name == named_given)
}

async fn reception(
    State(demarche): State<Arc<Demarche>>,
    Path(id): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Response {
    let (_, content) = match letter(&demarche, &id, &query.cle).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let session = demarche.visit(&headers).await;
    let here = demarche.path(&format!("/reception/{id}?cle={}", query.cle));
    let (session, user) = match require_user(&demarche, session, &here).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if !is_recipient(&user, &content) {
        return demarche.refuse(DemarcheError::NotTheRecipient);
    }
    let from = content.fact("expediteur");
    let sent = time_of(&content, "envoyee_le");
    let mut sheet = Sheet::new("Lettre recommandée électronique", session.csrf_token()).section(
        Section::new("Lettre reçue")
            .row("Expéditeur", from)
            .row("Déposée le", mail::french_datetime(sent))
            .row("Objet", content.answer("objet")),
    );
    match content.fact("decision") {
        "acceptee" => {
            sheet = sheet
                .notice(Notice::info(format!(
                    "Vous avez accepté cette lettre : {}.",
                    status(&demarche, &content)
                )))
                .section(Section::new("Message").says(content.answer("message")));
        }
        "refusee" => {
            sheet = sheet.notice(Notice::info(format!(
                "Vous avez refusé cette lettre : {}.",
                status(&demarche, &content)
            )));
        }
        _ if demarche.clock.now() > claim_deadline(&content) => {
            sheet = sheet.notice(Notice::alert(
                "Le délai de 15 jours pour accepter cette lettre est dépassé : elle n'a pas été réclamée.",
            ));
        }
        _ => {
            let mut choose = Section::new("Accepter ou refuser")
                .says(format!(
                    "Vous avez jusqu'au {} pour répondre. Votre réponse est horodatée et transmise à l'expéditeur.",
                    mail::french_datetime(claim_deadline(&content))
                ))
                .action(Action::post(demarche.path(&format!("/reception/{id}")), "Accepter et lire la lettre"))
                .action(Action::post_also(demarche.path(&format!("/reception/{id}")), "Refuser la lettre"));
            for (action, decision) in choose.actions.iter_mut().zip(["accepter", "refuser"]) {
                if let Action::Post { hidden, .. } = action {
                    hidden.push(("cle".into(), query.cle.clone()));
                    hidden.push(("decision".into(), decision.into()));
                }
            }
            sheet = sheet.section(choose);
        }
    }
    demarche.page(&sheet, StatusCode::OK)
}

async fn decide(
    State(demarche): State<Arc<Demarche>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_body(&body);
    let key = form.get("cle").cloned().unwrap_or_default();
    let (mut dossier, mut content) = match letter(&demarche, &id, &key).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let session = demarche.visit(&headers).await;
    let here = demarche.path(&format!("/reception/{id}?cle={key}"));
    let (session, user) = match require_user(&demarche, session, &here).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if !session.check_csrf(form.get("csrf").map(String::as_str)) {
        return expired_form(&demarche);
    }
    let now = demarche.clock.now();
    let decision = match form.get("decision").map(String::as_str) {
        Some("accepter") => "acceptee",
        Some("refuser") => "refusee",
        _ => {
            return demarche.refuse(DemarcheError::UnknownAnswer);
        }
    };
    if !is_recipient(&user, &content)
        || !content.fact("decision").is_empty()
        || now > claim_deadline(&content)
    {
        return demarche.own_page(&here).see_other(None);
    }
    content.facts.insert("decision".into(), decision.into());
    content.facts.insert("decision_le".into(), now.to_string());
    let what = if decision == "acceptee" {
        "acceptée"
    } else {
        "refusée"
    };
    content.record(
        now,
        format!(
            "Lettre {what} par son destinataire, identifié par {} au niveau {}",
            demarche.settings.label, user.acr
        ),
    );
    dossier.content = match content.stored() {
        Ok(stored) => stored,
        Err(error) => return demarche.failure(&error),
    };
    dossier.updated_at = now;
    if let Err(error) = demarche.dossiers.update(&dossier).await {
        return demarche.failure(&error);
    }
    tracing::info!(letter = %dossier.id, decision, "registered letter answered");
    let text = format!(
        "Bonjour,\n\nVotre lettre recommandée électronique n° {} (« {} ») a été {what} par son destinataire le {}.\nL'accusé de réception horodaté est dans votre espace : {}/dossier/{}\n",
        dossier.id,
        content.answer("objet"),
        mail::french_datetime(now),
        demarche.base_url,
        dossier.id,
    );
    demarche
        .mail(
            content.fact("expediteur_email"),
            &format!(
                "Accusé de réception de votre lettre recommandée {}",
                dossier.id
            ),
            text,
        )
        .await;
    demarche.own_page(&here).see_other(None)
}
