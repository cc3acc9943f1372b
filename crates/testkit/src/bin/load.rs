//! The project's load tool against a running Passerelle (`passerelle demo`
//! by default): virtual users log in to the sandbox service through the
//! hub, full logins or single sign-on, every ID token verified; prints
//! logins per second, latency percentiles, failures by kind and, given the
//! server's pid (Linux), the CPU it used per login and its peak RSS.
//!
//! With `--tokens N`, the token endpoint alone: N codes minted ahead by
//! single sign-on, then redeemed by the users all at once; the server's CPU
//! is read around the redemptions only, once it has finished the minting's
//! work (its connection emails). Every ID token is verified once the last
//! is in: verifying as they come made this tool's core the limit.
//!
//! With `--instant ADDR`, full logins through a provider that asks for
//! nothing, served by this tool on ADDR ([`testkit::InstantProvider`]): the
//! hub's own work on a full brokered login, without the password
//! providers' Argon2id bounding the rate. The hub must know it:
//! `load --instant-config URL` prints the block of its config.
//!
//! With `--floor ADDR`, no load: it serves on ADDR, until killed, the
//! floor of a request on this machine ([`testkit::serve_floor`]: the same
//! `--bytes N` to every request, on the hub's HTTP stack, with no router
//! and no handler), for `wrk` to measure beside the hub's discovery
//! document and JWKS.
//!
//! Usage: load [--hub URL] [--users N] [--seconds S] [--sso | --tokens N | --instant ADDR]
//!             [--pid PID] [--around CMD]
//!        load --instant-config URL
//!        load --floor ADDR [--bytes N]
//!
//! `--around CMD` runs `CMD start` just before the measured part and
//! `CMD stop` just after it, through `sh -c`: a profiler's switch, such as
//! `callgrind_control -z` and `-d` (instructions counted over the
//! redemptions alone), or starting and stopping `perf record`.
//!
//! A short run is a test (`crates/testkit/tests/federation.rs`); its figures are
//! measurements, not tests (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use testkit::load::{
    Load, Minted, Report, Target, process_cpu_seconds as cpu_seconds, process_peak_mib as peak_mib,
};

const USAGE: &str = "usage: load [--hub URL] [--users N] [--seconds S] \
                     [--sso | --tokens N | --instant ADDR] [--pid PID] [--around CMD]\n       \
                     load --instant-config URL\n       \
                     load --floor ADDR [--bytes N]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut hub = "http://127.0.0.1:7080".to_owned();
    let (mut users, mut seconds, mut sso, mut pid) = (16_usize, 20_u64, false, None);
    let (mut tokens, mut around, mut instant) = (None, None, None);
    let (mut floor, mut bytes) = (None, 667_usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("a value is missing after an option");
        match arg.as_str() {
            "--hub" => hub = value()?,
            "--users" => users = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            "--pid" => pid = Some(value()?.parse::<u32>()?),
            "--sso" => sso = true,
            "--tokens" => tokens = Some(value()?.parse::<usize>()?),
            "--around" => around = Some(Around(value()?)),
            "--instant" => instant = Some(value()?),
            "--floor" => floor = Some(value()?),
            "--bytes" => bytes = value()?.parse()?,
            "--instant-config" => {
                print!("{}", testkit::InstantProvider::hub_config(&value()?));
                return Ok(());
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown option {other}; {USAGE}"),
        }
    }
    if let Some(address) = floor {
        let listener = listen(&address).await?;
        println!("the floor: {bytes} bytes to every request on {address}");
        testkit::serve_floor(listener, bytes).await;
        return Ok(());
    }
    anyhow::ensure!(
        !(instant.is_some() && (sso || tokens.is_some())),
        "--instant is for full logins; {USAGE}"
    );
    // The demo's first citizens with a seeded impots account, the dead
    // left out (the register refuses them on purpose).
    let people: Vec<_> = population::generate(population::DEFAULT_SEED, 20)
        .into_iter()
        .filter(|citizen| citizen.deceased_on.is_none())
        .collect();
    let logins = people
        .iter()
        .map(|citizen| idp_password::login_of(citizen, idp_password::LoginKind::TaxNumber))
        .collect();
    let provider = match &instant {
        Some(address) => {
            let listener = listen(address).await?;
            let clock = std::sync::Arc::new(oidc::SystemClock);
            testkit::InstantProvider::start(listener, people, clock).await?;
            testkit::INSTANT_ID
        }
        None => "impots",
    };
    let target = Target {
        hub,
        provider: provider.into(),
        logins,
        password: testkit::PASSWORD.into(),
        client_id: testkit::SANDBOX_ID.into(),
        client_secret: testkit::SANDBOX_SECRET.into(),
        redirect_uri: testkit::SANDBOX_CALLBACK.into(),
        sso,
    };
    if let Some(codes) = tokens {
        return redeem(target, users, codes, pid, around).await;
    }
    let cpu_before = pid.and_then(cpu_seconds);
    Around::run(&around, "start")?;
    let load = Load::start(target, users);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = load.elapsed();
    let report = load.stop().await;
    Around::run(&around, "stop")?;
    let what = match (sso, &instant) {
        (true, _) => "single sign-on logins",
        (false, None) => "full logins",
        (false, Some(_)) => "full logins through the instant provider",
    };
    print_run(what, &report, elapsed, cpu_since(pid, cpu_before), pid);
    Ok(())
}

/// A listener on `address`, for what this tool serves.
async fn listen(address: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// The token endpoint alone: codes minted, the server left to finish what
/// minting gave it, then every code redeemed at once.
async fn redeem(
    target: Target,
    users: usize,
    codes: usize,
    pid: Option<u32>,
    around: Option<Around>,
) -> anyhow::Result<()> {
    let minted = Minted::mint(target, users, codes).await;
    println!("minted {} codes", minted.count());
    print_failures(&minted.report);
    anyhow::ensure!(minted.count() > 0, "no code could be minted");
    if let Some(pid) = pid {
        settle(pid).await;
    }
    let cpu_before = pid.and_then(cpu_seconds);
    Around::run(&around, "start")?;
    let (report, elapsed) = minted.redeem().await;
    Around::run(&around, "stop")?;
    let cpu = cpu_since(pid, cpu_before);
    print_run("codes redeemed", &report, elapsed, cpu, pid);
    Ok(())
}

/// The command of `--around`.
struct Around(String);

impl Around {
    /// Runs `CMD start` or `CMD stop`, when there is a command; its
    /// failure stops the run.
    fn run(around: &Option<Self>, what: &str) -> anyhow::Result<()> {
        let Some(Around(command)) = around else {
            return Ok(());
        };
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} {what}"))
            .status()
            .with_context(|| format!("cannot run {command} {what}"))?;
        anyhow::ensure!(status.success(), "{command} {what}: {status}");
        Ok(())
    }
}

/// The server's CPU seconds since `before`.
fn cpu_since(pid: Option<u32>, before: Option<f64>) -> Option<f64> {
    pid.and_then(cpu_seconds)
        .zip(before)
        .map(|(after, before)| after - before)
}

/// Prints what a run did: how many went through and how fast, the
/// failures, and, given the server's pid, its CPU for each and its peak
/// memory.
fn print_run(what: &str, report: &Report, elapsed: Duration, cpu: Option<f64>, pid: Option<u32>) {
    let done = report.completed.len();
    let elapsed = elapsed.as_secs_f64();
    let ms = |p| report.percentile(p).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    println!(
        "{what}: {done} in {elapsed:.2} s, {:.1}/s; p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
        done as f64 / elapsed,
        ms(50),
        ms(95),
        ms(99)
    );
    print_failures(report);
    if let (Some(cpu), Some(pid)) = (cpu, pid) {
        let each = if done > 0 {
            cpu * 1e6 / done as f64
        } else {
            0.0
        };
        println!(
            "server {pid}: {cpu:.2} s CPU ({:.0} % of a core), {each:.0} µs each ({:.0} a second a \
             core); peak RSS {:.1} MiB",
            cpu * 100.0 / elapsed,
            if each > 0.0 { 1e6 / each } else { 0.0 },
            peak_mib(pid).unwrap_or(0.0)
        );
    }
}

/// Waits (10 s at most) until the server has used no CPU for half a
/// second: the emails and trail entries of the minted logins are done.
async fn settle(pid: u32) {
    let mut last = cpu_seconds(pid);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_seconds(pid);
        if now.zip(last).is_some_and(|(now, last)| now - last < 0.011) {
            return;
        }
        last = now;
    }
}

fn print_failures(report: &Report) {
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for failure in &report.failures {
        *failures
            .entry(format!("{} {:?}", failure.step, failure.kind))
            .or_default() += 1;
    }
    println!(
        "abandoned {}; failed requests {}",
        report.abandoned,
        report.failures.len()
    );
    for (what, count) in failures {
        println!("  {count} × {what}");
    }
}
