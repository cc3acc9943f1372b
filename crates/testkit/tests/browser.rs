//! The citizen's journey in a real browser: Debian's Chromium driven by
//! playwright-core (interop/browser-journey.mjs), with axe-core checking
//! every page. Screenshots go to `$CARGO_TARGET_DIR/browser/` (or
//! `target/browser/`); with `PASSERELLE_UPDATE_DOCS=1`, the choice page and
//! the dashboard are copied to docs/screenshots/ for the README.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failure is a failed test"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Federation, PASSWORD};
use tokio::io::{AsyncBufReadExt as _, BufReader};

fn screenshots_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizen_journey_in_chromium_passes_axe_on_every_page() {
    let federation = Federation::builder().without_rogue().start().await.unwrap();
    let screenshots = screenshots_dir("browser");
    let reports = journey(&federation, &screenshots).await;
    check_journey(&federation, &reports, &screenshots);
    if std::env::var_os("PASSERELLE_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["choice", "dashboard"] {
            std::fs::copy(
                screenshots.join(format!("{name}.png")),
                docs.join(format!("{name}.png")),
            )
            .unwrap();
        }
    }
}

/// The same journey in the DSFR theme (issue 4, point 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journey_in_the_dsfr_theme_passes_axe_too() {
    let federation = Federation::builder()
        .without_rogue()
        .dsfr()
        .start()
        .await
        .unwrap();
    let screenshots = screenshots_dir("browser-dsfr");
    let reports = journey(&federation, &screenshots).await;
    check_journey(&federation, &reports, &screenshots);
}

/// Runs interop/browser-journey.mjs against the federation; returns its
/// reports, one per line.
async fn journey(federation: &Federation, screenshots: &Path) -> Vec<Value> {
    let run = json!({
        "demo_sp": federation.url("demo_sp"),
        "dashboard": federation.url("dashboard"),
        "impots": federation.url("impots"),
        "ants": federation.url("ants"),
        "hub": federation.hub,
        "login": federation.login_of("impots", 1),
        "password": PASSWORD,
        "screenshots": screenshots,
    });
    run_script("browser-journey.mjs", &run, screenshots).await
}

/// Runs a script of interop/ with `run` as its argument; returns its
/// reports, one per line, once it printed `{"done": true}`.
async fn run_script(script: &str, run: &Value, screenshots: &Path) -> Vec<Value> {
    let _ = std::fs::remove_dir_all(screenshots);
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    let mut node = tokio::process::Command::new("node")
        .arg(script)
        .arg(run.to_string())
        .current_dir(&interop)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (./scripts/test installs it)");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut reports: Vec<Value> = Vec::new();
    // The script bounds itself (5 minutes); this bound is for a script
    // that could not even do that: the test fails, it never hangs.
    let read = tokio::time::timeout(Duration::from_secs(420), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            reports.push(serde_json::from_str(&line).unwrap_or(json!({ "unreadable": line })));
        }
    })
    .await;
    if read.is_err() {
        let _ = node.kill().await;
    }
    assert!(
        read.is_ok(),
        "the journey went past 7 minutes: {reports:#?}"
    );
    let status = node.wait().await.unwrap();
    assert!(
        status.success() && reports.iter().any(|report| report["done"] == true),
        "the journey did not finish: {reports:#?}"
    );
    reports
}

/// The first report about `page`.
fn report_of(reports: &[Value], page: &str) -> Value {
    reports
        .iter()
        .find(|report| report.get("page").and_then(Value::as_str) == Some(page))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Every checked page of a journey: no serious or critical violation.
fn assert_axe_clean(reports: &[Value], at_least: usize) {
    let checked: Vec<&Value> = reports
        .iter()
        .filter(|report| report.get("violations").is_some())
        .collect();
    assert!(checked.len() >= at_least, "{reports:#?}");
    let violations: Vec<&Value> = checked
        .iter()
        .filter(|report| {
            report["violations"]
                .as_array()
                .is_some_and(|list| !list.is_empty())
        })
        .copied()
        .collect();
    assert!(violations.is_empty(), "axe: {violations:#?}");
}

/// The ANTS-style démarche in Chromium (issue 7): through the hub, the
/// form over its steps, the photo code refused, the draft saved, a second
/// application refused with the way to the first, the draft resumed and
/// filed; every page passes axe, and the screenshots are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ants_demarche_in_chromium_keeps_one_in_progress_and_passes_axe() {
    let federation = Federation::builder().without_rogue().start().await.unwrap();
    let screenshots = screenshots_dir("browser-demarches");
    let run = json!({
        "demo_sp": federation.url("demo_sp"),
        "hub": federation.hub,
        "login": federation.login_of("impots", 1),
        "password": PASSWORD,
        "photo_code": "AB12CD34EF56GH78IJ90KL",
        "screenshots": screenshots,
    });
    let reports = run_script("demarches-journey.mjs", &run, &screenshots).await;
    assert_axe_clean(&reports, 12);
    let portal = report_of(&reports, "portal-list")["items"].to_string();
    for level in ["eidas1", "eidas2", "eidas3"] {
        assert!(portal.contains(&format!("niveau {level}")), "{portal}");
    }
    let citizen = &federation.running.citizens[0];
    assert!(
        report_of(&reports, "ants-identity")["known"]
            .to_string()
            .contains(&citizen.family_name)
    );
    assert!(
        report_of(&reports, "ants-photo-code-alert")["text"]
            .to_string()
            .contains("Code photo : 22 lettres et chiffres")
    );
    assert!(
        report_of(&reports, "ants-in-progress-alert")["text"]
            .to_string()
            .contains("Vous avez déjà une démarche « Demande de permis de conduire » en cours")
    );
    assert!(
        report_of(&reports, "ants-filed-text")["text"]
            .to_string()
            .contains("enregistrée sous le numéro PERMIS-")
    );
    let done = reports
        .iter()
        .find(|report| report["done"] == true)
        .unwrap();
    // The refusals' own statuses (422 for the photo code, 409 for the
    // second application) are the only console errors.
    let unexpected: Vec<&Value> = done["console_errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|error| {
            let text = error.as_str().unwrap_or_default();
            !text.ends_with("status of 422 (Unprocessable Entity)")
                && !text.ends_with("status of 409 (Conflict)")
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    for name in [
        "portal",
        "ants-step-contact",
        "ants-already-in-progress",
        "ants-filed",
    ] {
        assert!(screenshots.join(format!("{name}.png")).exists(), "{name}");
    }
    if std::env::var_os("PASSERELLE_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["portal", "ants-step-contact"] {
            std::fs::copy(
                screenshots.join(format!("{name}.png")),
                docs.join(format!("demarches-{name}.png")),
            )
            .unwrap();
        }
    }
}

/// Issue 15: the language switch of every site with a page, opened with
/// every way out an attacker could write in a link (tab, newline,
/// backslash, encoded slashes, `//host`, `/.//host`, `@`, absolute and
/// `javascript:` URLs): Chromium always lands on the same site, never asks
/// another host for anything, and no dialog opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_return_address_takes_chromium_off_the_site_on_any_site_of_the_federation() {
    let federation = Federation::builder().without_rogue().start().await.unwrap();
    let screenshots = screenshots_dir("browser-redirects");
    // The register answers JSON only, and the rogue provider is the
    // tests' own: neither has a switch.
    let sites: serde_json::Map<String, Value> = federation
        .urls
        .iter()
        .filter(|(name, _)| !["register", "rogue"].contains(&name.as_str()))
        .map(|(name, url)| (name.clone(), json!(url)))
        .collect();
    for part in [
        "hub_standard",
        "hub_plus",
        "impots",
        "ameli",
        "laposte",
        "ants",
        "msa",
        "yris",
        "wallet",
        "demo_sp",
        "dashboard",
    ] {
        assert!(sites.contains_key(part), "{part} is not running: {sites:?}");
    }
    let run = json!({ "sites": sites, "screenshots": screenshots });
    let reports = run_script("redirect-journey.mjs", &run, &screenshots).await;
    let escapes: Vec<&Value> = reports
        .iter()
        .filter(|report| report.get("payload").is_some())
        .collect();
    assert!(escapes.is_empty(), "{escapes:#?}");
    let checked: Vec<&Value> = reports
        .iter()
        .filter(|report| report.get("tried").is_some())
        .collect();
    assert_eq!(checked.len(), sites.len(), "{reports:#?}");
    for site in &checked {
        assert!(site["tried"].as_u64().unwrap() >= 30, "{site}");
        // Refused targets go home; only the harmless ones stay as given.
        assert!(
            site["landings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|landing| landing.as_str().is_some_and(|path| path.starts_with('/'))),
            "{site}"
        );
    }
    let done = reports
        .iter()
        .find(|report| report["done"] == true)
        .unwrap();
    assert_eq!(done["offsite"], json!([]), "no request left the site");
    assert_eq!(done["dialogs"], json!([]), "no script ran");
}

/// What every journey must show.
fn check_journey(federation: &Federation, reports: &[Value], screenshots: &Path) {
    let find = |page: &str| report_of(reports, page);
    assert_axe_clean(reports, 17);
    assert_eq!(find("choice")["title"], "Choisir un compte – Passerelle");

    // Keyboard: the skip link comes first.
    assert_eq!(find("choice-keyboard")["first_focus"], "Aller au contenu");
    // Single sign-on: the dashboard lists both connections.
    let rows = find("dashboard-history")["rows"].to_string();
    assert!(rows.contains("Service de démonstration"), "{rows}");
    assert!(rows.contains("Tableau de bord"), "{rows}");
    // Logout from one service ended both.
    let text = find("logged-out-text")["text"].to_string();
    assert!(
        text.contains("déconnecté de ce service et de Passerelle"),
        "{text}"
    );
    assert_eq!(find("dashboard-after-logout")["ended"], true);
    // The account pages: a refused input is named, the captcha is drawn.
    assert_eq!(
        find("signup-impots-alert")["text"],
        "Le numéro fiscal doit comporter 13 chiffres."
    );
    assert_eq!(find("signup-ants-captcha")["loaded"], true);
    let done = reports
        .iter()
        .find(|report| report["done"] == true)
        .unwrap();
    assert_eq!(
        done["console_errors"],
        json!([]),
        "no console error on any page"
    );

    // The notification mails are in the outbox: one per connection.
    let mails = federation.mails();
    let subjects: Vec<&str> = mails
        .iter()
        .map(|mail| mail.message.subject.as_str())
        .collect();
    assert!(
        subjects.contains(&"Connexion à Service de démonstration avec Passerelle")
            && subjects.contains(&"Connexion à Tableau de bord avec Passerelle"),
        "{subjects:?}"
    );

    for name in ["choice", "consent", "dashboard", "logged-out"] {
        assert!(screenshots.join(format!("{name}.png")).exists(), "{name}");
    }
}
