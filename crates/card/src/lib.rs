//! A software electronic ID card.
//!
//! The card answers ISO 7816-4 APDUs and nothing else, through
//! [`Transmit`], which a PC/SC or NFC reader could implement as well. What
//! it holds has the byte layout of an ICAO 9303 eMRTD: TLV data groups
//! (DG1 MRZ, DG11, DG13 with the INSEE codes of birth, DG14, DG15), an
//! EF.SOD that is a CMS SignedData over their hashes, signed by a test
//! document signer under a test country signing CA, and a chip key that
//! signs a challenge (Active Authentication) once the holder's 6-digit
//! code is verified. The crate does no I/O: card files are JSON the
//! caller reads and writes.

pub mod apdu;
pub mod b64;
pub mod chip;
pub mod issue;
pub mod lds;
pub mod mrz;
pub mod pki;
pub mod reader;
pub mod sod;
pub mod tlv;

pub use chip::{CardState, SoftCard};
pub use lds::{Document, File, Holder};
pub use mrz::Date;
pub use reader::{Evidence, PinState, Reader};

/// Sends one command APDU to a card and returns its response APDU (data
/// then status word). A software card, a PC/SC reader or an NFC link.
pub trait Transmit {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError>;
}

/// Everything that can go wrong with a card or its data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CardError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("MRZ: {0}")]
    Mrz(&'static str),
    #[error("MRZ check digit of the {0} is wrong")]
    MrzCheckDigit(&'static str),
    #[error("the card answered {0:04X}")]
    Status(u16),
    #[error("wrong card access number")]
    WrongCan,
    #[error("wrong personal code: {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the personal code is blocked")]
    PinBlocked,
    #[error("no personal code is set on this card")]
    PinNotSet,
    #[error("a personal code is already set on this card")]
    PinAlreadySet,
    #[error("a personal code is 6 digits")]
    PinFormat,
    #[error("DER: {0}")]
    Der(String),
    #[error("{0}")]
    Crypto(String),
    #[error("card reader: {0}")]
    Transport(String),
}

impl From<der::Error> for CardError {
    fn from(e: der::Error) -> Self {
        CardError::Der(e.to_string())
    }
}

impl From<spki::Error> for CardError {
    fn from(e: spki::Error) -> Self {
        CardError::Der(e.to_string())
    }
}
