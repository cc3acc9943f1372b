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
    assert!(home.shows("Mon espace Conducteur"), "{}", home.body);
    assert!(home.shows("niveau eidas1"), "{}", home.body);
    let citizen = federation.running.citizens[0].clone();

    let (url, identity) = opened(
        &federation,
        &browser,
        &start(&federation, &browser, &home, "ants", "permis").await,
    )
    .await;
    // Step 1: the identity, shown and not typed.
    assert!(identity.shows("Étape 1 sur 4"), "{}", identity.body);
    assert!(identity.shows(&citizen.family_name), "{}", identity.body);
    assert!(!identity.shows("name=\"nom\""), "{}", identity.body);
    let contact = send(&browser, &url, &identity, "suivant", &[("nom", "INTRUS")]).await;
    assert!(contact.shows("Étape 2 sur 4"), "{}", contact.body);

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
    assert_eq!(refused.status, 422);
    assert!(
        refused.shows("Code postal : 5 chiffres."),
        "{}",
        refused.body
    );
    assert!(refused.shows("aria-invalid=\"true\""), "{}", refused.body);
    assert!(browser.get(&url).await.shows("Étape 2 sur 4"));
    let request = send(&browser, &url, &refused, "suivant", &CONTACT).await;
    assert!(request.shows("Étape 3 sur 4"), "{}", request.body);

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
    assert_eq!(bad_photo.status, 422);
    assert!(
        bad_photo.shows("Code photo : 22 lettres et chiffres"),
        "{}",
        bad_photo.body
    );
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
    assert!(saved.shows("Démarche enregistrée"), "{}", saved.body);

    // A second driving-licence démarche: refused, with the way to the first.
    let space = browser
        .get(&format!("{}/ants/espace/conducteur", portal(&federation)))
        .await;
    assert!(
        space.shows("Reprendre la démarche PERMIS-"),
        "{}",
        space.body
    );
    let second = start(&federation, &browser, &space, "ants", "permis").await;
    assert_eq!(second.status, 409);
    assert!(
        second.shows("Vous avez déjà une démarche « Demande de permis de conduire » en cours"),
        "{}",
        second.body
    );
    let path = url.trim_start_matches(portal(&federation));
    assert!(second.shows(&format!("href=\"{path}\"")), "{}", second.body);
    // Another kind may start meanwhile.
    let other = start(&federation, &browser, &space, "ants", "titre").await;
    assert_eq!(other.status, 303, "{}", other.body);

    // Resumed where it was left, with what was typed.
    let resumed = browser.get(&url).await;
    assert!(resumed.shows("Étape 3 sur 4"), "{}", resumed.body);
    assert!(resumed.shows("value=\"ab12 cd34\""), "{}", resumed.body);
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
    assert!(summary.shows("Étape 4 sur 4"), "{}", summary.body);
    assert!(
        summary.shows(PHOTO_CODE) && summary.shows("75015"),
        "{}",
        summary.body
    );
    let unticked = send(&browser, &url, &summary, "deposer", &[]).await;
    assert_eq!(unticked.status, 422);
    let filed = send(&browser, &url, &unticked, "deposer", &[("certifie", "oui")]).await;
    assert!(
        filed.shows("enregistrée sous le numéro PERMIS-"),
        "{}",
        filed.body
    );
    // Filed: a new one of the kind may start.
    let space = browser
        .get(&format!("{}/ants/espace/conducteur", portal(&federation)))
        .await;
    assert!(space.shows("Démarches déposées"), "{}", space.body);
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
    let welcome = browser.get(&format!("{}/ants/", portal(&federation))).await;
    assert!(
        welcome.shows("Se connecter avec mon compte ANTS"),
        "{}",
        welcome.body
    );
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
    assert!(home.shows("Mon espace Conducteur"), "{}", home.body);
    assert!(
        home.shows("Se connecter avec mon compte ANTS, niveau eidas1"),
        "{}",
        home.body
    );
    let started = start(&federation, &browser, &home, "ants", "immatriculation").await;
    let (_, page) = opened(&federation, &browser, &started).await;
    assert!(
        page.shows("Demande de certificat d&#39;immatriculation"),
        "{}",
        page.body
    );
    let id = started
        .location
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
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
    let ants_id = started
        .location
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let home = log_in(&federation, &through_hub, "impots", "impots", 1).await;
    let started = start(&federation, &through_hub, &home, "impots", "declaration").await;
    let tax_id = started
        .location
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
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
    let (url, identity) = opened(
        &federation,
        &browser,
        &start(&federation, &browser, &home, "ants", "titre").await,
    )
    .await;
    let contact = send(&browser, &url, &identity, "suivant", &[]).await;
    let saved = send(&browser, &url, &contact, "enregistrer", &CONTACT).await;
    assert!(saved.shows("Démarche enregistrée"), "{}", saved.body);
    let path = url.trim_start_matches(portal(&federation)).to_owned();
    drop(federation);

    let federation = Federation::builder().on_disk(&dir).start().await.unwrap();
    let browser = Citizen::new();
    log_in(&federation, &browser, "ants", "impots", 4).await;
    let space = browser
        .get(&format!("{}/ants/espace/identite", portal(&federation)))
        .await;
    assert!(space.shows(&format!("href=\"{path}\"")), "{}", space.body);
    let resumed = browser.get(&format!("{}{path}", portal(&federation))).await;
    assert!(resumed.shows("Étape 2 sur 4"), "{}", resumed.body);
    assert!(
        resumed.shows("value=\"12 rue des Lilas\""),
        "{}",
        resumed.body
    );
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
    assert!(home.shows("Déclarer mes revenus de 2026"), "{}", home.body);
    assert!(
        home.shows("mercredi 26 mai 2027 à 23 h 59"),
        "{}",
        home.body
    );
    let (url, preliminary) = opened(
        &federation,
        &browser,
        &start(&federation, &browser, &home, "impots", "declaration").await,
    )
    .await;
    assert!(preliminary.shows("Étape 1 sur 5"), "{}", preliminary.body);
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
    assert!(preliminary.shows(situation), "{}", preliminary.body);
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
    assert!(personal.shows("Étape 2 sur 5"), "{}", personal.body);
    let citizen = &federation.running.citizens[0];
    assert!(personal.shows(&citizen.family_name), "{}", personal.body);
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
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.shows("Département de résidence : un numéro de département"),
        "{}",
        wrong.body
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
    assert!(income.shows("Étape 3 sur 5"), "{}", income.body);
    assert!(
        income.shows("Votre date limite de déclaration en ligne : mardi 1 juin 2027 à 23 h 59 (départements 20 à 54)"),
        "{}",
        income.body
    );
    let signature = send(
        &browser,
        &url,
        &income,
        "suivant",
        &[("salaires", "23 500 €"), ("dons", "150")],
    )
    .await;
    assert!(signature.shows("Étape 4 sur 5"), "{}", signature.body);
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
    assert!(end.shows("Fin de déclaration"), "{}", end.body);
    assert!(end.shows("Étape 5 sur 5"), "{}", end.body);
    assert!(end.shows("Accusé de réception"), "{}", end.body);
    let id = url.rsplit('/').next().unwrap();
    assert!(end.shows(id), "{}", end.body);
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
    let home = browser
        .get(&format!("{}/impots/", portal(&federation)))
        .await;
    assert!(
        home.shows("Voir l&#39;accusé de réception"),
        "{}",
        home.body
    );
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
    assert!(home.shows("Mes lettres recommandées"), "{}", home.body);
    assert!(home.shows("niveau eidas2"), "{}", home.body);
    let recipient = federation.running.citizens[1].clone();
    let (url, compose) = opened(
        &federation,
        &sender,
        &start(&federation, &sender, &home, "lettre", "lettre").await,
    )
    .await;
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
    assert!(check.shows("Vérifier et envoyer"), "{}", check.body);
    let sent = send(&sender, &url, &check, "deposer", &[("confirme", "oui")]).await;
    assert!(sent.shows("en attente du destinataire"), "{}", sent.body);

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
    assert!(
        welcome.shows("S&#39;identifier avec Passerelle+"),
        "{}",
        welcome.body
    );
    let letter = log_in(&federation, &reader, "lettre", "laposte", 2).await;
    assert!(letter.url.contains("/lettre/reception/"), "{}", letter.url);
    assert!(
        letter.shows("Accepter et lire la lettre"),
        "{}",
        letter.body
    );
    assert!(!letter.shows("Je résilie le bail"), "{}", letter.body);

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
    assert!(read.shows("Je résilie le bail"), "{}", read.body);
    assert!(
        read.shows("Vous avez accepté cette lettre"),
        "{}",
        read.body
    );

    // The sender's acknowledgement: three time-stamped steps.
    let receipt = sender.get(&url).await;
    assert!(receipt.shows("acceptée le"), "{}", receipt.body);
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
    let (url, _) = opened(
        &federation,
        &owner,
        &start(&federation, &owner, &home, "ants", "permis").await,
    )
    .await;
    // The dossier's form, posted into the owner's browser from another
    // site, is refused: the dossier stays at its first step.
    for token in ["", "stale"] {
        let forced = owner
            .post(&url, &[("csrf", token), ("action", "suivant")])
            .await;
        assert_eq!(forced.status, 403, "{}", forced.body);
        assert!(forced.shows("RP-FORM-EXPIRED"), "{}", forced.body);
    }
    assert!(owner.get(&url).await.shows("Étape 1 sur 4"));

    let other = Citizen::new();
    let other_home = log_in(&federation, &other, "ants", "impots", 2).await;
    let theirs = other.get(&url).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    assert!(theirs.shows("DEMARCHE-DOSSIER"), "{}", theirs.body);
    assert!(!theirs.shows("Étape 1 sur 4"), "{}", theirs.body);
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
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.shows("DEMARCHE-UNKNOWN"), "{}", unknown.body);

    let space = other
        .get(&format!("{}/ants/espace/lune", portal(&federation)))
        .await;
    assert_eq!(space.status, 404, "{}", space.body);
    assert!(space.shows("DEMARCHE-SPACE"), "{}", space.body);

    let stale = other
        .post(
            &format!("{}/ants/commencer/permis", portal(&federation)),
            &[("csrf", "stale")],
        )
        .await;
    assert_eq!(stale.status, 403, "{}", stale.body);
    assert!(stale.shows("RP-FORM-EXPIRED"), "{}", stale.body);
    // Nothing was started by the refusals; the owner's draft is there.
    let ants = format!("{}/ants/", portal(&federation));
    let in_progress = "Une démarche est en cours";
    assert!(owner.get(&ants).await.shows(in_progress));
    assert!(!other.get(&ants).await.shows(in_progress));
}
