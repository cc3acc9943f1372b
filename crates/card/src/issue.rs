//! Personalisation (the ANTS role): the only holder of the document
//! signer's key makes a card's data groups, signs its EF.SOD and gives the
//! chip its Active Authentication key and its CAN.

use std::collections::BTreeMap;

use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePublicKey as _;
use spki::SubjectPublicKeyInfoOwned;

use crate::CardError;
use crate::chip::CardState;
use crate::lds::{self, Document, ECDSA_WITH_SHA256, File, Holder, LdsSecurityObject};
use crate::pki::{Authority, random_key};
use crate::sod::SodParts;

/// The data groups of a card for `holder`, with `aa_key`'s public half in
/// DG15, in file order; EF.SOD not included.
pub fn data_groups(
    holder: &Holder,
    document: &Document,
    aa_key: &SigningKey,
) -> Result<BTreeMap<File, Vec<u8>>, CardError> {
    let public = aa_key.verifying_key().to_public_key_der()?;
    let spki: SubjectPublicKeyInfoOwned = der::Decode::from_der(public.as_bytes())?;
    let mut files = BTreeMap::new();
    files.insert(File::Dg1, lds::dg1(holder, document));
    files.insert(File::Dg11, lds::dg11(holder));
    files.insert(File::Dg13, lds::dg13(holder));
    files.insert(File::Dg14, lds::dg14(ECDSA_WITH_SHA256)?);
    files.insert(File::Dg15, lds::dg15(&spki)?);
    let present: Vec<File> = files.keys().copied().collect();
    files.insert(File::Com, lds::com(&present));
    Ok(files)
}

/// The signed security object over `files`' data groups.
pub fn sign_sod(files: &BTreeMap<File, Vec<u8>>, signer: &Authority) -> Result<Vec<u8>, CardError> {
    let groups: Vec<(u8, &[u8])> = files
        .iter()
        .filter_map(|(file, bytes)| Some((file.data_group()?, bytes.as_slice())))
        .collect();
    SodParts::new(&LdsSecurityObject::sha256(&groups)?)?.sign(signer)
}

/// A new card: fresh chip key and CAN, data groups, SOD signed by `signer`.
pub fn issue(
    signer: &Authority,
    holder: &Holder,
    document: &Document,
) -> Result<CardState, CardError> {
    let aa_key = random_key();
    let mut files = data_groups(holder, document, &aa_key)?;
    let sod = sign_sod(&files, signer)?;
    files.insert(File::Sod, sod);
    Ok(CardState::new(
        document.number.clone(),
        random_can(),
        files,
        &aa_key,
    ))
}

/// Six random digits.
pub fn random_can() -> String {
    (0..6)
        .map(|_| char::from(b'0' + rand::random_range(0..10u8)))
        .collect()
}

/// Nine random capital letters and digits, the shape of a CNIe number.
pub fn random_document_number() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    (0..9)
        .map(|_| {
            let i = rand::random_range(0..ALPHABET.len());
            char::from(ALPHABET.get(i).copied().unwrap_or(b'X'))
        })
        .collect()
}
