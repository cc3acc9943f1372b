//! The démarches portal end to end: each démarche logs in through its hub
//! at its level, keeps its dossiers under the `sub` it received, and
//! behaves as the documents tell (one démarche of a kind in progress,
//! drafts resumed, the tax return's five steps and deadline, the
//! registered letter's time-stamped acknowledgement).
#![expect(clippy::unwrap_used, reason = "test code: a failure is a failed test")]

use testkit::{Citizen, Federation, PASSWORD, Response};

fn portal(federation: &Federation) -> &str {
    federation.url("demo_sp")
}

/// Logs `browser` in at a démarche through its hub, with `provider`'s
/// account of citizen `id`; returns the page the démarche shows next.
async fn log_in(
    federation: &Federation,
    browser: &Citizen,
    service: &str,
    provider: &str,
    id: u32,
) -> Response {
    let hub = if matches!(service, "lettre" | "procuration") {
        federation.hub_plus.clone()
    } else {
        federation.hub.clone()
    };
    let start = browser
        .get(&format!(
            "{}/{service}/connexion/passerelle",
            portal(federation)
        ))
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let callback = format!("{}/{service}/callback/passerelle", portal(federation));
    let back = browser
        .log_in(
            start.location.as_deref().unwrap(),
            &hub,
            provider,
            &federation.login_of(provider, id),
            PASSWORD,
            &callback,
        )
        .await;
    assert!(
        back.location
            .as_deref()
            .unwrap_or_default()
            .starts_with(&callback),
        "{back:?}"
    );
    browser.follow(back, "").await
}

/// Starts a démarche from a page holding a CSRF token; returns the answer
/// (a redirect to the new dossier, or the refusal page).
async fn start(
    federation: &Federation,
    browser: &Citizen,
    page: &Response,
    service: &str,
    kind: &str,
) -> Response {
    let csrf = page.input("csrf").unwrap();
    browser
        .post(
            &format!("{}/{service}/commencer/{kind}", portal(federation)),
            &[("csrf", &csrf)],
        )
        .await
}

/// The dossier a start redirected to: its URL and first page.
async fn opened(
    federation: &Federation,
    browser: &Citizen,
    started: &Response,
) -> (String, Response) {
    assert_eq!(started.status, 303, "{}", started.body);
    let url = format!(
        "{}{}",
        portal(federation),
        started.location.as_deref().unwrap()
    );
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (url, page)
}

/// Starts a démarche of `kind` from `page` and opens the new dossier: its
/// URL and first page.
async fn open_new(
    federation: &Federation,
    browser: &Citizen,
    page: &Response,
    service: &str,
    kind: &str,
) -> (String, Response) {
    let started = start(federation, browser, page, service, kind).await;
    opened(federation, browser, &started).await
}

/// The id of the dossier a start redirected to: the last segment of its URL.
fn dossier_id(started: &Response) -> String {
    started
        .location
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Gets the portal page at `path` (starting with a slash) in `browser`.
async fn visit(federation: &Federation, browser: &Citizen, path: &str) -> Response {
    browser.get(&format!("{}{path}", portal(federation))).await
}

/// Asserts that `page` shows `text`, printing the page otherwise.
#[track_caller]
fn assert_shows(page: &Response, text: &str) {
    assert!(page.shows(text), "{}", page.body);
}

/// Asserts that `page` does not show `text`, printing the page otherwise.
#[track_caller]
fn assert_lacks(page: &Response, text: &str) {
    assert!(!page.shows(text), "{}", page.body);
}

/// Asserts that `page` is a form step sent back (422) naming `problem`.
#[track_caller]
fn assert_invalid(page: &Response, problem: &str) {
    assert_eq!(page.status, 422);
    assert_shows(page, problem);
}

/// Asserts that `page` is a refusal with `status` showing its catalogued `code`.
#[track_caller]
fn assert_refused(page: &Response, status: u16, code: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_shows(page, code);
}

/// Sends a step of a dossier's form.
async fn send(
    browser: &Citizen,
    url: &str,
    page: &Response,
    action: &str,
    fields: &[(&str, &str)],
) -> Response {
    let csrf = page.input("csrf").unwrap();
    let mut form = vec![("csrf", csrf.as_str()), ("action", action)];
    form.extend_from_slice(fields);
    let answer = browser.post(url, &form).await;
    if answer.status == 303 {
        return browser.get(url).await;
    }
    answer
}

const CONTACT: [(&str, &str); 4] = [
    ("adresse", "12 rue des Lilas"),
    ("code_postal", "75015"),
    ("commune", "Paris"),
    ("telephone", "06 12 34 56 78"),
];

const PHOTO_CODE: &str = "AB12CD34EF56GH78IJ90KL";

/// The ANTS space through the hub: the form filled in from the identity,
/// its checks, a draft saved and resumed, one démarche of a kind in
/// progress (the documents' message, with a link to it), another kind
/// allowed, the demand filed with its number mailed; the dossier is kept
/// under the sub received, and nobody else can open it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ants_space_keeps_one_demarche_of_a_kind_in_progress_and_resumes_drafts() {
    let federation = Federation::start().await.unwrap();
    let browser = Citizen::new();
    let home = log_in(&federation, &browser, "ants", "impots", 1).await;
    assert_shows(&home, "Mon espace Conducteur");
    assert_shows(&home, "niveau eidas1");
    let citizen = federation.running.citizens[0].clone();

    let (url, identity) = open_new(&federation, &browser, &home, "ants", "permis").await;
    // Step 1: the identity, shown and not typed.
    assert_shows(&identity, "Étape 1 sur 4");
    assert_shows(&identity, &citizen.family_name);
    assert_lacks(&identity, "name=\"nom\"");
    let contact = send(&browser, &url, &identity, "suivant", &[("nom", "INTRUS")]).await;
    assert_shows(&contact, "Étape 2 sur 4");

    // Step 2: a bad postcode is named, and nothing moves on.
    let refused = send(
        &browser,
        &url,
        &contact,
        "suivant",
        &[
            ("adresse", "12 rue des Lilas"),
            ("code_postal", "7501"),
            ("commune", "Paris"),
        ],
    )
    .await;
    assert_invalid(&refused, "Code postal : 5 chiffres.");
    assert_shows(&refused, "aria-invalid=\"true\"");
    assert!(browser.get(&url).await.shows("Étape 2 sur 4"));
    let request = send(&browser, &url, &refused, "suivant", &CONTACT).await;
    assert_shows(&request, "Étape 3 sur 4");

    // Step 3: the photo code is 22 letters and digits.
    let bad_photo = send(
        &browser,
        &url,
        &request,
        "suivant",
        &[
            ("motif", "premiere"),
            ("categorie", "B"),
            ("code_photo", "ABC123"),
        ],
    )
    .await;
    assert_invalid(&bad_photo, "Code photo : 22 lettres et chiffres");
    // Saved as typed, to finish later.
    let saved = send(
        &browser,
        &url,
        &bad_photo,
        "enregistrer",
        &[
            ("motif", "premiere"),
            ("categorie", "B"),
            ("code_photo", "ab12 cd34"),
        ],
    )
    .await;
    assert_shows(&saved, "Démarche enregistrée");

    // A second driving-licence démarche: refused, with the way to the first.
    let space = visit(&federation, &browser, "/ants/espace/conducteur").await;
    assert_shows(&space, "Reprendre la démarche PERMIS-");
    let second = start(&federation, &browser, &space, "ants", "permis").await;
    assert_eq!(second.status, 409);
    assert_shows(
        &second,
        "Vous avez déjà une démarche « Demande de permis de conduire » en cours",
    );
    let path = url.trim_start_matches(portal(&federation));
    assert_shows(&second, &format!("href=\"{path}\""));
    // Another kind may start meanwhile.
    let other = start(&federation, &browser, &space, "ants", "titre").await;
    assert_eq!(other.status, 303, "{}", other.body);

    // Resumed where it was left, with what was typed.
    let resumed = browser.get(&url).await;
    assert_shows(&resumed, "Étape 3 sur 4");
    assert_shows(&resumed, "value=\"ab12 cd34\"");
    let summary = send(
        &browser,
        &url,
        &resumed,
        "suivant",
        &[
            ("motif", "premiere"),
            ("categorie", "B"),
            ("code_photo", PHOTO_CODE),
        ],
    )
    .await;
    assert_shows(&summary, "Étape 4 sur 4");
    assert!(
        summary.shows(PHOTO_CODE) && summary.shows("75015"),
        "{}",
        summary.body
    );
    let unticked = send(&browser, &url, &summary, "deposer", &[]).await;
    assert_eq!(unticked.status, 422);
    let filed = send(&browser, &url, &unticked, "deposer", &[("certifie", "oui")]).await;
    assert_shows(&filed, "enregistrée sous le numéro PERMIS-");
    // Filed: a new one of the kind may start.
    let space = visit(&federation, &browser, "/ants/espace/conducteur").await;
    assert_shows(&space, "Démarches déposées");
    assert_eq!(
        start(&federation, &browser, &space, "ants", "permis")
            .await
            .status,
        303
    );

    // The number is mailed to the identity's address.
    let id = path.rsplit('/').next().unwrap();
    let mails = federation.delivered_mails().await;
    assert!(
        mails
            .iter()
            .any(|sent| sent.message.to == citizen.email && sent.message.subject.contains(id)),
        "{:?}",
        mails
            .iter()
            .map(|sent| &sent.message.subject)
            .collect::<Vec<_>>()
    );

    // Kept under the sub received, never the name.
    let dossiers = &federation.running.stores["demo_sp"].dossiers;
    let dossier = dossiers.get(id).await.unwrap().unwrap();
    assert_eq!(dossier.service, "ants");
    assert!(!dossier.owner.contains(&citizen.family_name));
    assert!(dossier.owner.len() >= 64, "{}", dossier.owner);
    assert_eq!(
        dossiers
            .of_owner("ants", &dossier.owner)
            .await
            .unwrap()
            .len(),
        3
    );

    // Somebody else cannot open it, even logged in.
    let stranger = Citizen::new();
    log_in(&federation, &stranger, "ants", "impots", 2).await;
    let denied = stranger.get(&url).await;
    assert_eq!(denied.status, 404);
    assert!(!denied.shows(PHOTO_CODE));
}

/// The ANTS space's own account logs in too, with its own sub; each
/// démarche is its own entity, so the same person has another sub at the
/// tax service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ants_space_logs_in_with_its_own_account_and_each_demarche_is_its_own_entity() {
    let federation = Federation::start().await.unwrap();
    let browser = Citizen::new();
    let welcome = visit(&federation, &browser, "/ants/").await;
    assert_shows(&welcome, "Se connecter avec mon compte ANTS");
    let at_ants = browser
        .open(
            &format!("{}/ants/connexion/compte", portal(&federation)),
            "",
        )
        .await;
    assert!(
        at_ants.url.starts_with(federation.url("ants")),
        "{}",
        at_ants.url
    );
    let csrf = at_ants.input("csrf").unwrap();
    let submitted = browser
        .post(
            &format!("{}/login", federation.url("ants")),
            &[
                ("csrf", &csrf),
                ("identifier", &federation.login_of("ants", 1)),
                ("password", PASSWORD),
            ],
        )
        .await;
    let home = browser.follow(submitted, "").await;
    assert_shows(&home, "Mon espace Conducteur");
    assert_shows(&home, "Se connecter avec mon compte ANTS, niveau eidas1");
    let started = start(&federation, &browser, &home, "ants", "immatriculation").await;
    let (_, page) = opened(&federation, &browser, &started).await;
    assert_shows(&page, "Demande de certificat d&#39;immatriculation");
    let id = dossier_id(&started);
    let dossiers = &federation.running.stores["demo_sp"].dossiers;
    let by_account = dossiers.get(&id).await.unwrap().unwrap();
    assert!(
        by_account.owner.starts_with("compte:"),
        "{}",
        by_account.owner
    );

    // The same citizen through the hub, at ANTS and at the tax service.
    let through_hub = Citizen::new();
    let home = log_in(&federation, &through_hub, "ants", "impots", 1).await;
    let started = start(&federation, &through_hub, &home, "ants", "permis").await;
    let ants_id = dossier_id(&started);
    let home = log_in(&federation, &through_hub, "impots", "impots", 1).await;
    let started = start(&federation, &through_hub, &home, "impots", "declaration").await;
    let tax_id = dossier_id(&started);
    let at_ants = dossiers.get(&ants_id).await.unwrap().unwrap().owner;
    let at_taxes = dossiers.get(&tax_id).await.unwrap().unwrap().owner;
    assert_ne!(at_ants, at_taxes);
    assert_ne!(at_ants, by_account.owner);
}

/// A draft saved in the demo's SQLite file is there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("passerelle-demarches-{:016x}", rand_id()));
    let federation = Federation::builder().on_disk(&dir).start().await.unwrap();
    let browser = Citizen::new();
    let home = log_in(&federation, &browser, "ants", "impots", 4).await;
    let (url, identity) = open_new(&federation, &browser, &home, "ants", "titre").await;
    let contact = send(&browser, &url, &identity, "suivant", &[]).await;
    let saved = send(&browser, &url, &contact, "enregistrer", &CONTACT).await;
    assert_shows(&saved, "Démarche enregistrée");
    let path = url.trim_start_matches(portal(&federation)).to_owned();
    drop(federation);

    let federation = Federation::builder().on_disk(&dir).start().await.unwrap();
    let browser = Citizen::new();
    log_in(&federation, &browser, "ants", "impots", 4).await;
    let space = visit(&federation, &browser, "/ants/espace/identite").await;
    assert_shows(&space, &format!("href=\"{path}\""));
    let resumed = visit(&federation, &browser, &path).await;
    assert_shows(&resumed, "Étape 2 sur 4");
    assert_shows(&resumed, "value=\"12 rue des Lilas\"");
    drop(federation);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::from(elapsed.subsec_nanos()) ^ elapsed.as_secs()
        })
}

/// The tax return: the five steps of the document, the online deadline of
/// the département of residence, the acknowledgement of receipt (shown and
/// mailed); once filed, the year's return is not started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tax_return_goes_through_five_steps_with_the_deadline_of_the_departement() {
    let federation = Federation::start().await.unwrap();
    let browser = Citizen::new();
    let home = log_in(&federation, &browser, "impots", "ameli", 1).await;
    assert_shows(&home, "Déclarer mes revenus de 2026");
    assert_shows(&home, "mercredi 26 mai 2027 à 23 h 59");
    let (url, preliminary) = open_new(&federation, &browser, &home, "impots", "declaration").await;
    assert_shows(&preliminary, "Étape 1 sur 5");
    // Filled in from the tax data provider, read with the access token at
    // login (the person accepted it on the hub's confirmation page).
    let citizen = &federation.running.citizens[0];
    let income = citizen.reference_income.to_string();
    assert!(
        preliminary.shows(&format!("value=\"{income}\"")) || preliminary.shows(&income),
        "{income}: {}",
        preliminary.body
    );
    let situation = if citizen.usage_name.is_some() {
        "2"
    } else {
        "1"
    };
    assert_shows(&preliminary, situation);
    for step in [
        "Étape préalable",
        "Renseignements personnels",
        "Revenus et charges",
        "Résumé et signature",
        "Fin de déclaration",
    ] {
        assert!(preliminary.shows(step), "{step}");
    }
    let personal = send(
        &browser,
        &url,
        &preliminary,
        "suivant",
        &[
            ("situation", "celibataire"),
            ("changement", "aucun"),
            ("personnes_a_charge", "0"),
        ],
    )
    .await;
    assert_shows(&personal, "Étape 2 sur 5");
    let citizen = &federation.running.citizens[0];
    assert_shows(&personal, &citizen.family_name);
    let wrong = send(
        &browser,
        &url,
        &personal,
        "suivant",
        &[
            ("adresse", "3 cours Victor Hugo"),
            ("code_postal", "33000"),
            ("commune", "Bordeaux"),
            ("departement", "20"),
        ],
    )
    .await;
    assert_invalid(
        &wrong,
        "Département de résidence : un numéro de département",
    );
    let income = send(
        &browser,
        &url,
        &wrong,
        "suivant",
        &[
            ("adresse", "3 cours Victor Hugo"),
            ("code_postal", "33000"),
            ("commune", "Bordeaux"),
            ("departement", "33"),
        ],
    )
    .await;
    assert_shows(&income, "Étape 3 sur 5");
    assert_shows(
        &income,
        "Votre date limite de déclaration en ligne : mardi 1 juin 2027 à 23 h 59 (départements 20 à 54)",
    );
    let signature = send(
        &browser,
        &url,
        &income,
        "suivant",
        &[("salaires", "23 500 €"), ("dons", "150")],
    )
    .await;
    assert_shows(&signature, "Étape 4 sur 5");
    assert!(
        signature.shows("23500") && signature.shows("Bordeaux"),
        "{}",
        signature.body
    );
    let end = send(
        &browser,
        &url,
        &signature,
        "deposer",
        &[("signature", "oui")],
    )
    .await;
    assert_shows(&end, "Fin de déclaration");
    assert_shows(&end, "Étape 5 sur 5");
    assert_shows(&end, "Accusé de réception");
    let id = url.rsplit('/').next().unwrap();
    assert_shows(&end, id);
    assert!(
        federation
            .delivered_mails()
            .await
            .iter()
            .any(|sent| sent.message.subject
                == "Accusé de réception de votre déclaration des revenus"
                && sent.message.text.contains(id))
    );
    // Filed: the space says so, and starting again shows the receipt.
    let home = visit(&federation, &browser, "/impots/").await;
    assert_shows(&home, "Voir l&#39;accusé de réception");
    let again = start(&federation, &browser, &home, "impots", "declaration").await;
    assert_eq!(
        again.location.as_deref(),
        Some(url.trim_start_matches(portal(&federation)))
    );
}

/// The registered letter at eidas2: composed and sent by one citizen, the
/// notice mailed to the recipient, who identifies through the plus hub and
/// accepts it; someone else cannot; each step is time-stamped and the
/// sender sees the acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_letter_is_sent_then_acknowledged_by_its_identified_recipient() {
    let federation = Federation::start().await.unwrap();
    let sender = Citizen::new();
    let home = log_in(&federation, &sender, "lettre", "laposte", 1).await;
    assert_shows(&home, "Mes lettres recommandées");
    assert_shows(&home, "niveau eidas2");
    let recipient = federation.running.citizens[1].clone();
    let (url, compose) = open_new(&federation, &sender, &home, "lettre", "lettre").await;
    let check = send(
        &sender,
        &url,
        &compose,
        "suivant",
        &[
            ("destinataire_prenom", &recipient.given_names[0]),
            ("destinataire_nom", &recipient.family_name),
            ("destinataire_email", &recipient.email),
            ("objet", "Résiliation du bail"),
            ("message", "Je résilie le bail du logement au 3e étage."),
        ],
    )
    .await;
    assert_shows(&check, "Vérifier et envoyer");
    let sent = send(&sender, &url, &check, "deposer", &[("confirme", "oui")]).await;
    assert_shows(&sent, "en attente du destinataire");

    let notice = federation
        .delivered_mails()
        .await
        .into_iter()
        .find(|mail| mail.message.to == recipient.email)
        .unwrap();
    let marker = format!("{}/lettre/reception/", portal(&federation));
    let link: String = notice.message.text[notice.message.text.find(&marker).unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    // A wrong key finds nothing; the named recipient must log in first.
    federation.clock.advance(1200);
    let guess = Citizen::new().get(&format!("{}x", link)).await;
    assert_eq!(guess.status, 404);
    let reader = Citizen::new();
    let welcome = reader.get(&link).await;
    assert_shows(&welcome, "S&#39;identifier avec Passerelle+");
    let letter = log_in(&federation, &reader, "lettre", "laposte", 2).await;
    assert!(letter.url.contains("/lettre/reception/"), "{}", letter.url);
    assert_shows(&letter, "Accepter et lire la lettre");
    assert_lacks(&letter, "Je résilie le bail");

    // Someone else, identified, is refused.
    let intruder = Citizen::new();
    log_in(&federation, &intruder, "lettre", "laposte", 4).await;
    let refused = intruder.get(&link).await;
    assert_eq!(refused.status, 403);
    assert!(!refused.shows("Je résilie le bail"));

    federation.clock.advance(60);
    let csrf = letter.input("csrf").unwrap();
    let key = link.split("cle=").nth(1).unwrap();
    let reception = &link[..link.find('?').unwrap()];
    // An acceptance forced from another site, key and all, is refused: the
    // letter stays unopened and unacknowledged.
    let forced = reader
        .post(
            reception,
            &[("csrf", "forged"), ("cle", key), ("decision", "accepter")],
        )
        .await;
    assert_eq!(forced.status, 403, "{}", forced.body);
    assert!(reader.get(&link).await.shows("Accepter et lire la lettre"));
    let answered = reader
        .post(
            reception,
            &[("csrf", &csrf), ("cle", key), ("decision", "accepter")],
        )
        .await;
    let read = reader.follow(answered, "").await;
    assert_shows(&read, "Je résilie le bail");
    assert_shows(&read, "Vous avez accepté cette lettre");

    // The sender's acknowledgement: three time-stamped steps.
    let receipt = sender.get(&url).await;
    assert_shows(&receipt, "acceptée le");
    for step in [
        "Lettre déposée par l&#39;expéditeur, identifié au niveau eidas2",
        "Avis de lettre recommandée envoyé à",
        "Lettre acceptée par son destinataire, identifié par Passerelle+ au niveau eidas2",
    ] {
        assert!(receipt.shows(step), "{step}: {}", receipt.body);
    }
    assert!(
        receipt.shows("à 9 h 00") && receipt.shows("à 9 h 21"),
        "{}",
        receipt.body
    );
    let citizen = &federation.running.citizens[0];
    assert!(federation.delivered_mails().await.iter().any(|mail| {
        mail.message.to == citizen.email
            && mail
                .message
                .subject
                .starts_with("Accusé de réception de votre lettre")
    }));
}

/// Each refusal of a démarche is its catalogued page (docs/errors.md), with
/// its code and the way back; another citizen's dossier is not found, not
/// shown.
#[tokio::test]
async fn a_demarche_refuses_with_its_catalogued_pages() {
    let federation = Federation::start().await.unwrap();
    let owner = Citizen::new();
    let home = log_in(&federation, &owner, "ants", "impots", 1).await;
    let (url, _) = open_new(&federation, &owner, &home, "ants", "permis").await;
    // The dossier's form, posted into the owner's browser from another
    // site, is refused: the dossier stays at its first step.
    for token in ["", "stale"] {
        let forced = owner
            .post(&url, &[("csrf", token), ("action", "suivant")])
            .await;
        assert_refused(&forced, 403, "RP-FORM-EXPIRED");
    }
    assert!(owner.get(&url).await.shows("Étape 1 sur 4"));

    let other = Citizen::new();
    let other_home = log_in(&federation, &other, "ants", "impots", 2).await;
    let theirs = other.get(&url).await;
    assert_refused(&theirs, 404, "DEMARCHE-DOSSIER");
    assert_lacks(&theirs, "Étape 1 sur 4");
    assert!(
        theirs.shows("href=\"/ants/\""),
        "the way back: {}",
        theirs.body
    );

    let unknown = start(
        &federation,
        &other,
        &other_home,
        "ants",
        "passeport-lunaire",
    )
    .await;
    assert_refused(&unknown, 404, "DEMARCHE-UNKNOWN");

    let space = visit(&federation, &other, "/ants/espace/lune").await;
    assert_refused(&space, 404, "DEMARCHE-SPACE");

    let stale = other
        .post(
            &format!("{}/ants/commencer/permis", portal(&federation)),
            &[("csrf", "stale")],
        )
        .await;
    assert_refused(&stale, 403, "RP-FORM-EXPIRED");
    // Nothing was started by the refusals; the owner's draft is there.
    let ants = format!("{}/ants/", portal(&federation));
    let in_progress = "Une démarche est en cours";
    assert!(owner.get(&ants).await.shows(in_progress));
    assert!(!other.get(&ants).await.shows(in_progress));
}
