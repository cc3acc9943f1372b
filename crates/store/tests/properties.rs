//! Properties that hold for every input (docs/security.md, « Properties »):
//!
//! - a code is redeemed at most once, whatever the order of puts, takes and
//!   time passing, and whatever the interleaving of concurrent takers;
//! - a sealed value opens only under the capability that sealed it, and
//!   not at all once any bit of it changed.
//!
//! The code properties run on the memory and SQLite backends; the
//! storage contract (`contract.rs`) runs its fixed cases on all four.
#![expect(
    clippy::unwrap_used,
    reason = "the backends are built outside the #[test] fns, where clippy does not see a test"
)]

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use store::sealed::Capability;
use store::{StoreError, Stores, Taken};

/// One step of a code's life, on one of a few keys.
#[derive(Clone, Debug)]
enum Step {
    Put { key: u8, ttl: i64 },
    Take { key: u8 },
    Wait { secs: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..4, 1i64..30).prop_map(|(key, ttl)| Step::Put { key, ttl }),
        (0u8..4).prop_map(|key| Step::Take { key }),
        (0i64..20).prop_map(|secs| Step::Wait { secs }),
    ]
}

/// What the contract says of a code: its value, whether it was used, when
/// it expires.
struct Modelled {
    value: Vec<u8>,
    used: bool,
    expires_at: i64,
}

/// Runs `steps` on `stores` under keys of its own (`run`), checking each
/// answer against the contract's model, and that no value is ever given
/// out twice.
async fn follows_the_model(stores: &Stores, run: u64, steps: &[Step]) -> Result<(), String> {
    let mut model: HashMap<u8, Modelled> = HashMap::new();
    let mut given: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut now = 1_800_000_000;
    for (rank, step) in steps.iter().enumerate() {
        match *step {
            Step::Wait { secs } => now += secs,
            Step::Put { key, ttl } => {
                let name = format!("run{run}-code{key}");
                let value = format!("run{run}-value{rank}").into_bytes();
                let put = stores.codes.put(&name, &value, now + ttl).await;
                let live = model.get(&key).is_some_and(|code| now < code.expires_at);
                match put {
                    Ok(()) if !live => {
                        model.insert(
                            key,
                            Modelled {
                                value,
                                used: false,
                                expires_at: now + ttl,
                            },
                        );
                    }
                    // Kept until purged: an expired key may still conflict.
                    Err(StoreError::Conflict) if model.contains_key(&key) => {}
                    other => return Err(format!("step {rank} {step:?}: put gave {other:?}")),
                }
            }
            Step::Take { key } => {
                let name = format!("run{run}-code{key}");
                let taken = stores
                    .codes
                    .take(&name, now)
                    .await
                    .map_err(|error| format!("step {rank}: {error}"))?;
                let expected = match model.get_mut(&key) {
                    Some(code) if now < code.expires_at && code.used => Taken::Replayed,
                    Some(code) if now < code.expires_at => {
                        code.used = true;
                        Taken::Fresh(code.value.clone())
                    }
                    _ => Taken::Missing,
                };
                if taken != expected {
                    return Err(format!("step {rank} {step:?}: {taken:?}, not {expected:?}"));
                }
                if let Taken::Fresh(value) = taken {
                    *given.entry(value).or_default() += 1;
                }
            }
        }
    }
    match given.iter().find(|(_, times)| **times > 1) {
        Some((value, times)) => Err(format!("{value:?} given {times} times")),
        None => Ok(()),
    }
}

/// `takers` take one code at once, each after `yields[i]` yields to the
/// scheduler, so that every case interleaves them differently: how many
/// got it fresh, and how many were told of a replay.
async fn concurrent_takes(stores: &Stores, run: u64, yields: &[u8]) -> (usize, usize) {
    let name = format!("run{run}-shared");
    let now = 1_800_000_000;
    let Ok(()) = stores.codes.put(&name, b"grant", now + 60).await else {
        return (0, 0);
    };
    let name = Arc::new(name);
    let tasks: Vec<_> = yields
        .iter()
        .map(|&yields| {
            let codes = stores.codes.clone();
            let name = name.clone();
            tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                codes.take(&name, now).await
            })
        })
        .collect();
    let (mut fresh, mut replayed) = (0, 0);
    for task in tasks {
        match task.await {
            Ok(Ok(Taken::Fresh(_))) => fresh += 1,
            Ok(Ok(Taken::Replayed)) => replayed += 1,
            _ => {}
        }
    }
    (fresh, replayed)
}

/// The backends the properties run on, with a runtime to drive them.
struct Backends {
    runtime: tokio::runtime::Runtime,
    stores: Vec<(&'static str, Stores)>,
    folder: std::path::PathBuf,
    runs: std::sync::atomic::AtomicU64,
}

impl Backends {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let name = format!("passerelle-properties-{:016x}", rand::random::<u64>());
        let folder = std::env::temp_dir().join(name);
        let sqlite = runtime
            .block_on(Stores::sqlite(&folder.join("store.db")))
            .unwrap();
        Self {
            runtime,
            stores: vec![("memory", Stores::memory()), ("sqlite", sqlite)],
            folder,
            runs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A number no other case of this process uses, for its keys.
    fn run(&self) -> u64 {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Backends {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

fn backends() -> &'static Backends {
    static BACKENDS: std::sync::LazyLock<Backends> = std::sync::LazyLock::new(Backends::new);
    &BACKENDS
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_code_is_redeemed_at_most_once_whatever_the_order(
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let backends = backends();
        for (backend, stores) in &backends.stores {
            let run = backends.run();
            let outcome = backends.runtime.block_on(follows_the_model(stores, run, &steps));
            prop_assert!(outcome.is_ok(), "{backend}: {outcome:?}");
        }
    }

    #[test]
    fn concurrent_takers_get_a_code_once_whatever_the_interleaving(
        yields in prop::collection::vec(0u8..8, 2..12),
    ) {
        let backends = backends();
        for (backend, stores) in &backends.stores {
            let run = backends.run();
            let (fresh, replayed) =
                backends.runtime.block_on(concurrent_takes(stores, run, &yields));
            prop_assert_eq!(
                (fresh, replayed),
                (1, yields.len() - 1),
                "{} with {:?}",
                backend,
                yields
            );
        }
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_capability(
        plaintext in prop::collection::vec(any::<u8>(), 0..256),
        mine in any::<[u8; 32]>(),
        theirs in any::<[u8; 32]>(),
    ) {
        let sealed = Capability::from_secret(mine).seal(&plaintext);
        prop_assert_eq!(
            Capability::from_secret(mine).open(&sealed).ok(),
            Some(plaintext)
        );
        if theirs != mine {
            prop_assert!(Capability::from_secret(theirs).open(&sealed).is_err());
        }
    }

    #[test]
    fn a_sealed_value_with_any_bit_changed_does_not_open(
        plaintext in prop::collection::vec(any::<u8>(), 0..256),
        secret in any::<[u8; 32]>(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let capability = Capability::from_secret(secret);
        let mut sealed = capability.seal(&plaintext);
        let at = at.index(sealed.len());
        sealed[at] ^= 1 << bit;
        prop_assert!(capability.open(&sealed).is_err());
    }

    #[test]
    fn a_sealed_value_cut_anywhere_does_not_open(
        plaintext in prop::collection::vec(any::<u8>(), 0..256),
        secret in any::<[u8; 32]>(),
        keep in any::<prop::sample::Index>(),
    ) {
        let capability = Capability::from_secret(secret);
        let sealed = capability.seal(&plaintext);
        let keep = keep.index(sealed.len());
        prop_assert!(capability.open(&sealed[..keep]).is_err());
    }
}
