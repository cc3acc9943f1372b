//! The binary as an operator runs it.
#![expect(clippy::unwrap_used, reason = "test code: a failure is a failed test")]

use std::process::Command;

fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("passerelle-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_setting_stops_the_process_and_names_its_path() {
    let bad = passerelle::DEMO_CONFIG.replacen(
        "redirect_uris = [\"http://127.0.0.1:7084/callback/standard\"]",
        "redirect_uris = [\"/callback\"]",
        1,
    );
    let path = config_file("bad", &bad);
    for command in ["check", "hub"] {
        let (ok, stderr) = run(&[command, "--config", path.to_str().unwrap()]);
        assert!(!ok, "{command} must fail");
        assert!(
            stderr.contains("hub.standard.services[0].redirect_uris[0]"),
            "{command}: {stderr}"
        );
    }
    let (ok, stderr) = run(&[
        "check",
        "--config",
        config_file("typo", "[hub.standard]\npublic_urll = \"x\"\n")
            .to_str()
            .unwrap(),
    ]);
    assert!(!ok);
    assert!(stderr.contains("unknown field"), "{stderr}");
}

#[test]
fn the_example_config_checks_clean() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/example.toml");
    let (ok, stderr) = run(&["check", "--config", example]);
    assert!(ok, "{stderr}");
}

#[test]
fn keys_rotate_adds_current_keys_and_retires_the_old_ones() {
    let data = std::env::temp_dir().join(format!("passerelle-cli-{}-rotate", std::process::id()));
    let data_arg = data.to_str().unwrap();
    let (ok, stderr) = run(&[
        "keys",
        "rotate",
        "--data",
        data_arg,
        "--part",
        "hub_standard",
    ]);
    assert!(
        !ok && stderr.contains("start the part once first"),
        "{stderr}"
    );
    let before =
        passerelle::keys::load_or_generate(Some(&data.join("keys")), "hub_standard", 0).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args([
            "keys",
            "rotate",
            "--data",
            data_arg,
            "--part",
            "hub_standard",
            "--grace-hours",
            "2",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for key in before.keys() {
        assert!(stdout.contains(key.kid()), "{stdout}");
    }
    let now = oidc::Clock::now(&oidc::SystemClock);
    let after =
        passerelle::keys::load_or_generate(Some(&data.join("keys")), "hub_standard", now).unwrap();
    assert_eq!(after.keys().len(), 4);
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test]
async fn the_population_exports_as_csv_and_a_config_can_use_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["population", "--size", "12"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let csv = String::from_utf8(output.stdout).unwrap();
    let people = population::parse_csv(&csv).unwrap();
    assert_eq!(people.len(), 12);
    assert_eq!(people[0].family_name, "DUPONT");
    let path = config_file("population.csv", &csv);
    let config = passerelle::Config::parse(
        &format!(
            "[population]\ncsv = \"{}\"\n[register]\npublic_url = \"http://127.0.0.1:1\"\n",
            path.display()
        ),
        [],
    )
    .unwrap();
    assert_eq!(config.population.csv.as_deref(), Some(path.as_path()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = passerelle::Options {
        data_dir: None,
        clock: std::sync::Arc::new(oidc::FakeClock::at(1_800_000_000)),
        listeners: [("register".to_owned(), listener)].into_iter().collect(),
    };
    let running = passerelle::start(&config, options).await.unwrap();
    assert_eq!(running.citizens.as_slice(), people.as_slice());
}

/// Issue 16, point 3: the wallet provider runs alone from the whole
/// config, as each part does: only it listens, and it answers its health
/// checks.
#[tokio::test]
async fn the_wallet_provider_runs_alone_from_one_config() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = std::env::temp_dir().join(format!("passerelle-cli-wallet-{}", std::process::id()));
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo.toml");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args([
            "idp-wallet",
            "--log-format",
            "json",
            "--config",
            demo,
            "--data",
        ])
        .arg(&data)
        .env("PASSERELLE__LISTEN__WALLET", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info,web=debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The process prints a line for each part it serves, once serving.
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stdout.read_line(&mut printed),
    )
    .await;
    assert!(
        matches!(first, Ok(Ok(n)) if n > 0),
        "the wallet provider printed nothing"
    );
    let answer = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .header("x-request-id", "cli-test.1")
        .send()
        .await;
    let ready = answer.as_ref().is_ok_and(|answer| answer.status() == 200);
    let echoed = answer.ok().and_then(|answer| {
        let id = answer.headers().get("x-request-id")?.to_str().ok()?;
        Some(id.to_owned())
    });
    child.kill().await.unwrap();
    stdout.read_to_string(&mut printed).await.unwrap();
    let mut logs = String::new();
    let mut stderr = child.stderr.take().unwrap();
    stderr.read_to_string(&mut logs).await.unwrap();
    assert!(ready, "the wallet provider is not ready: {printed}");
    // --log-format json: every line an object; the request under its id.
    assert_eq!(echoed.as_deref(), Some("cli-test.1"));
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        lines.iter().any(|line| line["message"] == "served"
            && line["span"]["id"] == "cli-test.1"
            && line["span"]["route"] == "/readyz"
            && line["span"]["part"] == "wallet"),
        "{logs}"
    );
    assert_eq!(
        printed.lines().count(),
        1,
        "only the wallet provider: {printed}"
    );
    let _ = std::fs::remove_dir_all(&data);
}
