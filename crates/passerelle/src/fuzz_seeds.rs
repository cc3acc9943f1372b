//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`), made from
//! what the tests make: a card read, signed tokens, a proof PDF and a
//! seal, a licence presented, the demo's config. The keys are random, so
//! the seeds are written on demand (`PASSERELLE_WRITE_FUZZ_SEEDS=1 cargo
//! test -p passerelle fuzz_seeds`); otherwise the test checks that every
//! target has its seeds.

use std::path::{Path, PathBuf};

use card::pki::TestPki;
use card::{Reader, SoftCard};

const NOW: i64 = 1_800_000_000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Files as the targets read several: each with a 2-byte length.
fn parts(parts: &[&[u8]]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|part| {
            let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
            len.to_be_bytes().into_iter().chain(part.iter().copied())
        })
        .collect()
}

/// Each target's name and its seed files.
type Seeds = Vec<(&'static str, Vec<Vec<u8>>)>;

/// Every target's seeds.
fn seeds() -> anyhow::Result<Seeds> {
    let pki = TestPki::generate(u64::try_from(NOW - 3600)?).map_err(anyhow::Error::msg)?;
    let csca = pki.csca.certificate_der().map_err(anyhow::Error::msg)?;
    let citizens = population::generate(population::DEFAULT_SEED, 10);
    let citizen = citizens
        .first()
        .ok_or_else(|| anyhow::anyhow!("no citizen"))?;
    // What a hub posts to the register: the citizen's pivot.
    let pivot = citizen.pivot();
    let state = crate::cards::issue_card(&pki, citizen, NOW)?;
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).map_err(anyhow::Error::msg)?;
    reader.set_pin("123456").map_err(anyhow::Error::msg)?;
    let evidence = reader
        .evidence(&idp_wallet::verify::LOGIN_GROUPS, b"fuzzseed")
        .map_err(anyhow::Error::msg)?;
    // The seeds go the whole way through the checks: mutations start deep.
    let trust = idp_wallet::verify::TrustStore::new(std::slice::from_ref(&csca), &[])
        .map_err(anyhow::Error::msg)?;
    let now = u64::try_from(NOW)?;
    idp_wallet::verify::verify(&evidence, &trust, b"fuzzseed", now).map_err(anyhow::Error::msg)?;
    // DG1, DG11, DG13, DG14, DG15, in that order (the map's).
    let groups: Vec<&[u8]> = evidence
        .data_groups
        .values()
        .map(|group| group.0.as_slice())
        .collect();
    let data_groups = parts(&groups);
    let mut card_read: Vec<&[u8]> = vec![&csca, &evidence.sod.0, &evidence.signature.0];
    card_read.extend(groups.iter().copied());
    let mut tlv: Vec<Vec<u8>> = evidence.data_groups.values().map(|g| g.0.clone()).collect();
    tlv.push(card::apdu::response(
        b"\x01\x02",
        card::apdu::Status(0x9000),
    ));
    tlv.push(card::apdu::Command::new(0xB0, 0x81, 0x00, &[], Some(0)).encode());

    let signing = jose::SigningKey::generate(jose::Alg::ES256).map_err(anyhow::Error::msg)?;
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), "https://hub.test".into());
    claims.insert("sub".into(), "abc".into());
    let jws = jose::sign(&claims, &signing, "JWT").map_err(anyhow::Error::msg)?;
    let decryption =
        jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs).map_err(anyhow::Error::msg)?;
    let recipient = decryption.public_key().map_err(anyhow::Error::msg)?;
    let jwe = jose::encrypt(
        jws.as_bytes(),
        &recipient,
        jose::KeyAlg::EcdhEs,
        "JWT",
        &serde_json::Map::new(),
    )
    .map_err(anyhow::Error::msg)?;

    let seal = idp_wallet::seal::sign(
        &pki.seal_signer,
        idp_wallet::proof::SEAL_TYPE,
        &serde_json::json!({"id": "p1", "exp": NOW + 3600}),
    )
    .map_err(anyhow::Error::msg)?;
    let line = idp_wallet::pdf::Line {
        size: 12,
        text: "Justificatif d'identité".into(),
    };
    let pdf = idp_wallet::pdf::write("Justificatif", &[line], &seal);
    anyhow::ensure!(idp_wallet::pdf::seal_of(&pdf).ok().as_deref() == Some(seal.as_str()));
    idp_wallet::seal::verify::<serde_json::Value>(&seal, idp_wallet::proof::SEAL_TYPE, &trust, now)
        .map_err(anyhow::Error::msg)?;

    let licence_pki =
        mdoc::LicencePki::generate(u64::try_from(NOW - 3600)?).map_err(anyhow::Error::msg)?;
    let device = card::pki::random_key();
    let today = card::Date::from_time(NOW);
    let licence = mdoc::Licence {
        family_name: "DUPONT".into(),
        given_name: "Marie".into(),
        birth_date: card::Date::new(1985, 3, 14).unwrap_or(today),
        issue_date: today,
        expiry_date: today,
        issuing_country: "FR".into(),
        issuing_authority: "ANTS".into(),
        document_number: "197500000001".into(),
        portrait: None,
        driving_privileges: Vec::new(),
        un_distinguishing_sign: "F".into(),
    };
    let at = mdoc::TDate(u64::try_from(NOW)?);
    let validity = mdoc::ValidityInfo {
        signed: at,
        valid_from: at,
        valid_until: at,
        expected_update: None,
    };
    let issued = mdoc::issue(
        mdoc::MDL_DOCTYPE,
        &licence.elements(today),
        device.verifying_key(),
        &licence_pki.document_signer,
        validity,
    )
    .map_err(anyhow::Error::msg)?;
    let request = mdoc::DeviceRequest {
        doc_requests: vec![mdoc::ItemsRequest::mdl(&[
            "family_name",
            "driving_privileges",
        ])],
    };
    let transcript = mdoc::SessionTranscript::openid4vp(
        mdoc::OpenId4VpHandover::new("c", "r", "n", "m").map_err(anyhow::Error::msg)?,
    );
    let response = mdoc::Mdoc::new(issued.clone(), device)
        .and_then(|held| held.present(&request, &transcript))
        .and_then(|response| response.to_bytes())
        .map_err(anyhow::Error::msg)?;
    let engagement = mdoc::session::DeviceSession::new(Some("http://127.0.0.1:9/mdoc"))
        .map_err(anyhow::Error::msg)?
        .qr_code();
    let link = mdoc::oid4vp::PresentationRequest {
        response_uri: "https://location.test/reponse".into(),
        nonce: "n".into(),
        state: "s".into(),
        client_name: "Location".into(),
        elements: vec!["age_over_21".into()],
        encryption_key: recipient.to_json(),
    }
    .to_uri();

    Ok(vec![
        ("tlv_apdu", tlv),
        ("card_read", vec![parts(&card_read)]),
        ("jose", vec![jws.into_bytes(), jwe.into_bytes()]),
        (
            "oauth_params",
            vec![
                b"response_type=code&client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A7084%2Fcallback&scope=openid%20identite_pivot&state=s&nonce=n&acr_values=eidas1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256".to_vec(),
                b"grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_vec(),
                b"id_token_hint=a.b.c&state=s&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A7084%2Flogged-out".to_vec(),
            ],
        ),
        (
            "seal_pdf",
            vec![parts(&[&csca, &pdf]), parts(&[&csca, seal.as_bytes()])],
        ),
        (
            "mdoc",
            vec![
                response,
                request.to_bytes().map_err(anyhow::Error::msg)?,
                issued.to_bytes().map_err(anyhow::Error::msg)?,
                engagement.into_bytes(),
                link.into_bytes(),
            ],
        ),
        ("data_groups", vec![data_groups]),
        (
            "register",
            vec![
                [&[0u8][..], &serde_json::to_vec(&pivot)?].concat(),
                [&[1u8][..], &serde_json::to_vec(&pivot)?].concat(),
                [&[2u8][..], br#"{"number": "123456789012"}"#].concat(),
            ],
        ),
        (
            "mail_wire",
            vec![
                parts(&[
                    citizen.email.as_bytes(),
                    "Connexion à Votre service (bac à sable) avec impots.gouv".as_bytes(),
                    "impots.gouv (démo)".as_bytes(),
                    "Bonjour Marie,\r\n\r\nVous vous êtes connectée le 3 décembre.\r\n".as_bytes(),
                ]),
                parts(&[
                    b"marie@example.fr",
                    b"Objet\r\nBcc: autre@example.fr",
                    b"Nom =?utf-8?q?=0D=0A?= \n",
                    b"Texte\r\n.\r\nMAIL FROM:<x@example.fr>",
                ]),
            ],
        ),
        (
            "config",
            vec![
                include_bytes!("../../../config/demo.toml").to_vec(),
                include_bytes!("../../../config/example.toml").to_vec(),
            ],
        ),
    ])
}

#[test]
fn every_fuzz_target_has_its_seeds() {
    let seeds = seeds().unwrap();
    let dir = fuzz_dir().join("seeds");
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let targets = manifest.matches("[[bin]]").count();
    assert_eq!(
        targets,
        seeds.len(),
        "a target without seeds, or seeds without a target"
    );
    for (target, files) in seeds {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target}"
        );
        let folder = dir.join(target);
        if std::env::var_os("PASSERELLE_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::create_dir_all(&folder).unwrap();
            for (n, bytes) in files.iter().enumerate() {
                std::fs::write(folder.join(format!("seed-{n}")), bytes).unwrap();
            }
        }
        let written = std::fs::read_dir(&folder).map(Iterator::count).unwrap_or(0);
        assert!(
            written >= files.len(),
            "{target} has no seeds: PASSERELLE_WRITE_FUZZ_SEEDS=1 cargo test -p passerelle fuzz_seeds"
        );
    }
}
