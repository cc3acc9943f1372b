#![expect(clippy::unwrap_used, reason = "tests")]
//! The verifier against the design note's negative cases (4.4): each
//! forgery fails, and with its own error.

use std::collections::BTreeMap;

use card::lds::{File, LdsSecurityObject};
use card::pki::{self, Authority, TestPki};
use card::sod::SodParts;
use card::{CardError, CardState, Date, Document, Evidence, Holder, Reader, SoftCard};
use idp_wallet::verify::{CardCheck, LOGIN_GROUPS, TrustStore, verify};
use x509_cert::builder::Profile;

/// 2026-11-23, noon UTC.
const NOW: u64 = 1_795_435_200;
const YEAR: u64 = 365 * 86_400;
const CHALLENGE: [u8; 8] = *b"\x01\x23\x45\x67\x89\xAB\xCD\xEF";

fn holder(family: &str) -> Holder {
    Holder {
        family_name: family.into(),
        given_names: "Angèle Marie".into(),
        usage_name: None,
        sex: 'F',
        birth_date: Date::new(1985, 3, 14).unwrap(),
        birthplace: Some("75056".into()),
        birthcountry: "99100".into(),
        birthplace_name: "Paris".into(),
    }
}

fn document(expiry: Date) -> Document {
    Document {
        number: card::issue::random_document_number(),
        expiry,
    }
}

fn in_2034() -> Date {
    Date::new(2034, 6, 1).unwrap()
}

struct Fixture {
    pki: TestPki,
    trust: TrustStore,
}

fn fixture() -> Fixture {
    let pki = TestPki::generate(NOW - YEAR).unwrap();
    let trust = TrustStore::new(&[pki.csca.certificate_der().unwrap()], &[]).unwrap();
    Fixture { pki, trust }
}

/// A card for `holder` whose SOD `signer` signs over `signed` data groups.
fn card_signed_by(signer: &Authority, holder: &Holder, expiry: Date) -> CardState {
    card::issue::issue(signer, holder, &document(expiry)).unwrap()
}

/// What a wallet would send: the code set and verified, the login groups
/// read, the challenge signed.
fn evidence(state: CardState, challenge: &[u8; 8]) -> Evidence {
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    if reader.set_pin("123456").is_err() {
        reader.verify_pin("123456").unwrap();
    }
    reader.evidence(&LOGIN_GROUPS, challenge).unwrap()
}

fn check(f: &Fixture, evidence: &Evidence) -> Result<idp_wallet::verify::VerifiedCard, CardCheck> {
    verify(evidence, &f.trust, &CHALLENGE, NOW)
}

#[test]
fn a_genuine_card_read_is_accepted_with_its_identity() {
    let f = fixture();
    let state = card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034());
    let number = state.document_number.clone();
    let verified = check(&f, &evidence(state, &CHALLENGE)).unwrap();
    assert_eq!(verified.document_number, number);
    assert_eq!(verified.issuing_state, "FRA");
    assert_eq!(verified.holder, holder("Dubois"));
    assert_eq!(verified.key_fingerprint.len(), 64);
}

#[test]
fn a_tampered_data_group_byte() {
    let f = fixture();
    let mut read = evidence(
        card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034()),
        &CHALLENGE,
    );
    let dg13 = read.data_groups.get_mut(&13).unwrap();
    let last = dg13.0.len() - 1;
    dg13.0[last] ^= 1;
    assert_eq!(check(&f, &read).unwrap_err(), CardCheck::DataGroupHash(13));
}

#[test]
fn a_data_group_absent_from_the_sod() {
    let f = fixture();
    let key = pki::random_key();
    let mut files =
        card::issue::data_groups(&holder("Dubois"), &document(in_2034()), &key).unwrap();
    let mut signed = files.clone();
    signed.remove(&File::Dg11);
    files.insert(
        File::Sod,
        card::issue::sign_sod(&signed, &f.pki.document_signer).unwrap(),
    );
    let state = CardState::new("X4RTBPFW4".into(), "123456".into(), files, &key);
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::DataGroupNotInSod(11)
    );
}

#[test]
fn a_sod_re_signed_by_an_unknown_document_signer() {
    // The forger names our CSCA as issuer but cannot sign with its key.
    let f = fixture();
    let forger = TestPki::generate(NOW - YEAR).unwrap();
    let state = card_signed_by(&forger.document_signer, &holder("Dubois"), in_2034());
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::DocumentSignerForged
    );
}

#[test]
fn a_document_signer_under_an_unknown_csca() {
    let f = fixture();
    let key = pki::random_key();
    let certificate = pki::certify(
        Profile::Root,
        9,
        "CN=CSCA-OTHER-TEST,C=XX",
        &key,
        &key,
        NOW - YEAR,
        10 * YEAR,
    )
    .unwrap();
    let other = Authority::new(certificate, key);
    let signer = TestPki::leaf(
        &other,
        10,
        pki::DS_NAME,
        pki::random_key(),
        NOW - YEAR,
        5 * YEAR,
    )
    .unwrap();
    let state = card_signed_by(&signer, &holder("Dubois"), in_2034());
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::UnknownCountrySigningCa
    );
}

#[test]
fn an_expired_document_signer() {
    let f = fixture();
    let signer = TestPki::leaf(
        &f.pki.csca,
        20,
        pki::DS_NAME,
        pki::random_key(),
        NOW - YEAR,
        YEAR / 2,
    )
    .unwrap();
    let state = card_signed_by(&signer, &holder("Dubois"), in_2034());
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::DocumentSignerExpired
    );
}

#[test]
fn a_revoked_document_signer() {
    let f = fixture();
    let crl = f.pki.crl(&[2], NOW - 10).unwrap();
    let trust = TrustStore::new(&[f.pki.csca.certificate_der().unwrap()], &[crl]).unwrap();
    let read = evidence(
        card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034()),
        &CHALLENGE,
    );
    assert_eq!(
        verify(&read, &trust, &CHALLENGE, NOW).unwrap_err(),
        CardCheck::DocumentSignerRevoked
    );
    // A CRL the CSCA did not sign is itself refused.
    let forged = TestPki::generate(NOW).unwrap().crl(&[], NOW).unwrap();
    assert!(matches!(
        TrustStore::new(&[f.pki.csca.certificate_der().unwrap()], &[forged]),
        Err(CardCheck::TrustStore(_))
    ));
}

/// A card whose SOD is built from `parts` altered by `alter`.
fn card_with_sod(f: &Fixture, alter: impl FnOnce(&mut SodParts)) -> CardState {
    let key = pki::random_key();
    let mut files =
        card::issue::data_groups(&holder("Dubois"), &document(in_2034()), &key).unwrap();
    let groups: Vec<(u8, &[u8])> = files
        .iter()
        .filter_map(|(file, bytes)| Some((file.data_group()?, bytes.as_slice())))
        .collect();
    let mut parts = SodParts::new(&LdsSecurityObject::sha256(&groups).unwrap()).unwrap();
    alter(&mut parts);
    files.insert(File::Sod, parts.sign(&f.pki.document_signer).unwrap());
    CardState::new("X4RTBPFW4".into(), "123456".into(), files, &key)
}

#[test]
fn a_wrong_econtent_type() {
    let f = fixture();
    let id_data = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
    let state = card_with_sod(&f, |parts| parts.content_type = id_data);
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::WrongContentType
    );
}

#[test]
fn a_message_digest_mismatch() {
    let f = fixture();
    let state = card_with_sod(&f, |parts| parts.message_digest = Some(vec![0; 32]));
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::MessageDigest
    );
}

#[test]
fn a_signature_over_another_challenge() {
    let f = fixture();
    let state = card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034());
    let read = evidence(state, b"another!");
    assert_eq!(
        check(&f, &read).unwrap_err(),
        CardCheck::ActiveAuthentication
    );
}

#[test]
fn a_dg15_swapped_from_another_card() {
    let f = fixture();
    let mine = evidence(
        card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034()),
        &CHALLENGE,
    );
    let other = evidence(
        card_signed_by(&f.pki.document_signer, &holder("Martin"), in_2034()),
        &CHALLENGE,
    );
    let mut read = mine.clone();
    read.data_groups.insert(15, other.data_groups[&15].clone());
    assert_eq!(check(&f, &read).unwrap_err(), CardCheck::DataGroupHash(15));
    // And the other card's signature with my data.
    let mut read = mine;
    read.signature = other.signature;
    assert_eq!(
        check(&f, &read).unwrap_err(),
        CardCheck::ActiveAuthentication
    );
}

#[test]
fn cloned_data_without_the_chip_key() {
    // A clone copies every readable file, but not the key that never
    // leaves the chip: it must sign with a key of its own.
    let f = fixture();
    let genuine = card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034());
    let files: BTreeMap<File, Vec<u8>> = File::ALL
        .into_iter()
        .filter_map(|file| Some((file, genuine.file(file)?.to_vec())))
        .collect();
    let clone = CardState::new(
        genuine.document_number.clone(),
        genuine.can.clone(),
        files,
        &pki::random_key(),
    );
    assert_eq!(
        check(&f, &evidence(clone, &CHALLENGE)).unwrap_err(),
        CardCheck::ActiveAuthentication
    );
}

#[test]
fn an_expired_card() {
    let f = fixture();
    let yesterday = Date::from_unix(NOW - 86_400);
    let state = card_signed_by(&f.pki.document_signer, &holder("Dubois"), yesterday);
    assert_eq!(
        check(&f, &evidence(state, &CHALLENGE)).unwrap_err(),
        CardCheck::CardExpired
    );
    // Its last day is still valid.
    let today = Date::from_unix(NOW);
    let state = card_signed_by(&f.pki.document_signer, &holder("Dubois"), today);
    assert!(check(&f, &evidence(state, &CHALLENGE)).is_ok());
}

#[test]
fn a_blocked_code_yields_no_evidence() {
    let f = fixture();
    let state = card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034());
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    reader.set_pin("123456").unwrap();
    chip.reset();
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    for _ in 0..3 {
        assert!(reader.verify_pin("000000").is_err());
    }
    assert_eq!(
        reader.evidence(&LOGIN_GROUPS, &CHALLENGE).unwrap_err(),
        CardError::PinBlocked
    );
}

#[test]
fn the_face_is_not_accepted_at_login_and_missing_groups_are_named() {
    let f = fixture();
    let mut read = evidence(
        card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034()),
        &CHALLENGE,
    );
    let mut without_dg13 = read.clone();
    without_dg13.data_groups.remove(&13);
    assert_eq!(
        check(&f, &without_dg13).unwrap_err(),
        CardCheck::MissingDataGroup(13)
    );
    read.data_groups.insert(2, card::b64::Bytes(vec![0x75, 0]));
    assert_eq!(
        check(&f, &read).unwrap_err(),
        CardCheck::UnexpectedDataGroup(2)
    );
}

#[test]
fn garbage_evidence_is_refused_without_panic() {
    let f = fixture();
    let genuine = evidence(
        card_signed_by(&f.pki.document_signer, &holder("Dubois"), in_2034()),
        &CHALLENGE,
    );
    for cut in [0, 1, 2, 10, 100, genuine.sod.0.len() - 1] {
        let mut read = genuine.clone();
        read.sod.0.truncate(cut);
        assert!(check(&f, &read).is_err());
    }
    let mut read = genuine;
    read.signature.0 = vec![0; 3];
    assert_eq!(
        check(&f, &read).unwrap_err(),
        CardCheck::ActiveAuthentication
    );
}
