//! Issue 16, point 4: the federation as separate processes behind HAProxy
//! (three hubs, the password provider, the register, PostgreSQL, Redis),
//! under 50 concurrent logins of the project's load tool, through a
//! `kill -9` of a hub, a Redis restart and a PostgreSQL restart
//! (crates/testkit/src/cluster.rs). `scripts/cluster` runs the same
//! scenario for people and prints the figures docs/deploy.md shows.

use std::path::Path;
use std::time::Duration;

use testkit::cluster::{Cluster, run_scenario};
use testkit::load::Kind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_loses_no_login_and_no_mail_through_a_kill_and_two_outages() {
    let mut cluster = Cluster::start(Path::new(env!("CARGO_BIN_EXE_passerelle")))
        .await
        .unwrap();
    let figures = run_scenario(
        &mut cluster,
        50,
        Duration::from_secs(6),
        // Longer than the 5 s a request waits for a PostgreSQL connection.
        Duration::from_secs(7),
    )
    .await
    .unwrap();
    println!("{}", figures.table());
    let report = &figures.report;
    // A provider whose password checks are all taken answers 503 with
    // `Retry-After`, and the user sends the form again: expected under this
    // load, in every phase. The other failures are the faults'.
    let faults: Vec<_> = report
        .failures
        .iter()
        .filter(|failure| failure.kind != Kind::Busy)
        .collect();
    let logs = cluster.logs().display().to_string();
    let phase = |name: &str| figures.phase(name).unwrap();

    // Steady: every login goes through, nothing fails.
    let steady = phase("steady");
    assert!(steady.completed > 0, "{}", figures.table());
    let steady_faults: Vec<_> = faults
        .iter()
        .filter(|failure| failure.at < steady.to)
        .collect();
    assert!(steady_faults.is_empty(), "{steady_faults:#?}");

    // Never a 5xx from a process that was running, in any phase.
    let server_errors: Vec<_> = faults
        .iter()
        .filter(|failure| matches!(failure.kind, Kind::Server(_)))
        .collect();
    assert!(
        server_errors.is_empty(),
        "{server_errors:#?} (logs: {logs})"
    );

    // The kill: the logins completed before it go on (their tokens read
    // the userinfo on the survivors); failures only while HAProxy learns
    // of it, and only from the dead process (no answer, or HAProxy's
    // own 502/503); logins go on through it.
    let kill = phase("kill -9 of a hub");
    assert!(
        figures.sessions_lost.is_empty(),
        "{:?}",
        figures.sessions_lost
    );
    let killed = kill.fault.unwrap();
    for failure in faults
        .iter()
        .filter(|failure| failure.at >= kill.from && failure.at < kill.to)
    {
        assert!(
            failure.at < killed + Duration::from_secs(3),
            "a failure long after the kill: {failure:?}"
        );
        assert!(
            !matches!(failure.kind, Kind::Unavailable),
            "a survivor said unavailable: {failure:?}"
        );
    }
    assert!(kill.completed > 0, "{}", figures.table());

    // Each outage: while it lasts, the pages say « service indisponible »
    // (503) or the request gets no answer; within 5 s of the server's
    // return, logins succeed again.
    for name in ["Redis stopped, started", "PostgreSQL stopped, started"] {
        let outage = phase(name);
        let (stopped, restored) = (outage.fault.unwrap(), outage.restored.unwrap());
        let recovery = outage.recovery.expect("logins after the outage");
        assert!(
            recovery < Duration::from_secs(5),
            "{name}: {recovery:?}\n{}",
            figures.table()
        );
        for failure in faults
            .iter()
            .filter(|failure| failure.at >= outage.from && failure.at < outage.to)
        {
            // A request begun while it was down may wait 5 s for it.
            assert!(
                failure.at >= stopped && failure.at < restored + Duration::from_secs(6),
                "{name}: a failure outside the outage: {failure:?}"
            );
        }
        let unavailable = faults
            .iter()
            .filter(|failure| failure.at >= stopped && failure.at < restored)
            .filter(|failure| failure.kind == Kind::Unavailable)
            .count();
        assert!(unavailable > 0, "{name}: {}", figures.table());
    }

    // The same people logged in at once through different hub processes:
    // every trail is one unbroken chain, as the dashboard checks it.
    assert!(
        figures.trails.1 >= report.completed.len(),
        "{}",
        figures.table()
    );
    assert!(
        figures.trail_findings.is_empty(),
        "{:#?}",
        figures.trail_findings
    );

    // Every login that completed had its connection email, each with its
    // id; duplicates are allowed (at least once) and counted.
    assert_eq!(figures.mails_without_id, 0);
    assert!(
        figures.mails_missing.is_empty(),
        "{:?} (logs: {logs})",
        figures.mails_missing
    );
    // A hub keeps its connections to the relay from message to message
    // (up to four): new ones only at a start, after a kill, or after a
    // failed attempt, never one a message (a STARTTLS handshake each).
    assert!(
        figures.relay_connections * 10 <= figures.mails,
        "{}",
        figures.table()
    );
}
