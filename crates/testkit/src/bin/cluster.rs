//! `scripts/cluster`: the cluster scenario of issue 16 for people. Starts
//! the federation as separate processes behind HAProxy, on a PostgreSQL and
//! a Redis of its own, puts it under load, kills a hub, restarts Redis then
//! PostgreSQL, and prints the figures (Markdown, as docs/deploy.md shows
//! them).
//!
//! Usage: cluster PASSERELLE_BINARY [USERS] [SECONDS_PER_PHASE]

use std::path::PathBuf;
use std::time::Duration;

use testkit::cluster::{Cluster, run_scenario};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let binary =
        PathBuf::from(args.next().ok_or_else(|| {
            anyhow::anyhow!("usage: cluster PASSERELLE_BINARY [USERS] [SECONDS]")
        })?);
    let users = args.next().map_or(Ok(50), |users| users.parse())?;
    let seconds = args.next().map_or(Ok(10), |seconds| seconds.parse())?;
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
