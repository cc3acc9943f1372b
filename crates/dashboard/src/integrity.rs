//! « Vérifier l'intégrité »: the trail's chain checked with its keys, then
//! against a receipt the citizen holds outside our database.
//!
//! Against whom (docs/dashboard.md): whoever can write the database but
//! does not hold the chain keys (an operator of the database, a thief of
//! it, a backup restored with changes). Without the keys, no one can make
//! an entry whose hash verifies, so a changed, moved or inserted entry is
//! named; a removed entry breaks the numbering or the links. Removing the
//! oldest entries is what retention does; each entry carries its
//! predecessor's date under its hash, so the oldest one left tells whether
//! retention could have taken its predecessor. Removing the last entries,
//! or restoring an older copy, leaves a shorter chain that verifies: a
//! receipt of a later head, signed by a hub (in each connection email) or
//! kept by this dashboard in the browser, names it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{Trace, TrailKey};

/// What the check found wrong, each named by entry number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The entry is not the one written: its content, date or number
    /// changed, or it was made without the chain key.
    Altered(i64),
    /// The entry written with number `from` now stands as number `to`.
    Moved {
        /// Its number when written.
        from: i64,
        /// Its number now.
        to: i64,
    },
    /// The entry before this one was removed though retention had not
    /// reached it: its date, which this one carries, is recent.
    RemovedEarly(i64),
    /// Entries between these two numbers were removed.
    Missing {
        /// The last entry before the gap.
        after: i64,
        /// The first entry after it.
        before: i64,
    },
    /// The entry names a key this dashboard does not know.
    UnknownKey(i64),
    /// The trail ends before the head a receipt attests: its last entries
    /// were removed, or an older copy was restored.
    Truncated {
        /// The trail's last entry now.
        last: i64,
        /// The entry the receipt attests.
        receipt: i64,
    },
    /// The entry a receipt attests is no longer the one it signed.
    DiffersFromReceipt(i64),
}

/// A head someone attests: entry `seq` had hash `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The entry's number.
    pub seq: i64,
    /// Its hash.
    pub hash: [u8; 32],
}

/// How far clocks of the federation's machines may disagree: a purge on
/// a machine ahead of this one forgets entries a little sooner.
const CLOCK_SLACK_SECS: i64 = 300;

/// The date from which every entry is still kept, when retention keeps
/// `window` seconds: `traces` given to [`check_chain`] must hold every
/// entry from then on.
pub fn kept_since(now: i64, window: i64) -> i64 {
    now - window + CLOCK_SLACK_SECS
}

/// Checks the chain with its keys: each entry's own hash, its number
/// following the previous one's, its link to the previous one's hash, and
/// that the oldest entry's predecessor is gone only if it was older than
/// `kept_since`.
pub fn check_chain(
    pseudonym: &str,
    traces: &[Trace],
    keys: &[TrailKey],
    kept_since: i64,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(oldest) = traces.first()
        && oldest.seq > 1
        && oldest.prev_at.is_some_and(|prev_at| prev_at >= kept_since)
    {
        findings.push(Finding::RemovedEarly(oldest.seq));
    }
    let mut previous: Option<&Trace> = None;
    for trace in traces {
        match keys.iter().find(|key| key.id == trace.key_id) {
            None => findings.push(Finding::UnknownKey(trace.seq)),
            Some(key) => {
                if trace.expected_hash(&key.secret, pseudonym) != trace.hash {
                    findings.push(moved_from(pseudonym, trace, key, traces).map_or(
                        Finding::Altered(trace.seq),
                        |from| Finding::Moved {
                            from,
                            to: trace.seq,
                        },
                    ));
                }
            }
        }
        if let Some(previous) = previous {
            if trace.seq > previous.seq + 1 {
                findings.push(Finding::Missing {
                    after: previous.seq,
                    before: trace.seq,
                });
            } else if trace.prev_hash != previous.hash
                && !findings
                    .iter()
                    .any(|finding| names(finding, trace.seq) || names(finding, previous.seq))
            {
                findings.push(Finding::Altered(previous.seq));
            }
        }
        previous = Some(trace);
    }
    findings
}

/// The number an entry was written with, when its hash verifies under
/// another number of this trail: it was moved.
fn moved_from(pseudonym: &str, trace: &Trace, key: &TrailKey, traces: &[Trace]) -> Option<i64> {
    traces
        .iter()
        .map(|other| other.seq)
        .filter(|seq| *seq != trace.seq)
        .find(|seq| {
            store::trace_hash(
                &key.secret,
                pseudonym,
                &trace.prev_hash,
                *seq,
                trace.at,
                trace.prev_at,
                &trace.body,
            ) == trace.hash
        })
}

fn names(finding: &Finding, seq: i64) -> bool {
    matches!(finding, Finding::Altered(s) | Finding::UnknownKey(s) if *s == seq)
        || matches!(finding, Finding::Moved { to, .. } if *to == seq)
}

/// Compares the trail with a head attested outside the database.
pub fn check_head(traces: &[Trace], head: &Head) -> Option<Finding> {
    let last = traces.last().map_or(0, |trace| trace.seq);
    if head.seq > last {
        return Some(Finding::Truncated {
            last,
            receipt: head.seq,
        });
    }
    match traces.iter().find(|trace| trace.seq == head.seq) {
        Some(trace) if trace.hash != head.hash => Some(Finding::DiffersFromReceipt(head.seq)),
        // Older than the history shown (retention): nothing to compare.
        _ => None,
    }
}

/// The browser's copy of the last head this dashboard saw intact, for one
/// person: `kid.seq.hash.mac`, the MAC under the chain key so that no one
/// without it (a database writer, a sibling site tossing cookies) can make
/// one.
pub fn browser_head(keys: &[TrailKey], pseudonym: &str, head: &Head) -> Option<String> {
    let key = keys.first()?;
    let hash = URL_SAFE_NO_PAD.encode(head.hash);
    let mac = head_mac(key, pseudonym, head.seq, &hash)?;
    Some(format!("{}.{}.{hash}.{mac}", key.id, head.seq))
}

/// Reads [`browser_head`]'s value back; `None` when it is not one of ours
/// for this person.
pub fn parse_browser_head(keys: &[TrailKey], pseudonym: &str, value: &str) -> Option<Head> {
    let mut parts = value.split('.');
    let (kid, seq, hash, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let key = keys.iter().find(|key| key.id == kid)?;
    let seq: i64 = seq.parse().ok()?;
    let expected = head_mac(key, pseudonym, seq, hash)?;
    if !oidc::types::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
        return None;
    }
    let hash = URL_SAFE_NO_PAD.decode(hash).ok()?.try_into().ok()?;
    Some(Head { seq, hash })
}

fn head_mac(key: &TrailKey, pseudonym: &str, seq: i64, hash: &str) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.secret).ok()?;
    mac.update(b"passerelle/dashboard-head/v1\0");
    mac.update(pseudonym.as_bytes());
    mac.update(b"\0");
    mac.update(&seq.to_be_bytes());
    mac.update(hash.as_bytes());
    Some(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> TrailKey {
        TrailKey {
            id: id.into(),
            secret: [byte; 32],
        }
    }

    /// Every entry of the chains below is dated from then on, and kept.
    const KEPT: i64 = 1_800_000_000;

    fn chain(key: &TrailKey, bodies: &[&[u8]]) -> Vec<Trace> {
        let mut traces: Vec<Trace> = Vec::new();
        for (rank, body) in bodies.iter().enumerate() {
            let seq = rank as i64 + 1;
            let mut trace = Trace {
                seq,
                at: KEPT + seq,
                body: body.to_vec(),
                prev_hash: traces.last().map_or([0; 32], |trace| trace.hash),
                prev_at: Some(traces.last().map_or(0, |trace| trace.at)),
                key_id: key.id.clone(),
                hash: [0; 32],
            };
            trace.hash = trace.expected_hash(&key.secret, "p1");
            traces.push(trace);
        }
        traces
    }

    fn head(trace: &Trace) -> Head {
        Head {
            seq: trace.seq,
            hash: trace.hash,
        }
    }

    /// The old, unkeyed hash: what a database writer can compute.
    fn unkeyed(prev: &[u8; 32], seq: i64, at: i64, body: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        let mut hash = Sha256::new();
        hash.update(prev);
        hash.update(seq.to_be_bytes());
        hash.update(at.to_be_bytes());
        hash.update(body);
        hash.finalize().into()
    }

    #[test]
    fn an_intact_chain_has_no_finding_even_across_a_key_rotation() {
        let old = key("k1", 1);
        let mut traces = chain(&old, &[b"a", b"b"]);
        let new = key("k2", 2);
        let mut third = Trace {
            seq: 3,
            at: KEPT + 3,
            body: b"c".to_vec(),
            prev_hash: traces[1].hash,
            prev_at: Some(traces[1].at),
            key_id: "k2".into(),
            hash: [0; 32],
        };
        third.hash = third.expected_hash(&new.secret, "p1");
        traces.push(third);
        assert!(check_chain("p1", &traces, &[new.clone(), old.clone()], KEPT).is_empty());
        assert_eq!(
            check_chain("p1", &traces, &[new], KEPT),
            vec![Finding::UnknownKey(1), Finding::UnknownKey(2)]
        );
    }

    #[test]
    fn a_rewritten_entry_with_every_hash_recomputed_the_unkeyed_way_is_named() {
        let k = key("k1", 1);
        let mut traces = chain(&k, &[b"a", b"b", b"c"]);
        traces[1].body = b"forged".to_vec();
        let mut prev = traces[0].hash;
        for trace in traces.iter_mut().skip(1) {
            trace.prev_hash = prev;
            trace.hash = unkeyed(&prev, trace.seq, trace.at, &trace.body);
            prev = trace.hash;
        }
        let findings = check_chain("p1", &traces, &[k], KEPT);
        assert_eq!(findings, vec![Finding::Altered(2), Finding::Altered(3)]);
    }

    #[test]
    fn deleted_last_entries_are_named_by_a_receipt_of_the_head() {
        let k = key("k1", 1);
        let traces = chain(&k, &[b"a", b"b", b"c", b"d"]);
        let receipt = head(&traces[3]);
        let cut = &traces[..2];
        assert!(
            check_chain("p1", cut, std::slice::from_ref(&k), KEPT).is_empty(),
            "a cut chain verifies alone"
        );
        assert_eq!(
            check_head(cut, &receipt),
            Some(Finding::Truncated {
                last: 2,
                receipt: 4
            })
        );
        assert_eq!(check_head(&traces, &receipt), None);
    }

    #[test]
    fn a_deleted_middle_entry_is_named() {
        let k = key("k1", 1);
        let mut traces = chain(&k, &[b"a", b"b", b"c"]);
        traces.remove(1);
        assert_eq!(
            check_chain("p1", &traces, &[k], KEPT),
            vec![Finding::Missing {
                after: 1,
                before: 3
            }]
        );
    }

    #[test]
    fn the_oldest_entry_removed_is_named_unless_retention_could_have_taken_it() {
        let k = key("k1", 1);
        let mut traces = chain(&k, &[b"a", b"b", b"c"]);
        traces.remove(0);
        assert_eq!(
            check_chain("p1", &traces, std::slice::from_ref(&k), KEPT),
            vec![Finding::RemovedEarly(2)]
        );
        // Entry 1 (dated KEPT + 1) is past the keeping period: forgotten.
        assert!(check_chain("p1", &traces, std::slice::from_ref(&k), KEPT + 2).is_empty());
        // Its date cannot be put back past the period to hide it.
        traces[0].prev_at = Some(0);
        assert_eq!(
            check_chain("p1", &traces, std::slice::from_ref(&k), KEPT),
            vec![Finding::Altered(2)]
        );
        // Nor dropped, to pass the entry for one of the first format.
        traces[0].prev_at = None;
        assert_eq!(
            check_chain("p1", &traces, &[k], KEPT),
            vec![Finding::Altered(2)]
        );
    }

    #[test]
    fn an_entry_of_the_first_format_still_verifies_and_tells_nothing_of_its_predecessor() {
        let k = key("k1", 1);
        let mut traces = chain(&k, &[b"a", b"b"]);
        for trace in &mut traces {
            trace.prev_at = None;
            trace.hash = store::trace_hash(
                &k.secret,
                "p1",
                &trace.prev_hash,
                trace.seq,
                trace.at,
                None,
                &trace.body,
            );
        }
        traces[1].prev_hash = traces[0].hash;
        traces[1].hash = traces[1].expected_hash(&k.secret, "p1");
        assert!(check_chain("p1", &traces, std::slice::from_ref(&k), KEPT).is_empty());
        assert!(check_chain("p1", &traces[1..], &[k], KEPT).is_empty());
    }

    #[test]
    fn two_swapped_entries_are_named_as_moved() {
        let k = key("k1", 1);
        let mut traces = chain(&k, &[b"a", b"b", b"c", b"d"]);
        // The writer swaps entries 2 and 3 and renumbers them.
        traces.swap(1, 2);
        traces[1].seq = 2;
        traces[2].seq = 3;
        let findings = check_chain("p1", &traces, &[k], KEPT);
        assert!(
            findings.contains(&Finding::Moved { from: 3, to: 2 }),
            "{findings:?}"
        );
        assert!(
            findings.contains(&Finding::Moved { from: 2, to: 3 }),
            "{findings:?}"
        );
    }

    #[test]
    fn a_restored_older_copy_then_new_entries_differs_from_the_receipt() {
        let k = key("k1", 1);
        let now = chain(&k, &[b"a", b"b", b"c"]);
        let receipt = head(&now[2]);
        // The backup held entries 1 and 2; a new connection then became n° 3.
        let restored = chain(&k, &[b"a", b"b", b"later"]);
        assert!(check_chain("p1", &restored, std::slice::from_ref(&k), KEPT).is_empty());
        assert_eq!(
            check_head(&restored, &receipt),
            Some(Finding::DiffersFromReceipt(3))
        );
        assert_eq!(
            check_head(&restored[..2], &receipt),
            Some(Finding::Truncated {
                last: 2,
                receipt: 3
            })
        );
    }

    #[test]
    fn the_browser_head_is_ours_only_for_its_person_and_under_a_known_key() {
        let k = key("k1", 1);
        let traces = chain(&k, &[b"a"]);
        let value = browser_head(std::slice::from_ref(&k), "p1", &head(&traces[0])).unwrap();
        assert_eq!(
            parse_browser_head(std::slice::from_ref(&k), "p1", &value),
            Some(head(&traces[0]))
        );
        assert_eq!(
            parse_browser_head(std::slice::from_ref(&k), "p2", &value),
            None
        );
        assert_eq!(parse_browser_head(&[key("k1", 9)], "p1", &value), None);
        let forged = value.replacen(".1.", ".7.", 1);
        assert_eq!(parse_browser_head(&[k], "p1", &forged), None);
    }

    mod properties {
        use proptest::prelude::*;
        use proptest::sample::Index;

        use super::*;

        /// One change a database writer (without the chain keys) makes.
        #[derive(Clone, Debug)]
        enum Change {
            /// An entry's content.
            Body(Index, u8),
            /// Its date.
            Date(Index, i64),
            /// Its number.
            Number(Index, i64),
            /// Its hash, or its link to the previous one, one bit.
            Hash(Index, u8),
            Link(Index, u8),
            /// The key it names: another known one, or an unknown one.
            Key(Index, bool),
            /// Removed (none is past its keeping period here).
            Remove(Index),
            /// Two entries' places.
            Swap(Index, Index),
            /// A new entry written in, the later ones renumbered.
            Insert(Index, u8),
            /// Rewritten, its hash remade under a guessed key and the next
            /// entry relinked to it.
            Forge(Index, u8),
        }

        fn change() -> impl Strategy<Value = Change> {
            let at = any::<Index>;
            prop_oneof![
                (at(), any::<u8>()).prop_map(|(i, b)| Change::Body(i, b)),
                (at(), prop_oneof![-1000i64..0, 1i64..1000]).prop_map(|(i, d)| Change::Date(i, d)),
                (at(), prop_oneof![-5i64..0, 1i64..5]).prop_map(|(i, d)| Change::Number(i, d)),
                (at(), 0u8..255).prop_map(|(i, b)| Change::Hash(i, b)),
                (at(), 0u8..255).prop_map(|(i, b)| Change::Link(i, b)),
                (at(), any::<bool>()).prop_map(|(i, known)| Change::Key(i, known)),
                at().prop_map(Change::Remove),
                (at(), at()).prop_map(|(i, j)| Change::Swap(i, j)),
                (at(), any::<u8>()).prop_map(|(i, b)| Change::Insert(i, b)),
                (at(), any::<u8>()).prop_map(|(i, b)| Change::Forge(i, b)),
            ]
        }

        /// What the change makes of `traces`; `None` when it changes
        /// nothing (two places the same) or is out of the property.
        fn apply(change: &Change, mut traces: Vec<Trace>) -> Option<Vec<Trace>> {
            let n = traces.len();
            let guessed = key("k1", 0xEE);
            match *change {
                Change::Body(i, byte) => traces[i.index(n)].body.push(byte),
                Change::Date(i, delta) => traces[i.index(n)].at += delta,
                Change::Number(i, delta) => traces[i.index(n)].seq += delta,
                Change::Hash(i, bit) => {
                    traces[i.index(n)].hash[usize::from(bit / 8)] ^= 1 << (bit % 8)
                }
                Change::Link(i, bit) => {
                    traces[i.index(n)].prev_hash[usize::from(bit / 8)] ^= 1 << (bit % 8);
                }
                Change::Key(i, known) => {
                    traces[i.index(n)].key_id = if known { "k2" } else { "kx" }.into();
                }
                Change::Remove(i) => {
                    traces.remove(i.index(n));
                }
                Change::Swap(i, j) => {
                    let (i, j) = (i.index(n), j.index(n));
                    if i == j {
                        return None;
                    }
                    traces.swap(i, j);
                }
                Change::Insert(i, byte) => {
                    let i = i.index(n);
                    let prev_hash = i.checked_sub(1).map_or([0; 32], |p| traces[p].hash);
                    let mut forged = Trace {
                        seq: traces[i].seq,
                        at: traces[i].at,
                        body: vec![byte],
                        prev_hash,
                        prev_at: traces[i].prev_at,
                        key_id: "k1".into(),
                        hash: [0; 32],
                    };
                    forged.hash = forged.expected_hash(&guessed.secret, "p1");
                    for later in &mut traces[i..] {
                        later.seq += 1;
                    }
                    traces.insert(i, forged);
                }
                Change::Forge(i, byte) => {
                    let i = i.index(n);
                    let entry = &mut traces[i];
                    entry.body.push(byte);
                    entry.hash = entry.expected_hash(&guessed.secret, "p1");
                    let hash = entry.hash;
                    if let Some(next) = traces.get_mut(i + 1) {
                        next.prev_hash = hash;
                    }
                }
            }
            Some(traces)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Whatever single change a database writer makes to a trail,
            /// the chain, or the receipt of its head the citizen holds,
            /// names it.
            #[test]
            fn the_hash_chain_detects_any_single_change(
                bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 1..8),
                change in change(),
            ) {
                let keys = [key("k1", 1), key("k2", 2)];
                let bodies: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
                let traces = chain(&keys[0], &bodies);
                let receipt = head(&traces[traces.len() - 1]);
                prop_assert!(check_chain("p1", &traces, &keys, KEPT).is_empty());
                prop_assert_eq!(check_head(&traces, &receipt), None);
                let Some(changed) = apply(&change, traces) else {
                    return Ok(());
                };
                let named = !check_chain("p1", &changed, &keys, KEPT).is_empty()
                    || check_head(&changed, &receipt).is_some();
                prop_assert!(named, "{:?} not named", change);
            }
        }
    }
}
