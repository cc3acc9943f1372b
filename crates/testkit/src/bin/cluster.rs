//! `scripts/cluster`: the cluster scenario of issue 16 for people. Starts
//! the federation as separate processes behind HAProxy, on a PostgreSQL and
//! a Redis of its own, puts it under load, kills a hub, restarts Redis then
//! PostgreSQL, and prints the figures (Markdown, as docs/deploy.md shows
//! them).
//!
//! With `--bench`, no faults: full logins (through the password provider,
//! then through the instant one, which asks for no password), then single
//! sign-on logins, each for the given time, and the hubs' CPU a login, its
//! connection email delivered, and peak memory (issue 18: the hub on
//! PostgreSQL and Redis, one process or several behind HAProxy).
//! `--relay-ms` puts the relay that far away, as a deployment's is: it
//! waits that long before each answer.
//!
//! Usage: cluster PASSERELLE_BINARY [USERS] [SECONDS_PER_PHASE]
//!        cluster PASSERELLE_BINARY --bench [--hubs N] [--hub-cpus LIST] [--users N] [--seconds S] [--relay-ms MS]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use testkit::cluster::{Cluster, HUBS, run_scenario};
use testkit::load::{
    Load, Target, machine_cpu_seconds, process_cpu_seconds, process_peak_mib,
    process_tree_cpu_seconds,
};

const USAGE: &str = "usage: cluster PASSERELLE_BINARY [USERS] [SECONDS]\n       cluster PASSERELLE_BINARY --bench [--hubs N] [--hub-cpus LIST] [--users N] [--seconds S] [--relay-ms MS]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().context(USAGE)?);
    let rest: Vec<String> = args.collect();
    if rest.first().map(String::as_str) == Some("--bench") {
        return bench(binary, rest.get(1..).unwrap_or_default()).await;
    }
    let users = rest.first().map_or(Ok(50), |users| users.parse())?;
    let seconds = rest.get(1).map_or(Ok(10), |seconds| seconds.parse())?;
    eprintln!("starting the cluster…");
    let mut cluster = Cluster::start(&binary).await?;
    eprintln!(
        "HAProxy at {}; logs in {}; {users} users, {seconds} s per phase",
        cluster.hub,
        cluster.logs().display()
    );
    let figures = run_scenario(
        &mut cluster,
        users,
        Duration::from_secs(seconds),
        Duration::from_secs(7),
    )
    .await?;
    println!("{}", figures.table());
    Ok(())
}

async fn bench(binary: PathBuf, options: &[String]) -> anyhow::Result<()> {
    let (mut hubs, mut hub_cpus, mut users, mut seconds) = (HUBS, None, 16_usize, 15_u64);
    let mut relay_ms = 0.0_f64;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let mut value = || options.next().context(USAGE);
        match option.as_str() {
            "--hubs" => hubs = value()?.parse()?,
            "--hub-cpus" => hub_cpus = Some(value()?.clone()),
            "--users" => users = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            "--relay-ms" => relay_ms = value()?.parse()?,
            other => anyhow::bail!("unknown option {other}\n{USAGE}"),
        }
    }
    eprintln!("starting the cluster ({hubs} hubs)…");
    let cluster = Cluster::start_with(&binary, hubs, hub_cpus.as_deref()).await?;
    let round_trip = Duration::try_from_secs_f64(relay_ms / 1e3).context("--relay-ms")?;
    cluster.smtp.set_round_trip(round_trip);
    let pids = cluster.hub_pids();
    let idle: f64 = pids.iter().filter_map(|pid| process_peak_mib(*pid)).sum();
    println!(
        "{hubs} hub process(es){} behind HAProxy, on PostgreSQL and Redis; a relay {relay_ms} ms away; {users} users, {seconds} s a mode; the hubs' peak RSS at start: {idle:.1} MiB in all\n",
        hub_cpus
            .as_deref()
            .map(|cpus| format!(" on CPU {cpus}"))
            .unwrap_or_default()
    );
    println!(
        "| mode | logins/s | p50 | p95 | p99 | failed requests | the hubs' CPU a login | PostgreSQL's, Redis' CPU a login | the machine's CPU a login | the hubs' peak RSS | mails, relay connections, the last one after the mode |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let postgres_pid = cluster.postgres.pid();
    let redis_pid = cluster.redis.pid();
    let store_cpu = || {
        (
            postgres_pid.and_then(process_tree_cpu_seconds),
            redis_pid.and_then(process_cpu_seconds),
        )
    };
    let modes = [
        ("full brokered login (impots, Argon2id)", cluster.target()),
        (
            "full brokered login (the instant provider)",
            cluster.instant_target(),
        ),
        (
            "single sign-on",
            Target {
                sso: true,
                ..cluster.target()
            },
        ),
    ];
    for (mode, target) in modes {
        let hubs_before: f64 = pids
            .iter()
            .filter_map(|pid| process_cpu_seconds(*pid))
            .sum();
        let machine_before = machine_cpu_seconds();
        let (postgres_before, redis_before) = store_cpu();
        let relay_before = (cluster.smtp.received(), cluster.smtp.connections());
        let load = Load::start(target, users);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let elapsed = load.elapsed().as_secs_f64();
        let report = load.stop().await;
        let ended = tokio::time::Instant::now();
        // Each login queued its email; the relay, on the loaded core, takes
        // them more slowly than they come. Their delivery is a login's work
        // too: it is waited for (until one a login arrived, or none for 3 s)
        // before the CPU is read.
        let mut last = (cluster.smtp.received(), tokio::time::Instant::now());
        while last.0 - relay_before.0 < report.completed.len()
            && last.1.elapsed() < Duration::from_secs(3)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let received = cluster.smtp.received();
            if received > last.0 {
                last = (received, tokio::time::Instant::now());
            }
        }
        let hubs_cpu = pids
            .iter()
            .filter_map(|pid| process_cpu_seconds(*pid))
            .sum::<f64>()
            - hubs_before;
        let done = report.completed.len().max(1) as f64;
        let (postgres_after, redis_after) = store_cpu();
        let per_login = |after: Option<f64>, before: Option<f64>| {
            after.zip(before).map_or("?".into(), |(after, before)| {
                format!("{:.2}", (after - before) * 1e3 / done)
            })
        };
        let stores = format!(
            "{}, {} ms",
            per_login(postgres_after, postgres_before),
            per_login(redis_after, redis_before)
        );
        let machine_cpu = machine_cpu_seconds()
            .zip(machine_before)
            .map(|(after, before)| after - before);
        let ms = |p| report.percentile(p).map_or(0.0, |d| d.as_secs_f64() * 1e3);
        let peaks: Vec<String> = pids
            .iter()
            .filter_map(|pid| process_peak_mib(*pid))
            .map(|mib| format!("{mib:.1}"))
            .collect();
        let relay = format!(
            "{}, {}, {:.1} s",
            cluster.smtp.received() - relay_before.0,
            cluster.smtp.connections() - relay_before.1,
            last.1.saturating_duration_since(ended).as_secs_f64()
        );
        println!(
            "| {} | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {:.2} ms | {} | {} | {} MiB | {relay} |",
            mode,
            report.completed.len() as f64 / elapsed,
            ms(50),
            ms(95),
            ms(99),
            report.failures.len(),
            hubs_cpu * 1e3 / done,
            stores,
            machine_cpu.map_or("?".into(), |cpu| format!("{:.2} ms", cpu * 1e3 / done)),
            peaks.join(" / ")
        );
    }
    Ok(())
}
