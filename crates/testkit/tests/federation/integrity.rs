//! Issue 15, point 2: the trail holds against whoever can write the
//! database. Each attack is made on the SQLite file itself, as a database
//! writer would, then « Vérifier l'intégrité » must name it.

use rusqlite::{Connection, params};

use super::*;

type Row = (
    String,
    i64,
    i64,
    Vec<u8>,
    Vec<u8>,
    String,
    Vec<u8>,
    Option<i64>,
);

/// The trail's database, opened as any writer of the file would.
fn open(path: &std::path::Path) -> Connection {
    let db = Connection::open(path).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db
}

async fn rows(db: &Connection) -> Vec<Row> {
    db.prepare(
        "SELECT pseudonym, seq, at, body, prev_hash, key_id, hash, prev_at FROM traces ORDER BY seq",
    )
        .unwrap()
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Puts the trail back as it was (the same rows, the same head).
async fn restore(db: &Connection, saved: &[Row]) {
    db.execute("DELETE FROM traces", []).unwrap();
    for (pseudonym, seq, at, body, prev, key_id, hash, prev_at) in saved {
        db.execute(
            "INSERT INTO traces (pseudonym, seq, at, body, prev_hash, key_id, hash, prev_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params![pseudonym, seq, at, body, prev, key_id, hash, prev_at],
        )
        .unwrap();
    }
    set_head(db, saved.last().unwrap()).await;
}

async fn set_head(db: &Connection, last: &Row) {
    db.execute(
        "UPDATE trail_heads SET seq = ?, hash = ?, at = ?",
        params![last.1, last.6, last.2],
    )
    .unwrap();
}

/// The old, unkeyed hash: all a database writer can compute.
fn unkeyed(prev: &[u8], seq: i64, at: i64, body: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    hash.update(prev);
    hash.update(seq.to_be_bytes());
    hash.update(at.to_be_bytes());
    hash.update(body);
    hash.finalize().to_vec()
}

/// The receipt in a connection email.
fn receipt_of(mail: &mail::Sent) -> String {
    let text = &mail.message.text;
    let start = text.find("depuis :\n\n").unwrap() + "depuis :\n\n".len();
    text[start..].lines().next().unwrap().trim().to_owned()
}

/// Asserts that `page` shows `text`, printing the page otherwise.
#[track_caller]
fn assert_shows(page: &testkit::Response, text: &str) {
    assert!(page.shows(text), "{}", page.body);
}

async fn check(citizen: &Citizen, dashboard: &str) -> testkit::Response {
    citizen.get(&format!("{dashboard}/verification")).await
}

async fn check_with(citizen: &Citizen, dashboard: &str, receipt: &str) -> testkit::Response {
    let page = check(citizen, dashboard).await;
    citizen
        .post(
            &format!("{dashboard}/verification"),
            &[("csrf", &page.input("csrf").unwrap()), ("recu", receipt)],
        )
        .await
}

#[tokio::test]
async fn every_rewrite_of_the_trail_by_a_database_writer_is_detected_and_named() {
    let dir =
        std::env::temp_dir().join(format!("passerelle-trail-{}", oidc::types::random_token(6)));
    let federation = Federation::builder().on_disk(&dir).start().await.unwrap();
    let dashboard = federation.url("dashboard").to_owned();
    for _ in 0..3 {
        sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    }
    let citizen = Citizen::new();
    dashboard_login_with(&federation, &citizen, "ameli").await;
    let mails = federation.delivered_mails().await;
    let receipts: Vec<String> = mails.iter().map(receipt_of).collect();
    assert_eq!(receipts.len(), 4, "one receipt per connection email");
    assert!(
        mails[3]
            .message
            .text
            .contains("Cette connexion est la n° 4 de votre historique")
    );

    let intact = check(&citizen, &dashboard).await;
    assert_shows(&intact, "L&#39;historique est intact : 4 entrée(s)");
    let with_receipt = check_with(&citizen, &dashboard, &receipts[3]).await;
    assert_shows(&with_receipt, "Reçu vérifié : entrée n° 4.");
    assert_shows(&with_receipt, "L&#39;historique est intact");
    // A receipt whose signature was touched proves nothing.
    let mut forged = receipts[3].clone();
    forged.pop();
    forged.push(if receipts[3].ends_with('A') { 'B' } else { 'A' });
    let refused = check_with(&citizen, &dashboard, &forged).await;
    assert_shows(&refused, "Ce reçu n&#39;est pas valable");

    let db = open(&dir.join("traces.sqlite"));
    let saved = rows(&db).await;
    assert_eq!(saved.len(), 4);

    // 1. Entry 2 rewritten, every hash after it and the head recomputed
    // the unkeyed way.
    let mut prev = saved[0].6.clone();
    for (pseudonym, seq, at, body, ..) in saved.iter().skip(1) {
        let body = if *seq == 2 {
            b"{\"kind\":\"connection\",\"platform\":\"Passerelle\",\"service\":\"Autre\",\"provider\":\"ameli\",\"acr\":\"eidas1\"}".to_vec()
        } else {
            body.clone()
        };
        let hash = unkeyed(&prev, *seq, *at, &body);
        db.execute(
            "UPDATE traces SET body = ?, prev_hash = ?, hash = ? WHERE pseudonym = ? AND seq = ?",
            params![body, prev, hash, pseudonym, seq],
        )
        .unwrap();
        prev = hash;
    }
    let page = check(&citizen, &dashboard).await;
    assert_shows(&page, "L&#39;entrée n° 2 a été modifiée");
    restore(&db, &saved).await;
    assert!(
        check(&citizen, &dashboard)
            .await
            .shows("L&#39;historique est intact")
    );

    // 2. Entries 2 and 3 swapped.
    db.execute("UPDATE traces SET seq = -seq WHERE seq IN (2, 3)", [])
        .unwrap();
    db.execute("UPDATE traces SET seq = 5 + seq WHERE seq IN (-2, -3)", [])
        .unwrap();
    let page = check(&citizen, &dashboard).await;
    assert_shows(
        &page,
        "L&#39;entrée écrite sous le n° 3 a été déplacée au n° 2",
    );
    assert_shows(
        &page,
        "L&#39;entrée écrite sous le n° 2 a été déplacée au n° 3",
    );
    restore(&db, &saved).await;

    // 3. The oldest entry deleted, as if retention had taken it: the next
    // one dates it, and it was too recent to be forgotten.
    db.execute("DELETE FROM traces WHERE seq = 1", []).unwrap();
    let page = check(&citizen, &dashboard).await;
    assert_shows(
        &page,
        "L&#39;entrée qui précédait le n° 2 a été retirée avant la fin de sa durée de conservation",
    );
    restore(&db, &saved).await;

    // 4. The last two entries deleted (the head moved back): the chain
    // left verifies alone, but this browser saw n° 4, and so does the
    // email's receipt, in a browser that never checked before.
    db.execute("DELETE FROM traces WHERE seq >= 3", []).unwrap();
    set_head(&db, &saved[1]).await;
    let page = check(&citizen, &dashboard).await;
    assert_shows(
        &page,
        "L&#39;historique s&#39;arrête au n° 2, mais un reçu atteste le n° 4",
    );
    let elsewhere = Citizen::new();
    federation.clock.advance(1);
    dashboard_login_with(&federation, &elsewhere, "ameli").await;
    // (that login was n° 3 of the cut trail)
    let page = check(&elsewhere, &dashboard).await;
    assert!(
        page.shows("L&#39;historique est intact"),
        "alone, a cut trail verifies: {}",
        page.body
    );
    let page = check_with(&elsewhere, &dashboard, &receipts[3]).await;
    assert_shows(
        &page,
        "L&#39;historique s&#39;arrête au n° 3, mais un reçu atteste le n° 4",
    );

    // 5. An older copy restored, then a new connection: n° 3 is not the one
    // the receipt of n° 3 signed.
    let page = check_with(&elsewhere, &dashboard, &receipts[2]).await;
    assert_shows(
        &page,
        "L&#39;entrée n° 3 n&#39;est plus celle qu&#39;atteste le reçu",
    );

    // 6. Another person's receipt is refused.
    let stranger_receipt = {
        sandbox_login(&federation, &Citizen::new(), "impots", 2).await;
        let mails = federation.delivered_mails().await;
        receipt_of(mails.last().unwrap())
    };
    let page = check_with(&elsewhere, &dashboard, &stranger_receipt).await;
    assert_shows(&page, "Ce reçu n&#39;est pas valable");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16, point 3: a rotation of the trail's chain key on the shared key
/// folder is taken by the running process without a restart: the next
/// entries are chained under the new key, the older ones still verify, and
/// the dashboard finds the trail intact.
#[tokio::test]
async fn a_trail_key_rotation_is_taken_by_a_running_process() {
    let dir = std::env::temp_dir().join(format!(
        "passerelle-trail-keys-{}",
        oidc::types::random_token(6)
    ));
    let federation = Federation::builder().on_disk(&dir).start().await.unwrap();
    sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    let now = oidc::Clock::now(&federation.clock);
    let new_key = passerelle::keys::rotate_trail(&dir.join("keys"), now).unwrap();
    assert_eq!(federation.running.reload_keys(), vec!["trail".to_owned()]);
    assert!(
        federation.running.reload_keys().is_empty(),
        "read once, then unchanged"
    );
    sandbox_login(&federation, &Citizen::new(), "impots", 1).await;
    let citizen = Citizen::new();
    dashboard_login_with(&federation, &citizen, "impots").await;

    let db = open(&dir.join("traces.sqlite"));
    let keys: Vec<String> = rows(&db).await.into_iter().map(|row| row.5).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_ne!(keys[0], new_key, "the first entry under the old key");
    assert_eq!(&keys[1..], [new_key.clone(), new_key], "then the new one");
    let intact = check(&citizen, federation.url("dashboard")).await;
    assert_shows(&intact, "L&#39;historique est intact : 3 entrée(s)");
    let _ = std::fs::remove_dir_all(&dir);
}
