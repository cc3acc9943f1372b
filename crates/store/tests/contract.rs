//! The storage contract: every case runs, unchanged, on every backend.
//! A new backend adds one module to the `contract!` macro and must pass.
#![expect(
    clippy::unwrap_used,
    reason = "the cases are plain async fns run by #[tokio::test] wrappers, which clippy does not see as tests"
)]

use std::path::{Path, PathBuf};

use store::{
    Account, AccountStatus, Backend, CertificationRequest, Confirmation, Dossier, DossierStatus,
    KeptProof, QrClaim, StoreError, Stores, Taken, TrailKey, WalletIdentity,
};

/// A folder of its own under the system temp dir, removed at drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let name = format!("passerelle-store-{:016x}", rand::random::<u64>());
        Self(std::env::temp_dir().join(name))
    }

    /// A database path in a folder that does not exist yet: opening must
    /// create it.
    fn db(&self) -> PathBuf {
        self.0.join("nested").join("store.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sqlite(path: &Path) -> Stores {
    Stores::sqlite(path).await.unwrap()
}

/// Generates, for each case, one test per backend and pairing:
/// `memory::case`, `sqlite::case`, `sqlite_memory::case` (what expires in
/// memory), `postgres::case`, `postgres_redis::case`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::NOW.scope(super::real_now(), super::$case(store::Stores::memory())).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let scratch = super::Scratch::new();
                    super::NOW
                        .scope(super::real_now(), super::$case(super::sqlite(&scratch.db()).await))
                        .await;
                }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let scratch = super::Scratch::new();
                    let stores = super::sqlite(&scratch.db()).await.with_memory_ephemeral();
                    super::NOW.scope(super::real_now(), super::$case(stores)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let database = super::PgScratch::new().await;
                    super::NOW
                        .scope(super::real_now(), super::$case(database.stores().await))
                        .await;
                    database.drop_now().await;
                }
            )*
        }
        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let database = super::PgScratch::new().await;
                    let stores = database
                        .stores()
                        .await
                        .with_redis(&super::redis_server(), &database.prefix())
                        .await
                        .unwrap();
                    super::NOW.scope(super::real_now(), super::$case(stores)).await;
                    database.drop_now().await;
                }
            )*
        }
    };
}

/// The server the PostgreSQL cases use: `PASSERELLE_TEST_POSTGRES`, else
/// the local one (127.0.0.1:5432, trust), which the test command starts.
fn postgres_server() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The Redis the ephemeral cases use: `PASSERELLE_TEST_REDIS`, else the
/// local one (127.0.0.1:6379), which the test command starts.
fn redis_server() -> String {
    std::env::var("PASSERELLE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A database of its own on the test server, migrated, dropped at the end.
struct PgScratch {
    name: String,
}

impl PgScratch {
    async fn new() -> Self {
        let name = format!("passerelle_test_{:016x}", rand::random::<u64>());
        let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        Self { name }
    }

    fn url(&self) -> String {
        format!("{}/{}", postgres_server(), self.name)
    }

    fn backend(&self) -> Backend {
        Backend::Postgres {
            url: self.url(),
            schema: "part".into(),
        }
    }

    /// The Redis key prefix of the same case: its keys expire by themselves.
    fn prefix(&self) -> String {
        format!("{}:", self.name)
    }

    async fn stores(&self) -> Stores {
        store::postgres::migrate(&self.url(), "part").await.unwrap();
        store::open(&self.backend()).await.unwrap()
    }

    async fn drop_now(self) {
        let admin = sqlx::PgPool::connect(&format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
    }
}

contract!(
    a_saved_session_loads_until_it_expires,
    saving_a_session_again_replaces_it,
    a_deleted_session_is_gone,
    a_code_can_be_taken_only_once,
    an_expired_or_unknown_code_is_missing,
    a_code_key_cannot_be_put_twice_even_after_use,
    concurrent_takes_give_the_code_to_exactly_one_taker,
    a_token_loads_many_times_until_it_expires,
    a_revoked_token_is_gone,
    a_token_key_cannot_be_put_twice,
    hits_are_counted_within_a_window_per_key,
    a_bound_holds_its_limit_and_refuses_past_it,
    a_hit_after_the_window_starts_a_new_one,
    reset_forgets_the_count,
    an_account_is_found_by_login_and_by_id,
    an_account_with_a_taken_id_or_login_is_refused,
    an_update_replaces_the_stored_account,
    updating_a_missing_account_is_not_found,
    updating_to_another_accounts_login_is_refused,
    every_write_counts_once_and_reads_count_nothing,
    purge_removes_only_expired_rows,
    outbox_messages_are_claimed_when_due_oldest_first,
    a_claimed_message_waits_for_its_lease_or_its_postponement,
    a_message_pushed_claimed_is_anothers_only_after_its_lease,
    concurrent_claims_give_each_message_to_one_worker,
    a_trail_is_chained_by_hash_and_kept_per_pseudonym,
    forgetting_old_entries_keeps_the_chain_going,
    concurrent_appends_never_fork_a_trail,
    a_trail_entry_made_under_another_key_does_not_verify,
    a_person_is_read_with_their_settings_and_appended_after,
    preferences_are_saved_and_replaced,
    revocations_are_read_in_order_after_a_cursor,
    revocations_are_purged_after_a_day,
    an_open_session_group_is_taken_whole_and_once,
    concurrent_takes_give_each_open_session_to_one_taker,
    one_draft_of_a_kind_per_person_and_service,
    the_bundle_answers_a_ping,
    a_dossier_is_updated_only_by_its_owner_at_its_service,
    a_person_s_dossiers_come_last_changed_first,
    a_wallet_identity_is_found_by_its_card_and_by_its_id,
    a_wallet_identity_with_a_taken_id_or_card_is_refused,
    a_wallet_identity_update_from_an_older_reading_is_refused,
    concurrent_updates_of_a_wallet_identity_keep_exactly_one,
    a_deleted_wallet_identity_is_gone_its_id_kept_and_its_card_free,
    a_deletion_link_names_its_identity_until_it_expires,
    an_identity_has_one_certification_request_in_course,
    a_certification_request_is_decided_once_and_kept_until_removed,
    concurrent_decisions_record_exactly_one,
    concurrent_requests_of_one_identity_store_exactly_one,
    a_proof_is_kept_and_used_once,
    concurrent_uses_of_a_proof_give_it_to_exactly_one_recipient,
    a_login_is_saved_replaced_and_finished,
    a_qr_reference_is_claimed_once_and_the_claim_names_its_login,
    a_replaced_or_expired_qr_reference_or_an_ended_login_is_unknown,
    concurrent_claims_give_the_login_to_exactly_one_app,
    a_mailed_code_confirms_once_and_wrong_guesses_run_out,
    concurrent_guesses_at_a_mailed_code_are_all_counted,
    a_use_is_marked_once_until_it_expires,
    concurrent_marks_give_exactly_one_first_use,
    the_wallet_stores_count_their_writes_and_not_their_reads,
    the_wallet_stores_purge_only_what_has_expired,
);

/// Runs `task(0)` … `task(n - 1)` at once, each on a task of its own, and
/// returns their outcomes in that order.
async fn at_once<T, F>(n: i64, task: impl Fn(i64) -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let at = now();
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(NOW.scope(at, task(i))))
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

/// How many of `outcomes` succeeded, and how many were refused as a
/// conflict.
fn done_and_refused<T>(outcomes: &[Result<T, StoreError>]) -> (usize, usize) {
    let done = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict)))
        .count();
    (done, refused)
}

tokio::task_local! {
    /// The time of the case running on this task (and its helpers').
    static NOW: i64;
}

std::thread_local! {
    /// The time of a test outside the contract, at its first call.
    static THREAD_NOW: i64 = real_now();
}

/// The time of the case that runs: the real clock's when it began, fixed
/// for the whole case. Redis expires keys by the real clock, so a time
/// fixed once for the whole binary would let its keys expire when the
/// binary runs for over a minute (a loaded machine).
fn now() -> i64 {
    NOW.try_with(|at| *at)
        .unwrap_or_else(|_| THREAD_NOW.with(|at| *at))
}

fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1_700_000_000, |since| since.as_secs() as i64)
}

fn key(id: &str, byte: u8) -> TrailKey {
    TrailKey {
        id: id.into(),
        secret: [byte; 32],
    }
}

fn k1() -> TrailKey {
    key("k1", 1)
}

fn account(id: &str, login: &str) -> Account {
    Account {
        id: id.to_owned(),
        login: login.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        email: format!("{login}@example.fr"),
        identity: r#"{"given_name":"Marianne"}"#.to_owned(),
        status: AccountStatus::Pending,
        created_at: now(),
    }
}

async fn a_saved_session_loads_until_it_expires(stores: Stores) {
    stores
        .sessions
        .save("s", b"cart", now() + 60)
        .await
        .unwrap();
    assert_eq!(
        stores.sessions.load("s", now()).await.unwrap(),
        Some(b"cart".to_vec())
    );
    assert_eq!(
        stores.sessions.load("s", now() + 59).await.unwrap(),
        Some(b"cart".to_vec())
    );
    assert_eq!(stores.sessions.load("s", now() + 60).await.unwrap(), None);
    assert_eq!(stores.sessions.load("other", now()).await.unwrap(), None);
}

async fn saving_a_session_again_replaces_it(stores: Stores) {
    stores.sessions.save("s", b"one", now() + 10).await.unwrap();
    stores
        .sessions
        .save("s", b"two", now() + 100)
        .await
        .unwrap();
    assert_eq!(
        stores.sessions.load("s", now() + 50).await.unwrap(),
        Some(b"two".to_vec())
    );
}

async fn a_deleted_session_is_gone(stores: Stores) {
    stores.sessions.save("s", b"one", now() + 10).await.unwrap();
    stores.sessions.delete("s").await.unwrap();
    stores.sessions.delete("never-saved").await.unwrap();
    assert_eq!(stores.sessions.load("s", now()).await.unwrap(), None);
}

async fn a_code_can_be_taken_only_once(stores: Stores) {
    stores.codes.put("c", b"grant", now() + 60).await.unwrap();
    assert_eq!(
        stores.codes.take("c", now()).await.unwrap(),
        Taken::Fresh(b"grant".to_vec())
    );
    assert_eq!(
        stores.codes.take("c", now() + 1).await.unwrap(),
        Taken::Replayed
    );
    assert_eq!(
        stores.codes.take("c", now() + 2).await.unwrap(),
        Taken::Replayed
    );
    // The tombstone lasts as long as the code would have.
    assert_eq!(
        stores.codes.take("c", now() + 60).await.unwrap(),
        Taken::Missing
    );
}

async fn an_expired_or_unknown_code_is_missing(stores: Stores) {
    stores.codes.put("c", b"grant", now() + 60).await.unwrap();
    assert_eq!(
        stores.codes.take("c", now() + 60).await.unwrap(),
        Taken::Missing
    );
    assert_eq!(
        stores.codes.take("unknown", now()).await.unwrap(),
        Taken::Missing
    );
}

async fn a_code_key_cannot_be_put_twice_even_after_use(stores: Stores) {
    stores.codes.put("c", b"first", now() + 60).await.unwrap();
    let again = stores.codes.put("c", b"second", now() + 60).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    assert_eq!(
        stores.codes.take("c", now()).await.unwrap(),
        Taken::Fresh(b"first".to_vec())
    );
    let after_use = stores.codes.put("c", b"third", now() + 60).await;
    assert!(
        matches!(after_use, Err(StoreError::Conflict)),
        "{after_use:?}"
    );
    assert_eq!(
        stores.codes.take("c", now()).await.unwrap(),
        Taken::Replayed
    );
}

async fn concurrent_takes_give_the_code_to_exactly_one_taker(stores: Stores) {
    stores.codes.put("c", b"grant", now() + 60).await.unwrap();
    let outcomes = at_once(8, |_| {
        let codes = stores.codes.clone();
        async move { codes.take("c", now()).await.unwrap() }
    })
    .await;
    let fresh = outcomes
        .iter()
        .filter(|t| matches!(t, Taken::Fresh(_)))
        .count();
    let replayed = outcomes.iter().filter(|t| **t == Taken::Replayed).count();
    assert_eq!((fresh, replayed), (1, 7), "{outcomes:?}");
}

async fn outbox_messages_are_claimed_when_due_oldest_first(stores: Stores) {
    let later = stores.outbox.push(b"later", now() + 10).await.unwrap();
    let first = stores.outbox.push(b"first", now() - 5).await.unwrap();
    let second = stores.outbox.push(b"second", now()).await.unwrap();
    assert_eq!(stores.outbox.waiting().await.unwrap(), 3);
    let claimed = stores.outbox.claim(now(), now() + 300, 10).await.unwrap();
    let ids: Vec<i64> = claimed.iter().map(|queued| queued.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first) && ids.contains(&second) && !ids.contains(&later));
    assert!(claimed.iter().all(|queued| queued.attempts == 1));
    let payloads: Vec<&[u8]> = claimed
        .iter()
        .map(|queued| queued.payload.as_slice())
        .collect();
    assert!(payloads.contains(&b"first".as_slice()));
    // A limit takes the oldest due first.
    stores.outbox.remove(&[first, second]).await.unwrap();
    stores.outbox.remove(&[]).await.unwrap();
    assert_eq!(stores.outbox.waiting().await.unwrap(), 1);
    let one = stores
        .outbox
        .claim(now() + 10, now() + 310, 1)
        .await
        .unwrap();
    assert_eq!(one.first().unwrap().payload, b"later");
}

async fn a_claimed_message_waits_for_its_lease_or_its_postponement(stores: Stores) {
    let id = stores.outbox.push(b"mail", now()).await.unwrap();
    assert_eq!(
        stores
            .outbox
            .claim(now(), now() + 300, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        stores
            .outbox
            .claim(now() + 299, now() + 600, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The attempt failed: due again in a minute, as the second attempt.
    stores.outbox.postpone(id, now() + 60).await.unwrap();
    assert!(
        stores
            .outbox
            .claim(now() + 59, now() + 400, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = stores
        .outbox
        .claim(now() + 60, now() + 400, 10)
        .await
        .unwrap();
    let again = again.first().unwrap();
    assert_eq!((again.id, again.attempts), (id, 2));
    assert!(matches!(
        stores.outbox.postpone(id + 1000, now()).await,
        Err(store::StoreError::NotFound)
    ));
}

async fn a_message_pushed_claimed_is_anothers_only_after_its_lease(stores: Stores) {
    let id = stores
        .outbox
        .push_claimed(b"mail", now() + 300)
        .await
        .unwrap();
    assert_eq!(stores.outbox.waiting().await.unwrap(), 1);
    assert!(
        stores
            .outbox
            .claim(now() + 299, now() + 600, 10)
            .await
            .unwrap()
            .is_empty(),
        "its pusher holds it"
    );
    // Its pusher went away without a word: another worker takes it then,
    // as its second attempt.
    let taken = stores
        .outbox
        .claim(now() + 300, now() + 600, 10)
        .await
        .unwrap();
    let taken = taken.first().unwrap();
    assert_eq!(
        (taken.id, taken.payload.as_slice(), taken.attempts),
        (id, &b"mail"[..], 2)
    );
}

async fn concurrent_claims_give_each_message_to_one_worker(stores: Stores) {
    for n in 0..20 {
        stores
            .outbox
            .push(format!("m{n}").as_bytes(), now())
            .await
            .unwrap();
    }
    let claims = at_once(4, |_| {
        let outbox = stores.outbox.clone();
        async move { outbox.claim(now(), now() + 300, 20).await.unwrap() }
    })
    .await;
    let mut ids: Vec<i64> = claims
        .into_iter()
        .flatten()
        .map(|queued| queued.id)
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((count, ids.len()), (20, 20), "each message claimed once");
}

async fn a_trail_is_chained_by_hash_and_kept_per_pseudonym(stores: Stores) {
    let first = stores
        .traces
        .append("p1", now(), b"{\"a\":1}", &k1())
        .await
        .unwrap();
    let second = stores
        .traces
        .append("p1", now() + 5, b"{\"b\":2}", &k1())
        .await
        .unwrap();
    stores
        .traces
        .append("p2", now(), b"other", &k1())
        .await
        .unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!((first.prev_hash, first.prev_at), ([0; 32], Some(0)));
    assert_eq!(
        (second.prev_hash, second.prev_at),
        (first.hash, Some(now()))
    );
    assert_eq!(
        second.hash,
        store::trace_hash(
            &[1; 32],
            "p1",
            &first.hash,
            2,
            now() + 5,
            Some(now()),
            b"{\"b\":2}"
        )
    );
    let trail = stores.traces.trail("p1", 0).await.unwrap();
    assert_eq!(trail, vec![first, second.clone()]);
    assert_eq!(
        stores.traces.trail("p1", now() + 1).await.unwrap(),
        vec![second]
    );
    assert_eq!(stores.traces.trail("p2", 0).await.unwrap().len(), 1);
    assert!(stores.traces.trail("nobody", 0).await.unwrap().is_empty());
}

async fn forgetting_old_entries_keeps_the_chain_going(stores: Stores) {
    let first = stores
        .traces
        .append("p", now(), b"old", &k1())
        .await
        .unwrap();
    let second = stores
        .traces
        .append("p", now() + 100, b"new", &k1())
        .await
        .unwrap();
    assert_eq!(stores.traces.forget_before(now() + 50).await.unwrap(), 1);
    let third = stores
        .traces
        .append("p", now() + 200, b"newer", &k1())
        .await
        .unwrap();
    assert_eq!(
        (third.seq, third.prev_hash, third.prev_at),
        (3, second.hash, Some(now() + 100))
    );
    let trail = stores.traces.trail("p", 0).await.unwrap();
    assert_eq!(trail.len(), 2);
    assert_ne!(trail.first().unwrap().hash, first.hash);
}

/// On PostgreSQL, eight at once are enough for some appends to lose their
/// optimistic tries and wait their turn under the trail's lock (3 or 4 of
/// them a run when this was written), so both ways are exercised.
async fn concurrent_appends_never_fork_a_trail(stores: Stores) {
    at_once(8, |n| {
        let traces = stores.traces.clone();
        async move {
            let body = format!("w{n}");
            traces.append("p", now() + n, body.as_bytes(), &k1()).await
        }
    })
    .await
    .into_iter()
    .for_each(|appended| assert!(appended.is_ok(), "{appended:?}"));
    let trail = stores.traces.trail("p", 0).await.unwrap();
    assert_eq!(trail.len(), 8);
    let (mut prev, mut prev_at) = ([0; 32], 0);
    for (rank, trace) in trail.iter().enumerate() {
        assert_eq!(trace.seq, rank as i64 + 1);
        assert_eq!(trace.prev_hash, prev, "one chain, no fork");
        assert_eq!(trace.prev_at, Some(prev_at), "the date it chains onto");
        assert_eq!(trace.hash, trace.expected_hash(&[1; 32], "p"));
        (prev, prev_at) = (trace.hash, trace.at);
    }
}

async fn a_trail_entry_made_under_another_key_does_not_verify(stores: Stores) {
    let first = stores.traces.append("p", now(), b"a", &k1()).await.unwrap();
    let second = stores
        .traces
        .append("p", now(), b"b", &key("k2", 2))
        .await
        .unwrap();
    assert_eq!(
        (first.key_id.as_str(), second.key_id.as_str()),
        ("k1", "k2")
    );
    assert_eq!(second.prev_hash, first.hash, "a rotation keeps the chain");
    assert_eq!(second.hash, second.expected_hash(&[2; 32], "p"));
    assert_ne!(second.hash, second.expected_hash(&[1; 32], "p"));
    let trail = stores.traces.trail("p", 0).await.unwrap();
    assert_eq!(trail.get(1).map(|t| t.key_id.as_str()), Some("k2"));
}

async fn revocations_are_read_in_order_after_a_cursor(stores: Stores) {
    assert!(stores.revocations.after(0, 10).await.unwrap().is_empty());
    let first = stores
        .revocations
        .push("p1", "impots", now())
        .await
        .unwrap();
    let second = stores
        .revocations
        .push("p2", "ameli", now() + 1)
        .await
        .unwrap();
    assert!(second > first);
    let all = stores.revocations.after(0, 10).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|r| (r.pseudonym.as_str(), r.provider.as_str(), r.at))
            .collect::<Vec<_>>(),
        vec![("p1", "impots", now()), ("p2", "ameli", now() + 1)]
    );
    let rest = stores.revocations.after(first, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest.first().map(|r| r.id), Some(second));
    assert_eq!(stores.revocations.after(0, 1).await.unwrap().len(), 1);
}

async fn revocations_are_purged_after_a_day(stores: Stores) {
    stores.revocations.push("p", "impots", now()).await.unwrap();
    stores
        .revocations
        .push("p", "ameli", now() + 10)
        .await
        .unwrap();
    stores
        .purge_expired(now() + store::REVOCATION_KEPT_SECS + 5)
        .await
        .unwrap();
    let left = stores.revocations.after(0, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left.first().map(|r| r.provider.as_str()), Some("ameli"));
}

async fn an_open_session_group_is_taken_whole_and_once(stores: Stores) {
    let sessions = &stores.open_sessions;
    sessions.put("g", "s1", b"one", now() + 60).await.unwrap();
    sessions.put("g", "s2", b"two", now() + 60).await.unwrap();
    sessions
        .put("g", "s2", b"two again", now() + 60)
        .await
        .unwrap();
    sessions.put("g", "old", b"expired", now()).await.unwrap();
    sessions
        .put("other", "s1", b"theirs", now() + 60)
        .await
        .unwrap();
    let mut taken = sessions.take_group("g", now()).await.unwrap();
    taken.sort();
    assert_eq!(taken, vec![b"one".to_vec(), b"two again".to_vec()]);
    assert!(sessions.take_group("g", now()).await.unwrap().is_empty());
    assert_eq!(
        sessions.take_group("other", now()).await.unwrap(),
        vec![b"theirs".to_vec()]
    );
    sessions.put("g", "s3", b"later", now() + 60).await.unwrap();
    let purged = stores.purge_expired(now() + 60).await.unwrap();
    if !stores.expires_by_itself() {
        assert_eq!(purged, 1);
    }
    assert!(
        sessions
            .take_group("g", now() + 60)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_takes_give_each_open_session_to_one_taker(stores: Stores) {
    for n in 0..20 {
        stores
            .open_sessions
            .put("g", &format!("s{n}"), format!("{n}").as_bytes(), now() + 60)
            .await
            .unwrap();
    }
    let takes = at_once(4, |_| {
        let sessions = stores.open_sessions.clone();
        async move { sessions.take_group("g", now()).await.unwrap() }
    })
    .await;
    let mut all: Vec<Vec<u8>> = takes.into_iter().flatten().collect();
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!((count, all.len()), (20, 20), "each session taken once");
}

/// An entry appended after a reading of the person chains onto what the
/// trail holds when it is written, even when another entry came in since
/// the reading: the reading saves a round trip, never a link.
async fn a_person_is_read_with_their_settings_and_appended_after(stores: Stores) {
    let nobody = stores.traces.person("p").await.unwrap();
    assert_eq!(
        (nobody.pseudonym(), nobody.settings.as_deref()),
        ("p", None)
    );
    let first = stores
        .traces
        .append_seen(&nobody, now(), b"a", &k1())
        .await
        .unwrap();
    stores.preferences.save("p", b"{}").await.unwrap();
    let seen = stores.traces.person("p").await.unwrap();
    assert_eq!(seen.settings.as_deref(), Some(&b"{}"[..]));
    let second = stores
        .traces
        .append_seen(&seen, now() + 1, b"b", &k1())
        .await
        .unwrap();
    assert_eq!((second.seq, second.prev_hash), (2, first.hash));
    let third = stores
        .traces
        .append("p", now() + 2, b"c", &k1())
        .await
        .unwrap();
    let late = stores
        .traces
        .append_seen(&seen, now() + 3, b"d", &k1())
        .await
        .unwrap();
    assert_eq!(
        (late.seq, late.prev_hash, late.prev_at),
        (4, third.hash, Some(now() + 2)),
        "chained onto the entry written since the reading"
    );
    let other = stores
        .traces
        .append_seen(&nobody, now(), b"e", &k1())
        .await
        .unwrap();
    assert_eq!((other.seq, other.prev_hash), (5, late.hash));
    let trail = stores.traces.trail("p", 0).await.unwrap();
    assert_eq!(trail.len(), 5);
    for (before, after) in trail.iter().zip(trail.iter().skip(1)) {
        assert_eq!(after.prev_hash, before.hash, "one chain, no fork");
    }
    assert!(
        trail
            .iter()
            .all(|trace| trace.hash == trace.expected_hash(&[1; 32], "p"))
    );
    assert_eq!(stores.traces.trail("q", 0).await.unwrap(), vec![]);
}

async fn preferences_are_saved_and_replaced(stores: Stores) {
    assert_eq!(stores.preferences.load("p").await.unwrap(), None);
    stores.preferences.save("p", b"one").await.unwrap();
    stores.preferences.save("p", b"two").await.unwrap();
    assert_eq!(
        stores.preferences.load("p").await.unwrap().as_deref(),
        Some(b"two".as_slice())
    );
}

async fn a_token_loads_many_times_until_it_expires(stores: Stores) {
    stores.tokens.put("t", b"scopes", now() + 60).await.unwrap();
    for now in [now(), now() + 1, now() + 59] {
        assert_eq!(
            stores.tokens.load("t", now).await.unwrap(),
            Some(b"scopes".to_vec())
        );
    }
    assert_eq!(stores.tokens.load("t", now() + 60).await.unwrap(), None);
}

async fn a_revoked_token_is_gone(stores: Stores) {
    stores.tokens.put("t", b"scopes", now() + 60).await.unwrap();
    stores.tokens.revoke("t").await.unwrap();
    stores.tokens.revoke("never-issued").await.unwrap();
    assert_eq!(stores.tokens.load("t", now()).await.unwrap(), None);
}

async fn a_token_key_cannot_be_put_twice(stores: Stores) {
    stores.tokens.put("t", b"first", now() + 60).await.unwrap();
    let again = stores.tokens.put("t", b"second", now() + 60).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    assert_eq!(
        stores.tokens.load("t", now()).await.unwrap(),
        Some(b"first".to_vec())
    );
}

async fn a_bound_holds_its_limit_and_refuses_past_it(stores: Stores) {
    let limits = &stores.rate_limits;
    for _ in 0..3 {
        assert!(limits.within("mails:alice", 3, 60, now()).await.unwrap());
    }
    assert!(
        !limits
            .within("mails:alice", 3, 60, now() + 1)
            .await
            .unwrap()
    );
    assert!(limits.within("mails:bob", 3, 60, now() + 1).await.unwrap());
    assert!(
        limits
            .within("mails:alice", 3, 60, now() + 60)
            .await
            .unwrap()
    );
}

async fn hits_are_counted_within_a_window_per_key(stores: Stores) {
    let limits = &stores.rate_limits;
    assert_eq!(limits.hit("login:alice", 60, now()).await.unwrap(), 1);
    assert_eq!(limits.hit("login:alice", 60, now() + 30).await.unwrap(), 2);
    assert_eq!(limits.hit("login:bob", 60, now() + 30).await.unwrap(), 1);
    assert_eq!(limits.hit("login:alice", 60, now() + 59).await.unwrap(), 3);
}

async fn a_hit_after_the_window_starts_a_new_one(stores: Stores) {
    let limits = &stores.rate_limits;
    assert_eq!(limits.hit("k", 60, now()).await.unwrap(), 1);
    assert_eq!(limits.hit("k", 60, now() + 10).await.unwrap(), 2);
    // The window began at the first hit, not the last one.
    assert_eq!(limits.hit("k", 60, now() + 60).await.unwrap(), 1);
    assert_eq!(limits.hit("k", 60, now() + 119).await.unwrap(), 2);
    assert_eq!(limits.hit("k", 60, now() + 120).await.unwrap(), 1);
}

async fn reset_forgets_the_count(stores: Stores) {
    let limits = &stores.rate_limits;
    limits.hit("k", 60, now()).await.unwrap();
    limits.hit("k", 60, now()).await.unwrap();
    limits.reset("k").await.unwrap();
    limits.reset("never-hit").await.unwrap();
    assert_eq!(limits.hit("k", 60, now() + 1).await.unwrap(), 1);
}

async fn an_account_is_found_by_login_and_by_id(stores: Stores) {
    assert_eq!(stores.accounts.count().await.unwrap(), 0);
    let alice = account("id-a", "alice");
    stores.accounts.create(&alice).await.unwrap();
    stores
        .accounts
        .create(&account("id-b", "bob"))
        .await
        .unwrap();
    assert_eq!(
        stores.accounts.find_by_login("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        stores.accounts.find_by_id("id-a").await.unwrap(),
        Some(alice)
    );
    assert_eq!(stores.accounts.find_by_login("carol").await.unwrap(), None);
    assert_eq!(stores.accounts.find_by_id("alice").await.unwrap(), None);
    assert_eq!(stores.accounts.count().await.unwrap(), 2);
}

async fn an_account_with_a_taken_id_or_login_is_refused(stores: Stores) {
    stores
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();
    let same_id = stores.accounts.create(&account("id-a", "other")).await;
    assert!(matches!(same_id, Err(StoreError::Conflict)), "{same_id:?}");
    let same_login = stores.accounts.create(&account("id-b", "alice")).await;
    assert!(
        matches!(same_login, Err(StoreError::Conflict)),
        "{same_login:?}"
    );
    assert_eq!(stores.accounts.count().await.unwrap(), 1);
}

async fn an_update_replaces_the_stored_account(stores: Stores) {
    stores
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();
    let changed = Account {
        login: "alice2".to_owned(),
        password_hash: "$argon2id$new".to_owned(),
        email: "new@example.fr".to_owned(),
        identity: "{}".to_owned(),
        status: AccountStatus::Locked,
        ..account("id-a", "alice")
    };
    stores.accounts.update(&changed).await.unwrap();
    assert_eq!(
        stores.accounts.find_by_id("id-a").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        stores.accounts.find_by_login("alice2").await.unwrap(),
        Some(changed)
    );
    assert_eq!(stores.accounts.find_by_login("alice").await.unwrap(), None);
    assert_eq!(stores.accounts.count().await.unwrap(), 1);
}

async fn updating_a_missing_account_is_not_found(stores: Stores) {
    stores
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();
    let missing = stores.accounts.update(&account("id-z", "alice")).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

async fn updating_to_another_accounts_login_is_refused(stores: Stores) {
    stores
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();
    stores
        .accounts
        .create(&account("id-b", "bob"))
        .await
        .unwrap();
    let clash = stores.accounts.update(&account("id-b", "alice")).await;
    assert!(matches!(clash, Err(StoreError::Conflict)), "{clash:?}");
    let bob = stores.accounts.find_by_id("id-b").await.unwrap().unwrap();
    assert_eq!(bob.login, "bob");
}

async fn every_write_counts_once_and_reads_count_nothing(stores: Stores) {
    assert_eq!(stores.writes(), 0);
    stores.sessions.save("s", b"v", now() + 60).await.unwrap();
    stores.codes.put("c", b"v", now() + 60).await.unwrap();
    assert_eq!(stores.writes(), 2);
    stores.codes.take("c", now()).await.unwrap();
    stores.sessions.load("s", now()).await.unwrap();
    stores.tokens.load("t", now()).await.unwrap();
    stores.accounts.find_by_login("alice").await.unwrap();
    stores.accounts.find_by_id("id-a").await.unwrap();
    stores.accounts.count().await.unwrap();
    stores.purge_expired(now()).await.unwrap();
    assert_eq!(stores.writes(), 3);
    // Clones share the counter, and a refused write still reached storage.
    let clone = stores.clone();
    clone.tokens.put("t", b"v", now() + 60).await.unwrap();
    clone.tokens.revoke("t").await.unwrap();
    clone.sessions.delete("s").await.unwrap();
    clone.rate_limits.hit("k", 60, now()).await.unwrap();
    clone.rate_limits.reset("k").await.unwrap();
    clone
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();
    clone
        .accounts
        .update(&account("id-a", "alice"))
        .await
        .unwrap();
    assert!(clone.codes.put("c", b"v", now() + 60).await.is_err());
    clone
        .dossiers
        .create(&dossier("d1", "sub-a", "permis", now()))
        .await
        .unwrap();
    clone
        .dossiers
        .update(&dossier("d1", "sub-a", "permis", now()))
        .await
        .unwrap();
    clone.dossiers.get("d1").await.unwrap();
    clone.dossiers.of_owner("ants", "sub-a").await.unwrap();
    clone.revocations.push("p", "impots", now()).await.unwrap();
    clone.revocations.after(0, 10).await.unwrap();
    clone
        .open_sessions
        .put("g", "m", b"v", now() + 60)
        .await
        .unwrap();
    clone.open_sessions.take_group("g", now()).await.unwrap();
    assert_eq!(stores.writes(), 16);
}

async fn purge_removes_only_expired_rows(stores: Stores) {
    stores.sessions.save("old", b"v", now()).await.unwrap();
    stores.sessions.save("new", b"v", now() + 1).await.unwrap();
    stores.codes.put("old", b"v", now()).await.unwrap();
    stores.codes.put("used", b"v", now() + 1).await.unwrap();
    stores.codes.take("used", now()).await.unwrap();
    stores.tokens.put("old", b"v", now() - 5).await.unwrap();
    stores.tokens.put("new", b"v", now() + 1).await.unwrap();
    stores.rate_limits.hit("old", 10, now() - 10).await.unwrap();
    stores.rate_limits.hit("new", 10, now() - 9).await.unwrap();
    stores
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();

    let purged = stores.purge_expired(now()).await.unwrap();
    if !stores.expires_by_itself() {
        assert_eq!(purged, 4);
    }
    assert_eq!(stores.purge_expired(now()).await.unwrap(), 0);

    assert_eq!(
        stores.sessions.load("new", now()).await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        stores.codes.take("used", now()).await.unwrap(),
        Taken::Replayed
    );
    assert_eq!(
        stores.tokens.load("new", now()).await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(stores.rate_limits.hit("new", 10, now()).await.unwrap(), 2);
    assert_eq!(stores.accounts.count().await.unwrap(), 1);
    // A purged code's key is free again.
    stores.codes.put("old", b"again", now() + 60).await.unwrap();
}

async fn the_bundle_answers_a_ping(stores: Stores) {
    stores.ping().await.unwrap();
}

fn dossier(id: &str, owner: &str, kind: &str, at: i64) -> Dossier {
    Dossier {
        id: id.into(),
        service: "ants".into(),
        owner: owner.into(),
        kind: kind.into(),
        status: DossierStatus::Draft,
        content: br#"{"step":1}"#.to_vec(),
        created_at: at,
        updated_at: at,
    }
}

async fn one_draft_of_a_kind_per_person_and_service(stores: Stores) {
    let dossiers = &stores.dossiers;
    dossiers
        .create(&dossier("d1", "sub-a", "permis", now()))
        .await
        .unwrap();
    let second = dossiers
        .create(&dossier("d2", "sub-a", "permis", now()))
        .await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
    // Another kind, another person, another service: all fine.
    dossiers
        .create(&dossier("d3", "sub-a", "cni", now()))
        .await
        .unwrap();
    dossiers
        .create(&dossier("d4", "sub-b", "permis", now()))
        .await
        .unwrap();
    let elsewhere = Dossier {
        service: "impots".into(),
        ..dossier("d5", "sub-a", "permis", now())
    };
    dossiers.create(&elsewhere).await.unwrap();
    let same_id = dossiers
        .create(&dossier("d1", "sub-c", "permis", now()))
        .await;
    assert!(matches!(same_id, Err(StoreError::Conflict)), "{same_id:?}");
    // Once submitted, a new draft of the kind may start; a submitted one
    // never blocks.
    let submitted = Dossier {
        status: DossierStatus::Submitted,
        ..dossier("d1", "sub-a", "permis", now() + 5)
    };
    dossiers.update(&submitted).await.unwrap();
    dossiers
        .create(&dossier("d6", "sub-a", "permis", now() + 6))
        .await
        .unwrap();
    let filed = Dossier {
        status: DossierStatus::Submitted,
        ..dossier("d7", "sub-a", "permis", now() + 7)
    };
    dossiers.create(&filed).await.unwrap();
    assert_eq!(dossiers.get("d2").await.unwrap(), None);
}

async fn a_dossier_is_updated_only_by_its_owner_at_its_service(stores: Stores) {
    let dossiers = &stores.dossiers;
    dossiers
        .create(&dossier("d1", "sub-a", "permis", now()))
        .await
        .unwrap();
    let changed = Dossier {
        content: br#"{"step":2}"#.to_vec(),
        updated_at: now() + 60,
        ..dossier("d1", "sub-a", "permis", now())
    };
    dossiers.update(&changed).await.unwrap();
    assert_eq!(dossiers.get("d1").await.unwrap(), Some(changed.clone()));
    let intruder = Dossier {
        owner: "sub-b".into(),
        content: b"{}".to_vec(),
        ..changed.clone()
    };
    let refused = dossiers.update(&intruder).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let other_service = Dossier {
        service: "impots".into(),
        ..intruder.clone()
    };
    assert!(matches!(
        dossiers.update(&other_service).await,
        Err(StoreError::NotFound)
    ));
    let missing = dossiers
        .update(&dossier("nope", "sub-a", "permis", now()))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(dossiers.get("d1").await.unwrap(), Some(changed));
}

async fn a_person_s_dossiers_come_last_changed_first(stores: Stores) {
    let dossiers = &stores.dossiers;
    dossiers
        .create(&dossier("d1", "sub-a", "permis", now()))
        .await
        .unwrap();
    dossiers
        .create(&dossier("d2", "sub-a", "cni", now() + 10))
        .await
        .unwrap();
    dossiers
        .create(&dossier("d3", "sub-b", "cni", now() + 20))
        .await
        .unwrap();
    let ids = |list: Vec<Dossier>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(dossiers.of_owner("ants", "sub-a").await.unwrap()),
        ["d2", "d1"]
    );
    let touched = Dossier {
        updated_at: now() + 30,
        ..dossier("d1", "sub-a", "permis", now())
    };
    dossiers.update(&touched).await.unwrap();
    assert_eq!(
        ids(dossiers.of_owner("ants", "sub-a").await.unwrap()),
        ["d1", "d2"]
    );
    assert!(
        dossiers
            .of_owner("impots", "sub-a")
            .await
            .unwrap()
            .is_empty()
    );
}

// What only a file-backed store can promise.

#[tokio::test]
async fn sqlite_data_survives_reopening_the_file() {
    let scratch = Scratch::new();
    let first = sqlite(&scratch.db()).await;
    first.sessions.save("s", b"cart", now() + 60).await.unwrap();
    first.codes.put("c", b"grant", now() + 60).await.unwrap();
    first.codes.take("c", now()).await.unwrap();
    first.tokens.put("t", b"scopes", now() + 60).await.unwrap();
    first.rate_limits.hit("k", 60, now()).await.unwrap();
    first
        .accounts
        .create(&account("id-a", "alice"))
        .await
        .unwrap();
    first
        .dossiers
        .create(&dossier("d1", "sub-a", "permis", now()))
        .await
        .unwrap();
    first
        .wallet_identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    first
        .certification_requests
        .create(&certification_request("r1", "id-a", now() + 60), now())
        .await
        .unwrap();
    first
        .identity_proofs
        .keep("p1", b"record", now() + 60)
        .await
        .unwrap();
    drop(first);

    let again = store::open(&Backend::Sqlite(scratch.db())).await.unwrap();
    assert_eq!(again.writes(), 0);
    assert_eq!(
        again.sessions.load("s", now()).await.unwrap(),
        Some(b"cart".to_vec())
    );
    assert_eq!(again.codes.take("c", now()).await.unwrap(), Taken::Replayed);
    assert_eq!(
        again.tokens.load("t", now()).await.unwrap(),
        Some(b"scopes".to_vec())
    );
    assert_eq!(again.rate_limits.hit("k", 60, now()).await.unwrap(), 2);
    assert_eq!(
        again.accounts.find_by_id("id-a").await.unwrap(),
        Some(account("id-a", "alice"))
    );
    assert_eq!(
        again.dossiers.get("d1").await.unwrap(),
        Some(dossier("d1", "sub-a", "permis", now()))
    );
    assert_eq!(
        again
            .wallet_identities
            .find_by_binding("card-a")
            .await
            .unwrap(),
        Some(wallet_identity("id-a", "card-a"))
    );
    assert_eq!(
        again
            .certification_requests
            .in_course("id-a", now())
            .await
            .unwrap(),
        Some(certification_request("r1", "id-a", now() + 60))
    );
    assert!(again.identity_proofs.consume("p1", now()).await.unwrap());
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let scratch = Scratch::new();
    drop(sqlite(&scratch.db()).await);
    rusqlite::Connection::open(scratch.db())
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let refused = Stores::sqlite(&scratch.db()).await;
    assert!(
        matches!(refused, Err(StoreError::Backend(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_bundle_shows_its_backend_and_nothing_else() {
    let memory = store::open(&Backend::Memory).await.unwrap();
    assert_eq!(format!("{memory:?}"), "Stores { backend: \"memory\", .. }");
    let scratch = Scratch::new();
    let file = sqlite(&scratch.db()).await;
    assert_eq!(format!("{file:?}"), "Stores { backend: \"sqlite\", .. }");
}

#[tokio::test]
async fn a_postgres_database_is_migrated_once_and_refused_when_behind_or_ahead() {
    let database = PgScratch::new().await;
    let url = database.url();
    let behind = store::open(&database.backend()).await;
    assert!(
        matches!(&behind, Err(StoreError::Backend(e)) if e.to_string().contains("passerelle migrate")),
        "{:?}",
        behind.err()
    );
    assert_eq!(store::postgres::migrate(&url, "part").await.unwrap(), 0);
    assert_eq!(
        store::postgres::migrate(&url, "part").await.unwrap(),
        store::postgres::SCHEMA_VERSION,
        "a second run has nothing to do"
    );
    assert!(store::open(&database.backend()).await.is_ok());
    // Another part's schema is another world.
    let other = Backend::Postgres {
        url: url.clone(),
        schema: "idp-other".into(),
    };
    assert!(store::open(&other).await.is_err(), "not migrated yet");
    store::postgres::migrate(&url, "idp-other").await.unwrap();
    let part = store::open(&database.backend()).await.unwrap();
    let other = store::open(&other).await.unwrap();
    part.preferences.save("p", b"mine").await.unwrap();
    assert_eq!(other.preferences.load("p").await.unwrap(), None);
    assert!(store::postgres::migrate(&url, "bad\"name").await.is_err());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO part.passerelle_schema (version) VALUES (999)")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let ahead = store::open(&database.backend()).await;
    assert!(
        matches!(&ahead, Err(StoreError::Backend(e)) if e.to_string().contains("newer")),
        "{:?}",
        ahead.err()
    );
    assert!(store::postgres::migrate(&url, "part").await.is_err());
    database.drop_now().await;
}

/// The store checks a PostgreSQL connection before a query only when it has
/// rested ([`store::postgres::PING_IDLE`]), so a busy one costs one round trip a
/// query. A connection the server ended while it was busy fails one call at
/// most, and is not used again; one ended while it rested fails none.
#[tokio::test]
async fn a_postgres_connection_ended_by_the_server_fails_one_call_at_most() {
    let database = PgScratch::new().await;
    let url = database.url();
    store::postgres::migrate(&url, "part").await.unwrap();
    let part = store::open(&database.backend()).await.unwrap();
    part.preferences.save("p", b"kept").await.unwrap();
    let ended = terminate_connections(&url).await;
    assert!(ended >= 1, "the store's connection is open");
    let first = part.preferences.load("p").await;
    assert!(
        matches!(&first, Err(StoreError::Backend(_)) | Ok(Some(_))),
        "{first:?}"
    );
    for _ in 0..3 {
        assert_eq!(
            part.preferences.load("p").await.unwrap(),
            Some(b"kept".to_vec())
        );
    }
    tokio::time::sleep(store::postgres::PING_IDLE + std::time::Duration::from_millis(200)).await;
    assert!(terminate_connections(&url).await >= 1);
    assert_eq!(
        part.preferences.load("p").await.unwrap(),
        Some(b"kept".to_vec()),
        "a rested connection is checked before it is used"
    );
    database.drop_now().await;
}

/// Has the server end every other connection to the database at `url`;
/// returns how many it ended.
async fn terminate_connections(url: &str) -> usize {
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    let ended: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    // Until their processes are gone.
    for _ in 0..500 {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    admin.close().await.unwrap();
    ended.len()
}

/// The wallet's tables, added by PostgreSQL v2 and SQLite entry 6.
const WALLET_TABLES: [&str; 9] = [
    "wallet_identities",
    "wallet_deletion_links",
    "certification_requests",
    "identity_proofs",
    "login_transactions",
    "login_refs",
    "login_claims",
    "confirmation_codes",
    "used_once",
];

/// The columns of the trail's second chain format, added by PostgreSQL
/// v3 and SQLite entry 7: a database from before the wallet's tables has
/// them not either.
const TRAIL_V2_COLUMNS: [(&str, &str); 2] = [("traces", "prev_at"), ("trail_heads", "at")];

/// A database of the version before the wallet's tables (as `passerelle
/// migrate` finds one deployed earlier) is brought up to date, its data
/// kept.
#[tokio::test]
async fn a_postgres_database_from_before_the_wallet_tables_is_migrated_keeping_its_data() {
    let database = PgScratch::new().await;
    let url = database.url();
    let before = database.stores().await;
    before.preferences.save("p", b"kept").await.unwrap();
    drop(before);
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    for table in WALLET_TABLES {
        sqlx::query(&format!("DROP TABLE part.{table}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    for (table, column) in TRAIL_V2_COLUMNS {
        sqlx::query(&format!("ALTER TABLE part.{table} DROP COLUMN {column}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM part.passerelle_schema WHERE version > 1")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let behind = store::open(&database.backend()).await;
    assert!(behind.is_err(), "v1 is behind");
    assert_eq!(store::postgres::migrate(&url, "part").await.unwrap(), 1);
    let after = store::open(&database.backend()).await.unwrap();
    assert_eq!(
        after.preferences.load("p").await.unwrap(),
        Some(b"kept".to_vec())
    );
    after
        .wallet_identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    database.drop_now().await;
}

#[tokio::test]
async fn a_sqlite_file_from_before_the_wallet_tables_is_upgraded_keeping_its_data() {
    let scratch = Scratch::new();
    let before = sqlite(&scratch.db()).await;
    before.preferences.save("p", b"kept").await.unwrap();
    let first = before.traces.append("p", now(), b"a", &k1()).await.unwrap();
    drop(before);
    let conn = rusqlite::Connection::open(scratch.db()).unwrap();
    for table in WALLET_TABLES {
        conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
    }
    for (table, column) in TRAIL_V2_COLUMNS {
        conn.execute_batch(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
            .unwrap();
    }
    conn.pragma_update(None, "user_version", 5).unwrap();
    drop(conn);
    let after = sqlite(&scratch.db()).await;
    assert_eq!(
        after.preferences.load("p").await.unwrap(),
        Some(b"kept".to_vec())
    );
    // The trail's head got its date back from its entry: the next entry
    // carries it.
    let second = after
        .traces
        .append("p", now() + 5, b"b", &k1())
        .await
        .unwrap();
    assert_eq!(
        (second.prev_hash, second.prev_at),
        (first.hash, Some(first.at))
    );
    let kept = after.traces.trail("p", 0).await.unwrap();
    assert_eq!(kept.first().map(|trace| trace.prev_at), Some(None));
    after
        .wallet_identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_migrations_run_the_schema_once() {
    let database = PgScratch::new().await;
    let url = database.url();
    let mut from = at_once(4, |_| {
        let url = url.clone();
        async move { store::postgres::migrate(&url, "part").await.unwrap() }
    })
    .await;
    from.sort_unstable();
    assert_eq!(from.first(), Some(&0));
    assert_eq!(from.iter().filter(|v| **v == 0).count(), 1, "{from:?}");
    database.drop_now().await;
}

/// `passerelle demo`'s pairing: what expires stays in the process, so the
/// SQLite file never holds it (a second opening of the file finds nothing)
/// and the purge reclaims it from memory.
#[tokio::test]
async fn with_memory_ephemeral_what_expires_never_reaches_the_file() {
    let scratch = Scratch::new();
    let stores = sqlite(&scratch.db()).await.with_memory_ephemeral();
    assert_eq!(
        format!("{stores:?}"),
        "Stores { backend: \"sqlite\", ephemeral: \"memory\", .. }"
    );
    assert!(!stores.expires_by_itself(), "the purge reclaims memory");
    stores.sessions.save("s", b"v", now() + 60).await.unwrap();
    stores.codes.put("c", b"v", now() + 1).await.unwrap();
    stores.used_once.mark("u", now() + 60, now()).await.unwrap();
    assert_eq!((stores.writes(), stores.durable_writes()), (3, 0));
    stores.preferences.save("p", b"v").await.unwrap();
    assert_eq!((stores.writes(), stores.durable_writes()), (4, 1));

    let file = sqlite(&scratch.db()).await;
    assert_eq!(file.sessions.load("s", now()).await.unwrap(), None);
    assert_eq!(
        file.preferences.load("p").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        stores.purge_expired(now() + 2).await.unwrap(),
        1,
        "the code"
    );
    assert!(stores.sessions.load("s", now()).await.unwrap().is_some());
}

#[tokio::test]
async fn with_redis_what_expires_leaves_the_durable_store_and_its_writes_are_counted_apart() {
    let database = PgScratch::new().await;
    let stores = database
        .stores()
        .await
        .with_redis(&redis_server(), &database.prefix())
        .await
        .unwrap();
    assert_eq!(
        format!("{stores:?}"),
        "Stores { backend: \"postgres\", ephemeral: \"redis\", .. }"
    );
    stores.sessions.save("s", b"v", now() + 60).await.unwrap();
    stores.codes.put("c", b"v", now() + 60).await.unwrap();
    assert_eq!((stores.writes(), stores.durable_writes()), (2, 0));
    stores.preferences.save("p", b"v").await.unwrap();
    assert_eq!((stores.writes(), stores.durable_writes()), (3, 1));
    let admin = sqlx::PgPool::connect(&database.url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM part.sessions")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(rows, 0, "the session is in Redis, not in PostgreSQL");
    // A QR login, a mailed code and a mark go to Redis; the wallet's
    // identities, requests and proofs stay durable.
    let before = stores.durable_writes();
    let logins = &stores.login_transactions;
    logins.save("l", b"v", now() + 60).await.unwrap();
    logins.show("l", "q", now() + 60, None).await.unwrap();
    stores
        .confirmation_codes
        .put("k", "h", b"v", now() + 60)
        .await
        .unwrap();
    stores.used_once.mark("u", now() + 60, now()).await.unwrap();
    assert_eq!(stores.durable_writes(), before);
    stores
        .wallet_identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    assert_eq!(stores.durable_writes(), before + 1);
    for table in [
        "login_transactions",
        "login_refs",
        "confirmation_codes",
        "used_once",
    ] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM part.{table}"))
            .fetch_one(&admin)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} is in Redis, not in PostgreSQL");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM part.wallet_identities")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    admin.close().await;
    database.drop_now().await;
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_at_once_not_a_hang() {
    let started = std::time::Instant::now();
    let refused = Stores::memory()
        .with_redis("redis://127.0.0.1:1", "nobody:")
        .await;
    assert!(matches!(refused, Err(StoreError::Backend(_))));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

// The wallet provider's stores.

fn wallet_identity(id: &str, binding: &str) -> WalletIdentity {
    WalletIdentity {
        id: id.into(),
        binding: binding.into(),
        email: format!("{id}@example.fr"),
        record: br#"{"pin_epoch":1}"#.to_vec(),
        revision: 0,
        created_at: now(),
    }
}

async fn a_wallet_identity_is_found_by_its_card_and_by_its_id(stores: Stores) {
    let identities = &stores.wallet_identities;
    let alice = wallet_identity("id-a", "card-a");
    identities.create(&alice).await.unwrap();
    identities
        .create(&wallet_identity("id-b", "card-b"))
        .await
        .unwrap();
    assert_eq!(
        identities.find_by_binding("card-a").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(identities.find_by_id("id-a").await.unwrap(), Some(alice));
    assert_eq!(identities.find_by_binding("card-z").await.unwrap(), None);
    assert_eq!(identities.find_by_id("card-a").await.unwrap(), None);
}

async fn a_wallet_identity_with_a_taken_id_or_card_is_refused(stores: Stores) {
    let identities = &stores.wallet_identities;
    identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    let same_id = identities.create(&wallet_identity("id-a", "card-b")).await;
    assert!(matches!(same_id, Err(StoreError::Conflict)), "{same_id:?}");
    let same_card = identities.create(&wallet_identity("id-b", "card-a")).await;
    assert!(
        matches!(same_card, Err(StoreError::Conflict)),
        "{same_card:?}"
    );
    assert_eq!(identities.find_by_id("id-b").await.unwrap(), None);
}

async fn a_wallet_identity_update_from_an_older_reading_is_refused(stores: Stores) {
    let identities = &stores.wallet_identities;
    identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    let read = identities.find_by_id("id-a").await.unwrap().unwrap();
    let changed = WalletIdentity {
        email: "new@example.fr".into(),
        record: br#"{"pin_epoch":2}"#.to_vec(),
        ..read.clone()
    };
    identities.update(&changed).await.unwrap();
    let stored = identities.find_by_binding("card-a").await.unwrap().unwrap();
    assert_eq!(
        stored,
        WalletIdentity {
            revision: 1,
            ..changed.clone()
        }
    );
    // An update made from the first reading would undo the second one.
    let stale = WalletIdentity {
        record: br#"{"pin_epoch":1,"certified":true}"#.to_vec(),
        ..read
    };
    let refused = identities.update(&stale).await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");
    assert_eq!(identities.find_by_id("id-a").await.unwrap(), Some(stored));
    // The binding never changes by an update.
    let moved = WalletIdentity {
        binding: "card-z".into(),
        revision: 1,
        ..changed
    };
    identities.update(&moved).await.unwrap();
    assert_eq!(identities.find_by_binding("card-z").await.unwrap(), None);
    let missing = identities.update(&wallet_identity("id-z", "card-z")).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

async fn concurrent_updates_of_a_wallet_identity_keep_exactly_one(stores: Stores) {
    stores
        .wallet_identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    let outcomes = at_once(8, |n| {
        let identities = stores.wallet_identities.clone();
        async move {
            let update = WalletIdentity {
                record: format!("{{\"writer\":{n}}}").into_bytes(),
                ..wallet_identity("id-a", "card-a")
            };
            identities.update(&update).await
        }
    })
    .await;
    assert_eq!(done_and_refused(&outcomes), (1, 7), "{outcomes:?}");
    let stored = stores
        .wallet_identities
        .find_by_id("id-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revision, 1);
}

async fn a_deleted_wallet_identity_is_gone_its_id_kept_and_its_card_free(stores: Stores) {
    let identities = &stores.wallet_identities;
    identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    identities
        .add_deletion_link("link-a", "id-a", now() + 60)
        .await
        .unwrap();
    identities.delete("id-a").await.unwrap();
    identities.delete("id-a").await.unwrap();
    identities.delete("never-created").await.unwrap();
    assert_eq!(identities.find_by_id("id-a").await.unwrap(), None);
    assert_eq!(identities.find_by_binding("card-a").await.unwrap(), None);
    assert_eq!(
        identities
            .find_by_deletion_link("link-a", now())
            .await
            .unwrap(),
        None
    );
    let update = identities.update(&wallet_identity("id-a", "card-a")).await;
    assert!(matches!(update, Err(StoreError::NotFound)), "{update:?}");
    let reused = identities.create(&wallet_identity("id-a", "card-b")).await;
    assert!(matches!(reused, Err(StoreError::Conflict)), "{reused:?}");
    // The same card makes a new identity.
    identities
        .create(&wallet_identity("id-b", "card-a"))
        .await
        .unwrap();
    assert_eq!(
        identities
            .find_by_binding("card-a")
            .await
            .unwrap()
            .map(|identity| identity.id),
        Some("id-b".to_owned())
    );
    // Another identity's links stay.
    identities
        .add_deletion_link("link-b", "id-b", now() + 60)
        .await
        .unwrap();
    identities.delete("id-a").await.unwrap();
    assert!(
        identities
            .find_by_deletion_link("link-b", now())
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_deletion_link_names_its_identity_until_it_expires(stores: Stores) {
    let identities = &stores.wallet_identities;
    let alice = wallet_identity("id-a", "card-a");
    identities.create(&alice).await.unwrap();
    identities
        .add_deletion_link("link", "id-a", now() + 60)
        .await
        .unwrap();
    identities
        .add_deletion_link("second", "id-a", now() + 60)
        .await
        .unwrap();
    let taken = identities
        .add_deletion_link("link", "id-a", now() + 90)
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    for at in [now(), now() + 59] {
        assert_eq!(
            identities.find_by_deletion_link("link", at).await.unwrap(),
            Some(alice.clone())
        );
    }
    assert_eq!(
        identities
            .find_by_deletion_link("link", now() + 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        identities
            .find_by_deletion_link("unknown", now())
            .await
            .unwrap(),
        None
    );
}

fn certification_request(id: &str, identity: &str, expires_at: i64) -> CertificationRequest {
    CertificationRequest {
        id: id.into(),
        identity: identity.into(),
        binding: format!("card-of-{identity}"),
        issued_at: now(),
        expires_at,
        decision: None,
    }
}

async fn an_identity_has_one_certification_request_in_course(stores: Stores) {
    let requests = &stores.certification_requests;
    let first = certification_request("r1", "id-a", now() + 100);
    requests.create(&first, now()).await.unwrap();
    assert_eq!(
        requests.get("r1", now()).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        requests.in_course("id-a", now() + 100).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(requests.in_course("id-b", now()).await.unwrap(), None);
    let second = requests
        .create(
            &certification_request("r2", "id-a", now() + 200),
            now() + 100,
        )
        .await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
    let same_id = requests
        .create(&certification_request("r1", "id-b", now() + 200), now())
        .await;
    assert!(matches!(same_id, Err(StoreError::Conflict)), "{same_id:?}");
    // Past its last second, the request is no longer in course, and a new
    // one replaces it.
    assert_eq!(requests.get("r1", now() + 101).await.unwrap(), None);
    assert_eq!(requests.in_course("id-a", now() + 101).await.unwrap(), None);
    let renewed = certification_request("r3", "id-a", now() + 300);
    requests.create(&renewed, now() + 101).await.unwrap();
    assert_eq!(
        requests.in_course("id-a", now() + 101).await.unwrap(),
        Some(renewed)
    );
    assert_eq!(requests.get("r1", now()).await.unwrap(), None);
    // Another identity is another request.
    requests
        .create(&certification_request("r4", "id-b", now() + 100), now())
        .await
        .unwrap();
}

async fn a_certification_request_is_decided_once_and_kept_until_removed(stores: Stores) {
    let requests = &stores.certification_requests;
    requests
        .create(&certification_request("r1", "id-a", now() + 100), now())
        .await
        .unwrap();
    requests
        .decide("r1", b"{\"fingerprints\":\"concordantes\"}", now() + 100)
        .await
        .unwrap();
    let again = requests.decide("r1", b"{}", now() + 50).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    let decided = requests.get("r1", now() + 1_000).await.unwrap().unwrap();
    assert_eq!(
        decided.decision.as_deref(),
        Some(b"{\"fingerprints\":\"concordantes\"}".as_slice())
    );
    // Decided, it stays in course, past its last second, until removed.
    assert_eq!(
        requests.in_course("id-a", now() + 1_000).await.unwrap(),
        Some(decided)
    );
    let blocked = requests
        .create(
            &certification_request("r2", "id-a", now() + 2_000),
            now() + 1_000,
        )
        .await;
    assert!(matches!(blocked, Err(StoreError::Conflict)), "{blocked:?}");
    requests.remove("r1").await.unwrap();
    requests.remove("r1").await.unwrap();
    assert_eq!(requests.get("r1", now()).await.unwrap(), None);
    requests
        .create(
            &certification_request("r2", "id-a", now() + 2_000),
            now() + 1_000,
        )
        .await
        .unwrap();
    let unknown = requests.decide("nope", b"{}", now()).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    let late = requests.decide("r2", b"{}", now() + 2_001).await;
    assert!(matches!(late, Err(StoreError::NotFound)), "{late:?}");
}

async fn concurrent_decisions_record_exactly_one(stores: Stores) {
    stores
        .certification_requests
        .create(&certification_request("r1", "id-a", now() + 100), now())
        .await
        .unwrap();
    let outcomes = at_once(8, |n| {
        let requests = stores.certification_requests.clone();
        async move {
            let decision = format!("agent-{n}");
            requests
                .decide("r1", decision.as_bytes(), now())
                .await
                .map(|()| n)
        }
    })
    .await;
    assert_eq!(done_and_refused(&outcomes), (1, 7), "{outcomes:?}");
    let winners: Vec<i64> = outcomes.into_iter().filter_map(Result::ok).collect();
    let decided = stores
        .certification_requests
        .get("r1", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        decided.decision,
        winners.first().map(|n| format!("agent-{n}").into_bytes())
    );
}

async fn concurrent_requests_of_one_identity_store_exactly_one(stores: Stores) {
    let outcomes = at_once(8, |n| {
        let requests = stores.certification_requests.clone();
        async move {
            let request = certification_request(&format!("r{n}"), "id-a", now() + 100);
            requests.create(&request, now()).await
        }
    })
    .await;
    assert_eq!(done_and_refused(&outcomes), (1, 7), "{outcomes:?}");
}

async fn a_proof_is_kept_and_used_once(stores: Stores) {
    let proofs = &stores.identity_proofs;
    proofs.keep("p1", b"record", now() + 60).await.unwrap();
    let taken = proofs.keep("p1", b"other", now() + 60).await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    let kept = |used| KeptProof {
        value: b"record".to_vec(),
        used,
    };
    assert_eq!(proofs.load("p1", now()).await.unwrap(), Some(kept(false)));
    assert!(proofs.consume("p1", now()).await.unwrap());
    assert!(!proofs.consume("p1", now() + 1).await.unwrap());
    assert_eq!(
        proofs.load("p1", now() + 59).await.unwrap(),
        Some(kept(true))
    );
    assert_eq!(proofs.load("p1", now() + 60).await.unwrap(), None);
    assert!(!proofs.consume("unknown", now()).await.unwrap());
    proofs.keep("p2", b"record", now() + 60).await.unwrap();
    assert!(
        !proofs.consume("p2", now() + 60).await.unwrap(),
        "no longer kept"
    );
}

async fn concurrent_uses_of_a_proof_give_it_to_exactly_one_recipient(stores: Stores) {
    stores
        .identity_proofs
        .keep("p1", b"record", now() + 60)
        .await
        .unwrap();
    let uses = at_once(8, |_| {
        let proofs = stores.identity_proofs.clone();
        async move { proofs.consume("p1", now()).await.unwrap() }
    })
    .await;
    assert_eq!(uses.iter().filter(|used| **used).count(), 1, "{uses:?}");
}

async fn a_login_is_saved_replaced_and_finished(stores: Stores) {
    let logins = &stores.login_transactions;
    logins.save("l", b"pending", now() + 10).await.unwrap();
    logins.save("l", b"approved", now() + 300).await.unwrap();
    assert_eq!(
        logins.load("l", now() + 299).await.unwrap(),
        Some(b"approved".to_vec())
    );
    assert_eq!(logins.load("l", now() + 300).await.unwrap(), None);
    assert_eq!(logins.load("other", now()).await.unwrap(), None);
    logins.finish("l").await.unwrap();
    logins.finish("never-started").await.unwrap();
    assert_eq!(logins.load("l", now()).await.unwrap(), None);
}

async fn a_qr_reference_is_claimed_once_and_the_claim_names_its_login(stores: Stores) {
    let logins = &stores.login_transactions;
    logins.save("l", b"pending", now() + 300).await.unwrap();
    logins.show("l", "q1", now() + 60, None).await.unwrap();
    let taken = logins.show("other", "q1", now() + 60, None).await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    assert_eq!(logins.claimed("c1", now()).await.unwrap(), None);
    assert_eq!(
        logins.claim("q1", "c1", now()).await.unwrap(),
        QrClaim::Claimed("l".into())
    );
    assert_eq!(
        logins.claim("q1", "c2", now() + 1).await.unwrap(),
        QrClaim::AlreadyClaimed
    );
    // A claimed reference is told apart from a guess as long as the login
    // could live, past the reference's own minute.
    assert_eq!(
        logins.claim("q1", "c3", now() + 299).await.unwrap(),
        QrClaim::AlreadyClaimed
    );
    assert_eq!(
        logins.claim("q9", "c4", now()).await.unwrap(),
        QrClaim::Unknown
    );
    logins.save("l", b"claimed", now() + 300).await.unwrap();
    assert_eq!(
        logins.claimed("c1", now() + 299).await.unwrap(),
        Some(("l".to_owned(), b"claimed".to_vec()))
    );
    assert_eq!(logins.claimed("c1", now() + 300).await.unwrap(), None);
    assert_eq!(logins.claimed("c2", now()).await.unwrap(), None);
    // The app answered: the claim names nothing any more, and the
    // reference stays claimed.
    logins.release("c1").await.unwrap();
    logins.release("c1").await.unwrap();
    assert_eq!(logins.claimed("c1", now()).await.unwrap(), None);
    assert_eq!(
        logins.claim("q1", "c5", now()).await.unwrap(),
        QrClaim::AlreadyClaimed
    );
}

async fn a_replaced_or_expired_qr_reference_or_an_ended_login_is_unknown(stores: Stores) {
    let logins = &stores.login_transactions;
    logins.save("l", b"pending", now() + 300).await.unwrap();
    logins.show("l", "q1", now() + 60, None).await.unwrap();
    assert_eq!(
        logins.claim("q1", "c1", now() + 60).await.unwrap(),
        QrClaim::Unknown,
        "expired"
    );
    logins
        .show("l", "q2", now() + 120, Some("q1"))
        .await
        .unwrap();
    assert_eq!(
        logins.claim("q1", "c1", now()).await.unwrap(),
        QrClaim::Unknown,
        "replaced"
    );
    // A claimed reference is not withdrawn by a newer one.
    assert_eq!(
        logins.claim("q2", "c2", now() + 60).await.unwrap(),
        QrClaim::Claimed("l".into())
    );
    logins
        .show("l", "q3", now() + 180, Some("q2"))
        .await
        .unwrap();
    assert_eq!(
        logins.claim("q2", "c3", now() + 60).await.unwrap(),
        QrClaim::AlreadyClaimed
    );
    // An ended login is found by neither its reference nor its claim.
    logins.finish("l").await.unwrap();
    assert_eq!(
        logins.claim("q3", "c4", now() + 60).await.unwrap(),
        QrClaim::Unknown
    );
    assert_eq!(logins.claimed("c2", now() + 60).await.unwrap(), None);
    // A login past its expiry is not claimed through a live reference.
    logins.save("short", b"pending", now() + 30).await.unwrap();
    logins.show("short", "q4", now() + 60, None).await.unwrap();
    assert_eq!(
        logins.claim("q4", "c5", now() + 30).await.unwrap(),
        QrClaim::Unknown
    );
}

async fn concurrent_claims_give_the_login_to_exactly_one_app(stores: Stores) {
    let logins = &stores.login_transactions;
    logins.save("l", b"pending", now() + 300).await.unwrap();
    logins.show("l", "q", now() + 60, None).await.unwrap();
    let outcomes = at_once(8, |n| {
        let logins = stores.login_transactions.clone();
        async move {
            logins
                .claim("q", &format!("claim-{n}"), now())
                .await
                .unwrap()
        }
    })
    .await;
    let claimed = outcomes
        .iter()
        .filter(|o| **o == QrClaim::Claimed("l".into()))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| **o == QrClaim::AlreadyClaimed)
        .count();
    assert_eq!((claimed, refused), (1, 7), "{outcomes:?}");
    let mut named = 0;
    for n in 0..8 {
        if logins
            .claimed(&format!("claim-{n}"), now())
            .await
            .unwrap()
            .is_some()
        {
            named += 1;
        }
    }
    assert_eq!(named, 1, "one claim names the login");
}

async fn a_mailed_code_confirms_once_and_wrong_guesses_run_out(stores: Stores) {
    let codes = &stores.confirmation_codes;
    codes
        .put("k", "right", b"request", now() + 60)
        .await
        .unwrap();
    let taken = codes.put("k", "other", b"other", now() + 60).await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "{taken:?}");
    assert_eq!(
        codes.confirm("k", "wrong", 3, now()).await.unwrap(),
        Confirmation::Wrong { tries_left: 2 }
    );
    assert_eq!(
        codes.confirm("k", "right", 3, now() + 59).await.unwrap(),
        Confirmation::Confirmed(b"request".to_vec())
    );
    assert_eq!(
        codes.confirm("k", "right", 3, now()).await.unwrap(),
        Confirmation::Missing,
        "confirmed once"
    );
    codes
        .put("k2", "right", b"request", now() + 60)
        .await
        .unwrap();
    for left in [2, 1, 0] {
        assert_eq!(
            codes.confirm("k2", "wrong", 3, now()).await.unwrap(),
            Confirmation::Wrong { tries_left: left }
        );
    }
    assert_eq!(
        codes.confirm("k2", "right", 3, now()).await.unwrap(),
        Confirmation::Missing,
        "out of tries"
    );
    codes
        .put("k3", "right", b"request", now() + 60)
        .await
        .unwrap();
    assert_eq!(
        codes.confirm("k3", "right", 3, now() + 60).await.unwrap(),
        Confirmation::Missing,
        "expired"
    );
    assert_eq!(
        codes.confirm("unknown", "right", 3, now()).await.unwrap(),
        Confirmation::Missing
    );
}

async fn concurrent_guesses_at_a_mailed_code_are_all_counted(stores: Stores) {
    stores
        .confirmation_codes
        .put("k", "right", b"request", now() + 60)
        .await
        .unwrap();
    let mut left = at_once(8, |_| {
        let codes = stores.confirmation_codes.clone();
        async move { codes.confirm("k", "wrong", 100, now()).await.unwrap() }
    })
    .await;
    let expected: Vec<Confirmation> = (92..100)
        .map(|tries_left| Confirmation::Wrong { tries_left })
        .collect();
    left.sort_by_key(|outcome| match outcome {
        Confirmation::Wrong { tries_left } => *tries_left,
        _ => u32::MAX,
    });
    assert_eq!(left, expected);
}

async fn a_use_is_marked_once_until_it_expires(stores: Stores) {
    let used = &stores.used_once;
    assert!(used.mark("step", now() + 60, now()).await.unwrap());
    assert!(!used.mark("step", now() + 120, now() + 59).await.unwrap());
    assert!(used.mark("other", now() + 60, now()).await.unwrap());
    // Once its mark has lapsed, a key may be marked again.
    assert!(used.mark("step", now() + 120, now() + 60).await.unwrap());
    assert!(!used.mark("step", now() + 180, now() + 119).await.unwrap());
}

async fn concurrent_marks_give_exactly_one_first_use(stores: Stores) {
    let marks = at_once(8, |_| {
        let used = stores.used_once.clone();
        async move { used.mark("step", now() + 60, now()).await.unwrap() }
    })
    .await;
    assert_eq!(marks.iter().filter(|first| **first).count(), 1, "{marks:?}");
}

async fn the_wallet_stores_count_their_writes_and_not_their_reads(stores: Stores) {
    let identity = wallet_identity("id-a", "card-a");
    stores.wallet_identities.create(&identity).await.unwrap();
    stores.wallet_identities.update(&identity).await.unwrap();
    stores
        .wallet_identities
        .add_deletion_link("link", "id-a", now() + 60)
        .await
        .unwrap();
    stores.wallet_identities.find_by_id("id-a").await.unwrap();
    stores
        .wallet_identities
        .find_by_binding("card-a")
        .await
        .unwrap();
    stores
        .wallet_identities
        .find_by_deletion_link("link", now())
        .await
        .unwrap();
    stores.wallet_identities.delete("id-a").await.unwrap();
    assert_eq!(stores.writes(), 4);
    let requests = &stores.certification_requests;
    requests
        .create(&certification_request("r1", "id-a", now() + 60), now())
        .await
        .unwrap();
    requests.get("r1", now()).await.unwrap();
    requests.in_course("id-a", now()).await.unwrap();
    requests.decide("r1", b"{}", now()).await.unwrap();
    requests.remove("r1").await.unwrap();
    stores
        .identity_proofs
        .keep("p", b"v", now() + 60)
        .await
        .unwrap();
    stores.identity_proofs.load("p", now()).await.unwrap();
    stores.identity_proofs.consume("p", now()).await.unwrap();
    assert_eq!((stores.writes(), stores.durable_writes()), (9, 9));
    let logins = &stores.login_transactions;
    logins.save("l", b"v", now() + 60).await.unwrap();
    logins.load("l", now()).await.unwrap();
    logins.show("l", "q", now() + 60, None).await.unwrap();
    logins.claim("q", "c", now()).await.unwrap();
    logins.claimed("c", now()).await.unwrap();
    logins.release("c").await.unwrap();
    logins.finish("l").await.unwrap();
    stores
        .confirmation_codes
        .put("k", "h", b"v", now() + 60)
        .await
        .unwrap();
    stores
        .confirmation_codes
        .confirm("k", "h", 3, now())
        .await
        .unwrap();
    stores.used_once.mark("u", now() + 60, now()).await.unwrap();
    assert_eq!(stores.writes(), 17);
    let ephemeral = if stores.all_durable() { 8 } else { 0 };
    assert_eq!(stores.durable_writes(), 9 + ephemeral);
}

async fn the_wallet_stores_purge_only_what_has_expired(stores: Stores) {
    // What must outlive the purge lives an hour: Redis expires keys by its
    // own clock, which has moved on since `now()` was first read.
    let later = || now() + 3600;
    let identities = &stores.wallet_identities;
    identities
        .create(&wallet_identity("id-a", "card-a"))
        .await
        .unwrap();
    identities
        .add_deletion_link("old", "id-a", now())
        .await
        .unwrap();
    identities
        .add_deletion_link("new", "id-a", later())
        .await
        .unwrap();
    let requests = &stores.certification_requests;
    // Open and past its last second; open at its last second; decided.
    requests
        .create(&certification_request("r1", "id-1", now() - 1), now() - 2)
        .await
        .unwrap();
    requests
        .create(&certification_request("r2", "id-2", now()), now())
        .await
        .unwrap();
    requests
        .create(&certification_request("r3", "id-3", now() - 1), now() - 2)
        .await
        .unwrap();
    requests.decide("r3", b"{}", now() - 2).await.unwrap();
    stores
        .identity_proofs
        .keep("old", b"v", now())
        .await
        .unwrap();
    stores
        .identity_proofs
        .keep("new", b"v", later())
        .await
        .unwrap();
    let logins = &stores.login_transactions;
    logins.save("old", b"v", now()).await.unwrap();
    logins.save("new", b"v", later()).await.unwrap();
    logins.show("new", "q-old", now(), None).await.unwrap();
    logins.show("new", "q-new", later(), None).await.unwrap();
    stores
        .confirmation_codes
        .put("old", "h", b"v", now())
        .await
        .unwrap();
    stores
        .confirmation_codes
        .put("new", "h", b"v", later())
        .await
        .unwrap();
    stores
        .used_once
        .mark("old", now(), now() - 1)
        .await
        .unwrap();
    stores
        .used_once
        .mark("new", later(), now() - 1)
        .await
        .unwrap();

    let purged = stores.purge_expired(now()).await.unwrap();
    // Durable: a link, a lapsed request, a proof; what expires: a login, a
    // reference, a code, a mark (dropped by Redis itself when there).
    let durable = 3;
    let ephemeral = if stores.expires_by_itself() { 0 } else { 4 };
    assert_eq!(purged, durable + ephemeral);
    assert_eq!(stores.purge_expired(now()).await.unwrap(), 0);

    assert!(
        identities
            .find_by_deletion_link("new", now())
            .await
            .unwrap()
            .is_some()
    );
    assert!(identities.find_by_id("id-a").await.unwrap().is_some());
    assert!(requests.get("r2", now()).await.unwrap().is_some());
    assert!(requests.get("r3", now()).await.unwrap().is_some());
    assert!(
        stores
            .identity_proofs
            .load("new", now())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        logins.load("new", now()).await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        logins.claim("q-new", "c", now()).await.unwrap(),
        QrClaim::Claimed("new".into())
    );
    assert!(!stores.used_once.mark("new", later(), now()).await.unwrap());
    // A purged key is free again.
    stores
        .confirmation_codes
        .put("old", "h", b"again", later())
        .await
        .unwrap();
    stores
        .identity_proofs
        .keep("old", b"again", later())
        .await
        .unwrap();
}
