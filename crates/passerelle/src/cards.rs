//! The card side of the demo: the test PKI (made at first start, kept in
//! the data folder) and the personalisation of cards for seeded citizens
//! (`passerelle card issue`; the demo makes a few).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use card::pki::{StoredPki, TestPki};
use card::{CardState, Date, Document, Holder};
use idp_wallet::verify::TrustStore;
use population::Citizen;

/// Ten years, the validity of an identity card.
const CARD_YEARS: u16 = 10;

fn resolve(pki: &Path, data_dir: Option<&Path>) -> Option<PathBuf> {
    if pki.is_absolute() {
        Some(pki.to_owned())
    } else {
        data_dir.map(|dir| dir.join(pki))
    }
}

/// The trust store of the wallet provider, from `csca.der` (and `crl.der`)
/// in `pki`; and the personalisation side (`pki.json`) when it is there.
/// A missing folder is created with new keys when there is a data folder;
/// without one (tests) the PKI lives in memory.
pub fn load_or_create_pki(
    pki: &Path,
    data_dir: Option<&Path>,
    now: i64,
) -> anyhow::Result<(Option<TestPki>, TrustStore)> {
    let now = u64::try_from(now).unwrap_or_default();
    let trust_of = |pki: &TestPki| -> anyhow::Result<TrustStore> {
        let csca = pki.csca.certificate_der().map_err(anyhow::Error::msg)?;
        let crl = pki.crl(&[], now).map_err(anyhow::Error::msg)?;
        TrustStore::new(&[csca], &[crl]).map_err(anyhow::Error::msg)
    };
    let Some(folder) = resolve(pki, data_dir) else {
        let generated = TestPki::generate(now).map_err(anyhow::Error::msg)?;
        let trust = trust_of(&generated)?;
        return Ok((Some(generated), trust));
    };
    let csca_path = folder.join("csca.der");
    if !csca_path.exists() {
        let generated = TestPki::generate(now).map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let stored = generated.to_stored().map_err(anyhow::Error::msg)?;
        std::fs::write(
            folder.join("pki.json"),
            serde_json::to_string_pretty(&stored)?,
        )?;
        std::fs::write(
            &csca_path,
            generated
                .csca
                .certificate_der()
                .map_err(anyhow::Error::msg)?,
        )?;
        std::fs::write(
            folder.join("crl.der"),
            generated.crl(&[], now).map_err(anyhow::Error::msg)?,
        )?;
    }
    let csca =
        std::fs::read(&csca_path).with_context(|| format!("reading {}", csca_path.display()))?;
    let crls: Vec<Vec<u8>> = std::fs::read(folder.join("crl.der"))
        .ok()
        .into_iter()
        .collect();
    let trust = TrustStore::new(&[csca], &crls)
        .map_err(|e| anyhow::anyhow!("bad setting idp_wallet.pki: {e}"))?;
    let personalisation = match std::fs::read_to_string(folder.join("pki.json")) {
        Ok(text) => {
            let stored: StoredPki = serde_json::from_str(&text).context("reading pki.json")?;
            Some(TestPki::from_stored(&stored).map_err(anyhow::Error::msg)?)
        }
        Err(_) => None,
    };
    Ok((personalisation, trust))
}

/// The driving licence's PKI: `mdl.json` (the issuer's keys) and
/// `iaca.der` (the root verifiers trust) in the same folder as the card's,
/// made at first start; in memory without a data folder (tests).
pub fn load_or_create_licence_pki(
    pki: &Path,
    data_dir: Option<&Path>,
    now: i64,
) -> anyhow::Result<mdoc::LicencePki> {
    let now = u64::try_from(now).unwrap_or_default();
    let Some(folder) = resolve(pki, data_dir) else {
        return mdoc::LicencePki::generate(now).map_err(anyhow::Error::msg);
    };
    let stored_path = folder.join("mdl.json");
    if let Ok(text) = std::fs::read_to_string(&stored_path) {
        let stored: mdoc::pki::StoredLicencePki =
            serde_json::from_str(&text).context("reading mdl.json")?;
        return mdoc::LicencePki::from_stored(&stored).map_err(anyhow::Error::msg);
    }
    let generated = mdoc::LicencePki::generate(now).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let stored = generated.to_stored().map_err(anyhow::Error::msg)?;
    std::fs::write(&stored_path, serde_json::to_string_pretty(&stored)?)?;
    std::fs::write(
        folder.join("iaca.der"),
        generated
            .iaca
            .certificate_der()
            .map_err(anyhow::Error::msg)?,
    )?;
    Ok(generated)
}

/// What a citizen's card holds.
pub fn holder_of(citizen: &Citizen) -> Holder {
    let born = citizen.birthdate;
    Holder {
        family_name: citizen.family_name.clone(),
        given_names: citizen.given_name(),
        usage_name: citizen.usage_name.clone(),
        sex: if citizen.gender.as_str() == "female" {
            'F'
        } else {
            'M'
        },
        birth_date: Date::new(born.year, born.month, born.day).unwrap_or(Date {
            year: born.year,
            month: 1,
            day: 1,
        }),
        birthplace: citizen.birthplace.clone(),
        birthcountry: citizen.birthcountry.clone(),
        birthplace_name: citizen
            .birthplace
            .as_deref()
            .and_then(population::cog::commune)
            .map(|commune| commune.name.to_owned())
            .or_else(|| population::cog::country(&citizen.birthcountry).map(|c| c.name.to_owned()))
            .unwrap_or_default(),
    }
}

/// A new card for a citizen, issued `now`, valid ten years.
pub fn issue_card(pki: &TestPki, citizen: &Citizen, now: i64) -> anyhow::Result<CardState> {
    let today = Date::from_time(now);
    let expiry =
        Date::new(today.year + CARD_YEARS, today.month, today.day.min(28)).unwrap_or(today);
    let document = Document {
        number: card::issue::random_document_number(),
        expiry,
    };
    card::issue::issue(&pki.document_signer, &holder_of(citizen), &document)
        .map_err(anyhow::Error::msg)
}

/// The first `count` living adult citizens: those the demo makes cards for.
pub fn card_holders(citizens: &[Citizen], now: i64, count: usize) -> Vec<&Citizen> {
    let today = Date::from_time(now);
    let today =
        population::Date::new(today.year, today.month, today.day).unwrap_or(population::Date {
            year: today.year,
            month: 1,
            day: 1,
        });
    citizens
        .iter()
        .filter(|c| c.is_adult_on(today) && !c.is_deceased_on(today))
        .take(count)
        .collect()
}
