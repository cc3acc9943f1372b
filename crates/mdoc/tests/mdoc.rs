//! The licence end to end: issued by the wallet identity provider,
//! presented by the wallet over the QR proximity session or OpenID4VP,
//! verified by a reader; then every way a verifier must refuse it.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure is a failed test"
)]

use card::Date;
use card::pki::{Authority, TestPki, key_of, random_key};
use der::{Decode as _, Encode as _};
use mdoc::cbor::{self, Encoded, TDate, Value};
use mdoc::issuer::Elements;
use mdoc::mdl::{Code, DrivingPrivilege};
use mdoc::pki::DS_NAME;
use mdoc::response::{DeviceAuth, device_authentication_bytes};
use mdoc::session::{DeviceSession, ReaderSession, STATUS_TERMINATION, session_status};
use mdoc::{
    DeviceRequest, DeviceResponse, IssuerSignedItem, ItemsRequest, Licence, LicencePki,
    MDL_DOCTYPE, MDL_NAMESPACE, Mdoc, MdocError, OpenId4VpHandover, SessionTranscript,
    TrustedIacas, ValidityInfo, cose, issue, verify,
};
use p256::ecdsa::SigningKey;
use x509_cert::Certificate;

/// 2026-01-01T00:00:00Z: the fixed clock of every test.
const NOW: u64 = 1_767_225_600;
const DAY: u64 = 24 * 3600;
const URL: &str = "http://127.0.0.1:8080/mdoc/session/7";

fn licence() -> Licence {
    Licence {
        family_name: "Martin".into(),
        given_name: "Camille".into(),
        birth_date: Date::new(1990, 4, 2).unwrap(),
        issue_date: Date::new(2025, 3, 1).unwrap(),
        expiry_date: Date::new(2040, 3, 1).unwrap(),
        issuing_country: "FR".into(),
        issuing_authority: "Préfecture de police TEST".into(),
        document_number: "25FR0000042".into(),
        portrait: None,
        driving_privileges: vec![
            DrivingPrivilege {
                vehicle_category_code: "B".into(),
                issue_date: Some(Date::new(2010, 6, 1).unwrap()),
                expiry_date: Some(Date::new(2040, 3, 1).unwrap()),
                codes: vec![Code {
                    code: "01".into(),
                    sign: Some("=".into()),
                    value: Some("lunettes".into()),
                }],
            },
            DrivingPrivilege {
                vehicle_category_code: "A2".into(),
                issue_date: Some(Date::new(2012, 9, 15).unwrap()),
                expiry_date: None,
                codes: Vec::new(),
            },
        ],
        un_distinguishing_sign: "F".into(),
    }
}

fn validity(from: u64) -> ValidityInfo {
    ValidityInfo {
        signed: TDate(from),
        valid_from: TDate(from),
        valid_until: TDate(from + 365 * DAY),
        expected_update: Some(TDate(from + 300 * DAY)),
    }
}

struct World {
    pki: LicencePki,
    trust: TrustedIacas,
    mdoc: Mdoc,
    device_key: SigningKey,
}

fn issue_with(
    signer: &Authority,
    doc_type: &str,
    elements: &Elements,
    validity: ValidityInfo,
) -> (Mdoc, SigningKey) {
    let device_key = random_key();
    let issued = issue(
        doc_type,
        elements,
        device_key.verifying_key(),
        signer,
        validity,
    )
    .unwrap();
    // The wallet receives bytes.
    let issued = mdoc::IssuerSigned::from_bytes(&issued.to_bytes().unwrap()).unwrap();
    (Mdoc::new(issued, device_key.clone()).unwrap(), device_key)
}

/// The test licence signed by `signer`, its elements as of `now`.
fn issue_licence(signer: &Authority, now: u64, validity: ValidityInfo) -> Mdoc {
    let elements = licence().elements(Date::from_unix(now));
    issue_with(signer, MDL_DOCTYPE, &elements, validity).0
}

/// A verifier's trust list holding `pki`'s IACA alone.
fn trusting(pki: &LicencePki) -> TrustedIacas {
    TrustedIacas::new(&[pki.iaca.certificate.to_der().unwrap()]).unwrap()
}

fn world() -> World {
    let pki = LicencePki::generate(NOW - DAY).unwrap();
    let trust = trusting(&pki);
    let today = Date::from_unix(NOW);
    let (mdoc, device_key) = issue_with(
        &pki.document_signer,
        MDL_DOCTYPE,
        &licence().elements(today),
        validity(NOW),
    );
    World {
        pki,
        trust,
        mdoc,
        device_key,
    }
}

fn roadside() -> ItemsRequest {
    ItemsRequest::mdl(&["driving_privileges", "age_over_21"])
}

fn request(items: ItemsRequest) -> DeviceRequest {
    DeviceRequest {
        doc_requests: vec![items],
    }
}

/// The car-rental service's OpenID4VP transcript for `nonce`.
fn openid4vp(nonce: &str) -> SessionTranscript {
    SessionTranscript::openid4vp(
        OpenId4VpHandover::new(
            "https://location.passerelle.test",
            "https://location.passerelle.test/openid4vp/response",
            nonce,
            "wallet-nonce-1",
        )
        .unwrap(),
    )
}

fn present(world: &World, items: ItemsRequest, transcript: &SessionTranscript) -> Vec<u8> {
    response_of(&world.mdoc, items, transcript)
}

/// `mdoc`'s DeviceResponse bytes for `items` in the session of `transcript`.
fn response_of(mdoc: &Mdoc, items: ItemsRequest, transcript: &SessionTranscript) -> Vec<u8> {
    mdoc.present(&request(items), transcript)
        .unwrap()
        .to_bytes()
        .unwrap()
}

fn verify_at(
    world: &World,
    response: &[u8],
    transcript: &SessionTranscript,
    now: u64,
) -> Result<mdoc::Verified, MdocError> {
    verify(response, &roadside(), transcript, &world.trust, now)
}

/// Parses, changes and re-encodes a response.
fn altered(response: &[u8], change: impl FnOnce(&mut DeviceResponse)) -> Vec<u8> {
    let mut parsed = DeviceResponse::from_bytes(response).unwrap();
    change(&mut parsed);
    parsed.to_bytes().unwrap()
}

/// Asserts that the verifier refuses `response` at `NOW` with `expected`.
#[track_caller]
fn assert_refused(
    world: &World,
    response: &[u8],
    transcript: &SessionTranscript,
    expected: MdocError,
) {
    assert_refused_at(world, response, transcript, NOW, expected);
}

/// Asserts that the verifier refuses `response` at `now` with `expected`.
#[track_caller]
fn assert_refused_at(
    world: &World,
    response: &[u8],
    transcript: &SessionTranscript,
    now: u64,
    expected: MdocError,
) {
    assert_eq!(
        verify_at(world, response, transcript, now).unwrap_err(),
        expected
    );
}

/// The issuer-signed items of the first document's mDL namespace.
fn mdl_items(response: &mut DeviceResponse) -> &mut Vec<Encoded> {
    let document = response.documents.first_mut().unwrap();
    document
        .issuer_signed
        .name_spaces
        .get_mut(MDL_NAMESPACE)
        .unwrap()
}

/// A full-date element's date.
fn full_date(value: &Value, what: &'static str) -> Date {
    cbor::FullDate::from_value(value, what).unwrap().0
}

/// A driving privilege's vehicle category code.
fn category_of(privilege: &Value) -> String {
    cbor::Fields::of(privilege, "privilege")
        .unwrap()
        .text("vehicle_category_code")
        .unwrap()
        .to_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_licence_is_issued_presented_and_verified_over_the_qr_session() {
    let world = world();
    // The holder shows a QR code; the police reader scans it.
    let mut device = DeviceSession::new(Some(URL)).unwrap();
    let mut reader = ReaderSession::from_qr_code(&device.qr_code()).unwrap();
    assert_eq!(reader.url(), Some(URL));
    let sent = request(roadside());
    let establishment = reader.establish(&sent.to_bytes().unwrap()).unwrap();
    // The wallet decrypts the request and answers, encrypted.
    let received = DeviceRequest::from_bytes(&device.establish(&establishment).unwrap()).unwrap();
    assert_eq!(received, sent);
    let transcript = device.transcript().unwrap().clone();
    let response = world
        .mdoc
        .present(&received, &transcript)
        .unwrap()
        .to_bytes()
        .unwrap();
    let message = device.seal(&response).unwrap();
    assert!(!contains(&message, b"driving_privileges"), "encrypted");
    let opened = reader.open(&message).unwrap();
    // The reader verifies against its own transcript.
    let verified = verify(&opened, &roadside(), reader.transcript(), &world.trust, NOW).unwrap();
    assert_eq!(verified.doc_type, MDL_DOCTYPE);
    assert_eq!(verified.signer, DS_NAME);
    assert_eq!(verified.validity, validity(NOW));
    let mdl = &verified.elements[MDL_NAMESPACE];
    assert_eq!(mdl["age_over_21"], Value::Bool(true));
    let privileges = cbor::array(&mdl["driving_privileges"], "privileges").unwrap();
    assert_eq!(privileges.len(), 2);
    assert_eq!(category_of(&privileges[0]), "B");
    // The session layer refuses the same message twice, then ends.
    assert_eq!(reader.open(&message), Err(MdocError::SessionDecryption));
    let end = session_status(STATUS_TERMINATION).unwrap();
    assert_eq!(
        device.open(&end),
        Err(MdocError::SessionStatus(STATUS_TERMINATION))
    );
}

#[test]
fn a_licence_is_presented_to_a_car_rental_service_over_openid4vp() {
    let world = world();
    let transcript = openid4vp("nonce-rental-1");
    let items = ItemsRequest::mdl(&[
        "family_name",
        "given_name",
        "driving_privileges",
        "expiry_date",
    ]);
    let response = present(&world, items.clone(), &transcript);
    let verified = verify(&response, &items, &transcript, &world.trust, NOW).unwrap();
    let mdl = &verified.elements[MDL_NAMESPACE];
    assert_eq!(mdl["family_name"], Value::Text("Martin".into()));
    assert_eq!(
        full_date(&mdl["expiry_date"], "date"),
        Date::new(2040, 3, 1).unwrap()
    );
    assert_eq!(mdl.len(), 4);
}

#[test]
fn only_the_requested_elements_are_in_the_response_bytes() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = present(&world, roadside(), &transcript);
    for absent in [
        &b"family_name"[..],
        b"Martin",
        b"Camille",
        b"25FR0000042",
        b"birth_date",
        b"age_over_18",
    ] {
        assert!(
            !contains(&response, absent),
            "{}",
            String::from_utf8_lossy(absent)
        );
    }
    assert!(contains(&response, b"age_over_21"));
    let verified = verify_at(&world, &response, &transcript, NOW).unwrap();
    let disclosed: Vec<&String> = verified.elements[MDL_NAMESPACE].keys().collect();
    assert_eq!(disclosed, ["age_over_21", "driving_privileges"]);
}

#[test]
fn a_tampered_element_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = altered(&present(&world, roadside(), &transcript), |response| {
        let items = mdl_items(response);
        for item in items.iter_mut() {
            let mut parsed = IssuerSignedItem::from_value(&item.decode().unwrap()).unwrap();
            if parsed.element_identifier == "age_over_21" {
                parsed.element_value = Value::Bool(false);
                *item = Encoded::of(&parsed.to_value()).unwrap();
            }
        }
    });
    assert_refused(
        &world,
        &response,
        &transcript,
        MdocError::ElementTampered {
            namespace: MDL_NAMESPACE.into(),
            identifier: "age_over_21".into(),
        },
    );
}

#[test]
fn an_element_under_a_digest_id_the_issuer_never_signed_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = altered(&present(&world, roadside(), &transcript), |response| {
        let items = mdl_items(response);
        let mut parsed = IssuerSignedItem::from_value(&items[0].decode().unwrap()).unwrap();
        parsed.digest_id = 9999;
        items[0] = Encoded::of(&parsed.to_value()).unwrap();
    });
    assert!(matches!(
        verify_at(&world, &response, &transcript, NOW),
        Err(MdocError::DigestMissing { .. })
    ));
}

#[test]
fn a_licence_from_another_iaca_is_refused() {
    let world = world();
    // Another state's IACA and its document signer: not trusted here.
    let iaca =
        LicencePki::iaca("CN=IACA-TEST-BE,O=Other TEST,C=BE", NOW - DAY, 3650 * DAY).unwrap();
    let signer = TestPki::leaf(
        &iaca,
        2,
        "CN=DS-TEST-BE,C=BE",
        random_key(),
        NOW - DAY,
        365 * DAY,
    )
    .unwrap();
    let foreign = issue_licence(&signer, NOW, validity(NOW));
    let transcript = openid4vp("nonce-1");
    let response = response_of(&foreign, roadside(), &transcript);
    assert_refused(&world, &response, &transcript, MdocError::UnknownIssuer);
    // An impostor IACA that takes our IACA's name signs nothing we accept.
    let impostor = LicencePki::generate(NOW - DAY).unwrap();
    let forged = issue_licence(&impostor.document_signer, NOW, validity(NOW));
    let response = response_of(&forged, roadside(), &transcript);
    assert_refused(&world, &response, &transcript, MdocError::SignerForged);
}

#[test]
fn an_expired_mso_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = present(&world, roadside(), &transcript);
    assert!(verify_at(&world, &response, &transcript, NOW + 365 * DAY).is_ok());
    assert_refused_at(
        &world,
        &response,
        &transcript,
        NOW + 365 * DAY + 1,
        MdocError::MsoExpired,
    );
}

#[test]
fn a_not_yet_valid_mso_is_refused() {
    let world = world();
    let mut later = validity(NOW + 10 * DAY);
    later.signed = TDate(NOW);
    let mdoc = issue_licence(&world.pki.document_signer, NOW, later);
    let transcript = openid4vp("nonce-1");
    let response = response_of(&mdoc, roadside(), &transcript);
    assert_refused_at(
        &world,
        &response,
        &transcript,
        NOW + DAY,
        MdocError::MsoNotYetValid,
    );
}

#[test]
fn a_response_replayed_in_another_session_is_refused() {
    let world = world();
    let response = present(&world, roadside(), &openid4vp("nonce-1"));
    assert_refused(
        &world,
        &response,
        &openid4vp("nonce-2"),
        MdocError::DeviceSignature,
    );
    // And from the proximity session into an OpenID4VP one.
    let device = DeviceSession::new(None).unwrap();
    let mut reader = ReaderSession::from_qr_code(&device.qr_code()).unwrap();
    let _ = reader.establish(b"").unwrap();
    let response = present(&world, roadside(), reader.transcript());
    assert_refused(
        &world,
        &response,
        &openid4vp("nonce-1"),
        MdocError::DeviceSignature,
    );
}

#[test]
fn an_element_that_was_not_requested_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let more = ItemsRequest::mdl(&["driving_privileges", "age_over_21", "family_name"]);
    let response = present(&world, more, &transcript);
    assert_refused(
        &world,
        &response,
        &transcript,
        MdocError::NotRequested {
            namespace: MDL_NAMESPACE.into(),
            identifier: "family_name".into(),
        },
    );
}

#[test]
fn a_licence_presented_by_another_device_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = altered(&present(&world, roadside(), &transcript), |response| {
        let document = &mut response.documents[0];
        let signed = device_authentication_bytes(
            &transcript,
            &document.doc_type,
            &document.device_signed.name_spaces,
        )
        .unwrap();
        document.device_signed.device_auth =
            DeviceAuth::Signature(cose::sign_detached(&random_key(), &signed));
    });
    assert_refused(&world, &response, &transcript, MdocError::DeviceSignature);
    // The wallet itself refuses to hold a licence bound to another key.
    assert!(Mdoc::new(world.mdoc.issuer_signed().clone(), random_key()).is_err());
    assert!(Mdoc::new(world.mdoc.issuer_signed().clone(), world.device_key.clone()).is_ok());
}

#[test]
fn a_forged_issuer_signature_is_refused() {
    let world = world();
    // Someone copies the genuine document signer's certificate and signs
    // an object of their own.
    let impostor = Authority::new(world.pki.document_signer.certificate.clone(), random_key());
    let forged = issue_licence(&impostor, NOW, validity(NOW));
    let transcript = openid4vp("nonce-1");
    let response = response_of(&forged, roadside(), &transcript);
    assert_refused(&world, &response, &transcript, MdocError::IssuerSignature);
    // Or alters the signature bytes of a genuine one.
    let response = altered(&present(&world, roadside(), &transcript), |response| {
        response.documents[0].issuer_signed.issuer_auth.signature[5] ^= 1;
    });
    assert_refused(&world, &response, &transcript, MdocError::IssuerSignature);
}

#[test]
fn a_licence_signed_by_an_expired_document_signer_is_refused() {
    let world = world();
    let expired = TestPki::leaf(
        &world.pki.iaca,
        3,
        DS_NAME,
        random_key(),
        NOW - 30 * DAY,
        20 * DAY,
    )
    .unwrap();
    let mdoc = issue_licence(&expired, NOW, validity(NOW - 15 * DAY));
    let transcript = openid4vp("nonce-1");
    let response = response_of(&mdoc, roadside(), &transcript);
    assert_refused(&world, &response, &transcript, MdocError::SignerExpired);
}

#[test]
fn a_response_without_the_signers_certificate_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = altered(&present(&world, roadside(), &transcript), |response| {
        response.documents[0]
            .issuer_signed
            .issuer_auth
            .unprotected
            .rest
            .clear();
    });
    assert_refused(&world, &response, &transcript, MdocError::X5ChainMissing);
}

#[test]
fn a_response_with_an_error_status_or_another_document_is_refused() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = present(&world, roadside(), &transcript);
    let failed = altered(&response, |response| response.status = 10);
    assert_refused(&world, &failed, &transcript, MdocError::Status(10));
    let empty = altered(&response, |response| response.documents.clear());
    assert_refused(&world, &empty, &transcript, MdocError::NoDocument);
    let mut photo_id = roadside();
    photo_id.doc_type = "org.iso.23220.photoid.1".into();
    assert!(matches!(
        verify(&response, &photo_id, &transcript, &world.trust, NOW),
        Err(MdocError::WrongDocType { .. })
    ));
}

#[test]
fn a_document_whose_mso_names_another_type_is_refused() {
    let world = world();
    let other_type = "org.example.loyalty.1";
    let elements = Elements::from([(
        MDL_NAMESPACE.to_string(),
        vec![("age_over_21".to_string(), Value::Bool(true))],
    )]);
    let (mdoc, _) = issue_with(
        &world.pki.document_signer,
        other_type,
        &elements,
        validity(NOW),
    );
    let transcript = openid4vp("nonce-1");
    let mut items = ItemsRequest::mdl(&["age_over_21"]);
    items.doc_type = other_type.into();
    let response = response_of(&mdoc, items, &transcript);
    let relabelled = altered(&response, |response| {
        response.documents[0].doc_type = MDL_DOCTYPE.into()
    });
    assert!(matches!(
        verify(
            &relabelled,
            &ItemsRequest::mdl(&["age_over_21"]),
            &transcript,
            &world.trust,
            NOW
        ),
        Err(MdocError::MsoDocType { .. })
    ));
}

#[test]
fn malformed_bytes_are_refused_and_never_panic() {
    let world = world();
    let transcript = openid4vp("nonce-1");
    let response = present(&world, roadside(), &transcript);
    for length in 0..response.len() {
        assert!(verify_at(&world, &response[..length], &transcript, NOW).is_err());
    }
    for position in (0..response.len()).step_by(11) {
        let mut flipped = response.clone();
        flipped[position] ^= 0xa5;
        assert!(
            verify_at(&world, &flipped, &transcript, NOW).is_err(),
            "byte {position}"
        );
    }
    for length in [0, 1, 2, 7, 64, 512, 4096] {
        for _ in 0..20 {
            let noise: Vec<u8> = (0..length).map(|_| rand::random()).collect();
            assert!(verify_at(&world, &noise, &transcript, NOW).is_err());
            let _ = DeviceRequest::from_bytes(&noise);
            let mut device = DeviceSession::new(None).unwrap();
            assert!(device.establish(&noise).is_err());
        }
    }
    // Deep nesting stays within the decoder's recursion limit.
    let deep = [vec![0x81; 100_000], vec![0x00]].concat();
    assert!(verify_at(&world, &deep, &transcript, NOW).is_err());
}

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The example DeviceResponse of ISO/IEC 18013-5:2021 Annex D (D.4.1.2),
/// byte for byte as the standard prints it; taken from public wallet
/// test code that quotes it (A-SIT Plus / walt.id interop tests,
/// `isoSpecExampleSignedDeviceResponse`). Its IACA certificate is not
/// there, nor the reader's key for its deviceMac: the document signer's
/// key from x5chain checks issuerAuth, and every digest is checked, at a
/// date inside its validity. An independent check of our parsing.
#[test]
fn the_annex_d_example_response_parses_and_its_issuer_data_verifies() {
    let bytes = hex(include_str!("annex-d-device-response.hex"));
    let response = DeviceResponse::from_bytes(&bytes).unwrap();
    assert_eq!(
        response.to_bytes().unwrap(),
        bytes,
        "re-encoded byte for byte"
    );
    let document = &response.documents[0];
    assert_eq!(document.doc_type, MDL_DOCTYPE);
    assert!(matches!(
        document.device_signed.device_auth,
        DeviceAuth::Mac(_)
    ));

    let issuer_auth = &document.issuer_signed.issuer_auth;
    let chain = cose::x5chain(issuer_auth).unwrap();
    let signer = Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(
        signer.tbs_certificate.subject.to_string(),
        "C=US,CN=utopia ds"
    );
    let key = key_of(&signer).unwrap();
    assert_eq!(cose::verify(issuer_auth, &key, None), Ok(true));

    let mso = document.issuer_signed.mso().unwrap();
    assert_eq!(mso.doc_type, MDL_DOCTYPE);
    assert_eq!(
        mso.validity_info.valid_from.rfc3339(),
        "2020-10-01T13:30:02Z"
    );
    let inside = TDate::parse("2021-01-01T00:00:00Z").unwrap().0;
    mso.validity_info.check(inside).unwrap();
    let items = document.issuer_signed.items().unwrap();
    assert_eq!(items.len(), 6);
    for (namespace, encoded, item) in &items {
        let expected = &mso.value_digests[*namespace][&item.digest_id];
        assert_eq!(
            &mso.digest_algorithm
                .digest(&encoded.tagged_bytes().unwrap()),
            expected,
            "{}",
            item.element_identifier
        );
    }
    let family_name = items
        .iter()
        .find(|(_, _, i)| i.element_identifier == "family_name")
        .unwrap();
    assert_eq!(family_name.2.element_value, Value::Text("Doe".into()));

    // Our verifier, without its IACA, refuses it at the trust step.
    let ours = LicencePki::generate(inside - DAY).unwrap();
    let trust = trusting(&ours);
    let request = ItemsRequest::mdl(&["family_name"]);
    assert_eq!(
        verify(&bytes, &request, &openid4vp("n"), &trust, inside),
        Err(MdocError::UnknownIssuer)
    );
}

/// The interop folder, its node packages installed (`./scripts/test`
/// runs `npm ci` there).
fn interop() -> std::path::PathBuf {
    let interop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    assert!(
        interop.join("node_modules/@auth0/mdl").exists(),
        "node packages missing: run `cd interop && npm ci` (./scripts/test does it)"
    );
    interop
}

/// A fresh folder for the files `mdoc-check.mjs` reads and writes.
fn exchange_folder() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "passerelle-mdoc-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `node mdoc-check.mjs ARGS…`: its one JSON line.
fn mdoc_check(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let output = std::process::Command::new("node")
        .arg("mdoc-check.mjs")
        .args(args)
        .current_dir(interop())
        .output()
        .expect("node is installed (./scripts/test installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "mdoc-check.mjs printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// `node mdoc-check.mjs ARGS…`, asserting that it reports no error.
#[track_caller]
fn mdoc_check_ok(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let result = mdoc_check(args);
    assert!(result.get("error").is_none(), "{result}");
    result
}

/// The IACA trust list and the response that mdoc-check.mjs made in `dir`.
fn made_there(dir: &std::path::Path) -> (TrustedIacas, Vec<u8>) {
    let theirs = TrustedIacas::new(&[std::fs::read(dir.join("iaca.der")).unwrap()]).unwrap();
    let response = std::fs::read(dir.join("response.cbor")).unwrap();
    (theirs, response)
}

/// The wall clock: @auth0/mdl checks the MSO's validity against it.
fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The independent check, one way: @auth0/mdl (not ours) verifies our
/// licence (issuer signature, x5chain to our IACA, digests, device
/// signature over our OpenID4VP transcript) and reads the same elements.
#[test]
fn another_library_verifies_our_licence() {
    let now = wall_clock();
    let pki = LicencePki::generate(now - DAY).unwrap();
    let mdoc = issue_licence(&pki.document_signer, now, validity(now - 60));
    let transcript = openid4vp("nonce-interop-1");
    let items = ItemsRequest::mdl(&[
        "family_name",
        "birth_date",
        "issuing_country",
        "driving_privileges",
        "age_over_21",
    ]);
    let response = response_of(&mdoc, items, &transcript);
    let dir = exchange_folder();
    std::fs::write(dir.join("response.cbor"), &response).unwrap();
    std::fs::write(dir.join("iaca.der"), pki.iaca.certificate.to_der().unwrap()).unwrap();
    std::fs::write(dir.join("transcript.cbor"), transcript.to_bytes().unwrap()).unwrap();
    let result = mdoc_check_ok(&["verify".as_ref(), dir.as_os_str()]);
    assert_eq!(result["docType"], MDL_DOCTYPE);
    let mdl = &result["elements"][MDL_NAMESPACE];
    assert_eq!(mdl["family_name"], "Martin");
    assert_eq!(mdl["birth_date"], "1990-04-02");
    assert_eq!(mdl["issuing_country"], "FR");
    assert_eq!(mdl["age_over_21"], true);
    assert_eq!(mdl["driving_privileges"][0]["vehicle_category_code"], "B");
    assert_eq!(
        mdl["driving_privileges"][0]["codes"][0]["value"],
        "lunettes"
    );
    assert_eq!(mdl.as_object().unwrap().len(), 5);

    // It too refuses the response in another session.
    let other = openid4vp("nonce-interop-2");
    std::fs::write(dir.join("transcript.cbor"), other.to_bytes().unwrap()).unwrap();
    let replayed = mdoc_check(&["verify".as_ref(), dir.as_os_str()]);
    assert!(replayed.get("error").is_some(), "{replayed}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The other way: @auth0/mdl issues and presents (its Document and
/// DeviceResponse, its test device key) for our OpenID4VP transcript,
/// signed by our document signer; our verifier accepts it and reads the
/// elements. Signed under a PKI that side makes itself, ours accepts it
/// too when it trusts that IACA. Signed by its own test issuer, ours refuses it at
/// the key-usage check: that certificate is self-signed, both IACA and
/// signer, with no keyUsage, which Annex B requires of a document
/// signer.
#[test]
fn our_verifier_accepts_another_librarys_licence() {
    let pki = LicencePki::generate(wall_clock() - DAY).unwrap();
    let trust = trusting(&pki);
    let transcript = openid4vp("nonce-interop-3");
    let dir = exchange_folder();
    std::fs::write(dir.join("transcript.cbor"), transcript.to_bytes().unwrap()).unwrap();
    let stored = pki.document_signer.to_stored().unwrap();
    let decode = |b64: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    };
    std::fs::write(dir.join("ds.der"), decode(&stored.certificate)).unwrap();
    std::fs::write(dir.join("ds-key.der"), decode(&stored.key)).unwrap();
    mdoc_check_ok(&[
        "make".as_ref(),
        dir.as_os_str(),
        dir.join("ds.der").as_os_str(),
        dir.join("ds-key.der").as_os_str(),
    ]);
    let items = ItemsRequest::mdl(&[
        "family_name",
        "given_name",
        "birth_date",
        "driving_privileges",
    ]);
    let response = std::fs::read(dir.join("response.cbor")).unwrap();
    let verified = verify(&response, &items, &transcript, &trust, wall_clock()).unwrap();
    assert_eq!(verified.signer, DS_NAME);
    let mdl = &verified.elements[MDL_NAMESPACE];
    assert_eq!(mdl["family_name"], Value::Text("Jones".into()));
    assert_eq!(
        full_date(&mdl["birth_date"], "birth_date"),
        Date::new(2007, 3, 25).unwrap()
    );
    let privileges = cbor::array(&mdl["driving_privileges"], "privileges").unwrap();
    assert_eq!(category_of(&privileges[0]), "C");
    // Not for another session.
    assert_eq!(
        verify(
            &response,
            &items,
            &openid4vp("nonce-interop-4"),
            &trust,
            wall_clock()
        ),
        Err(MdocError::DeviceSignature)
    );

    // With a PKI of that side's own (an IACA and a document signer made
    // there with @peculiar/x509), our verifier trusting that IACA accepts
    // it, and ours does not.
    mdoc_check_ok(&["make-own-pki".as_ref(), dir.as_os_str()]);
    let (theirs, response) = made_there(&dir);
    let verified = verify(&response, &items, &transcript, &theirs, wall_clock()).unwrap();
    assert!(
        verified.signer.contains("DS-INTEROP"),
        "{}",
        verified.signer
    );
    assert_eq!(
        verify(&response, &items, &transcript, &trust, wall_clock()),
        Err(MdocError::UnknownIssuer)
    );

    mdoc_check_ok(&["make".as_ref(), dir.as_os_str()]);
    let (theirs, response) = made_there(&dir);
    assert_eq!(
        verify(&response, &items, &transcript, &theirs, wall_clock()),
        Err(MdocError::SignerUsage)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
