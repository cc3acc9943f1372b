//! The chip: the card's persistent state (what a card file holds) and the
//! command interpreter of one card session.
//!
//! Access rules, a simulation convention (the real applet's are not
//! public): the data groups are read after VERIFY of the card access
//! number (CAN), our stand-in for PACE; INTERNAL AUTHENTICATE answers only
//! after VERIFY of the personal code in the same session; three wrong
//! codes block the code for good.

use std::collections::BTreeMap;

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::apdu::{self, Command, Status};
use crate::lds::{APPLICATION_ID, File};
use crate::{CardError, Transmit, b64};

/// How many wrong codes in a row block the card.
pub const PIN_TRIES: u8 = 3;

/// Everything the chip keeps between sessions. Its secrets (the Active
/// Authentication key, the code) never leave it through APDUs.
#[derive(Clone, Serialize, Deserialize)]
pub struct CardState {
    /// The format of this structure.
    pub format: u32,
    pub document_number: String,
    /// The 6-digit card access number printed on the front.
    pub can: String,
    files: BTreeMap<File, Stored>,
    #[serde(with = "b64::bytes")]
    aa_key: Vec<u8>,
    pin: Option<PinVerifier>,
    tries_left: u8,
}

#[derive(Clone, Serialize, Deserialize)]
struct Stored(#[serde(with = "b64::bytes")] Vec<u8>);

#[derive(Clone, Serialize, Deserialize)]
struct PinVerifier {
    #[serde(with = "b64::bytes")]
    salt: Vec<u8>,
    #[serde(with = "b64::bytes")]
    hash: Vec<u8>,
}

impl PinVerifier {
    fn new(pin: &[u8]) -> Self {
        let salt: [u8; 16] = rand::random();
        Self {
            hash: Self::digest(&salt, pin),
            salt: salt.to_vec(),
        }
    }

    fn digest(salt: &[u8], pin: &[u8]) -> Vec<u8> {
        Sha256::new()
            .chain_update(salt)
            .chain_update(pin)
            .finalize()
            .to_vec()
    }

    fn matches(&self, pin: &[u8]) -> bool {
        let candidate = Self::digest(&self.salt, pin);
        candidate
            .iter()
            .zip(&self.hash)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
            && candidate.len() == self.hash.len()
    }
}

impl std::fmt::Debug for CardState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardState")
            .field("document_number", &self.document_number)
            .field("tries_left", &self.tries_left)
            .finish_non_exhaustive()
    }
}

impl CardState {
    pub const FORMAT: u32 = 1;

    /// A new card's state; no personal code is set until the holder
    /// chooses one.
    pub fn new(
        document_number: String,
        can: String,
        files: BTreeMap<File, Vec<u8>>,
        aa_key: &SigningKey,
    ) -> Self {
        Self {
            format: Self::FORMAT,
            document_number,
            can,
            files: files.into_iter().map(|(f, b)| (f, Stored(b))).collect(),
            aa_key: aa_key.to_bytes().to_vec(),
            pin: None,
            tries_left: PIN_TRIES,
        }
    }

    pub fn to_json(&self) -> Result<String, CardError> {
        serde_json::to_string_pretty(self).map_err(|_| CardError::Malformed("card state"))
    }

    pub fn from_json(text: &str) -> Result<Self, CardError> {
        let state: Self =
            serde_json::from_str(text).map_err(|_| CardError::Malformed("card file"))?;
        if state.format != Self::FORMAT {
            return Err(CardError::Malformed("card file format"));
        }
        SigningKey::from_slice(&state.aa_key).map_err(|_| CardError::Malformed("card key"))?;
        Ok(state)
    }

    /// A file's bytes (for tools that build tampered copies in tests).
    pub fn file(&self, file: File) -> Option<&[u8]> {
        self.files.get(&file).map(|s| s.0.as_slice())
    }

    /// Replaces a file's bytes (personalisation and tests only: no APDU
    /// writes).
    pub fn set_file(&mut self, file: File, bytes: Vec<u8>) {
        self.files.insert(file, Stored(bytes));
    }

    pub fn is_blocked(&self) -> bool {
        self.tries_left == 0
    }

    pub fn has_pin(&self) -> bool {
        self.pin.is_some()
    }
}

/// One card session: power on, commands, power off. The state it changes
/// (try counter, code) is in [`SoftCard::state`], to be saved by the
/// caller.
#[derive(Debug)]
pub struct SoftCard {
    state: CardState,
    application: bool,
    selected: Option<File>,
    can_verified: bool,
    pin_verified: bool,
}

impl SoftCard {
    pub fn new(state: CardState) -> Self {
        Self {
            state,
            application: false,
            selected: None,
            can_verified: false,
            pin_verified: false,
        }
    }

    pub fn state(&self) -> &CardState {
        &self.state
    }

    pub fn into_state(self) -> CardState {
        self.state
    }

    /// Ends the session (a reset): every verification is forgotten.
    pub fn reset(&mut self) {
        *self = Self::new(self.state.clone());
    }

    fn execute(&mut self, command: &Command) -> (Vec<u8>, Status) {
        if command.cla != 0x00 {
            return (Vec::new(), Status::CLA_NOT_SUPPORTED);
        }
        let status = match command.ins {
            apdu::INS_SELECT => self.select(command),
            apdu::INS_READ_BINARY => return self.read_binary(command),
            apdu::INS_VERIFY => self.verify(command),
            apdu::INS_CHANGE_REFERENCE_DATA => self.change_reference_data(command),
            apdu::INS_INTERNAL_AUTHENTICATE => return self.internal_authenticate(command),
            _ => Status::INS_NOT_SUPPORTED,
        };
        (Vec::new(), status)
    }

    fn select(&mut self, command: &Command) -> Status {
        match command.p1 {
            0x04 if command.data == APPLICATION_ID => {
                self.application = true;
                self.selected = None;
                self.can_verified = false;
                self.pin_verified = false;
                Status::OK
            }
            0x04 => Status::FILE_NOT_FOUND,
            0x02 if self.application => {
                let id = <[u8; 2]>::try_from(command.data.as_slice())
                    .ok()
                    .map(u16::from_be_bytes)
                    .and_then(File::from_id)
                    .filter(|file| self.state.files.contains_key(file));
                match id {
                    Some(file) => {
                        self.selected = Some(file);
                        Status::OK
                    }
                    None => Status::FILE_NOT_FOUND,
                }
            }
            _ => Status::FILE_NOT_FOUND,
        }
    }

    fn read_binary(&mut self, command: &Command) -> (Vec<u8>, Status) {
        if !self.can_verified {
            return (Vec::new(), Status::SECURITY_NOT_SATISFIED);
        }
        let Some(bytes) = self.selected.and_then(|f| self.state.file(f)) else {
            return (Vec::new(), Status::CONDITIONS_NOT_SATISFIED);
        };
        if command.p1 & 0x80 != 0 {
            return (Vec::new(), Status::WRONG_P1P2);
        }
        let offset = usize::from(u16::from_be_bytes([command.p1, command.p2]));
        let wanted = match command.le {
            Some(0) | None => 256,
            Some(n) => usize::from(n),
        };
        match bytes.get(offset..) {
            Some(rest) => (rest.iter().take(wanted).copied().collect(), Status::OK),
            None => (Vec::new(), Status::WRONG_P1P2),
        }
    }

    fn verify(&mut self, command: &Command) -> Status {
        if !self.application {
            return Status::CONDITIONS_NOT_SATISFIED;
        }
        match command.p2 {
            apdu::REF_CAN => {
                if command.data == self.state.can.as_bytes() {
                    self.can_verified = true;
                    Status::OK
                } else {
                    self.can_verified = false;
                    Status::VERIFICATION_FAILED
                }
            }
            apdu::REF_PIN => self.verify_pin(&command.data),
            _ => Status::WRONG_P1P2,
        }
    }

    fn verify_pin(&mut self, pin: &[u8]) -> Status {
        if self.state.is_blocked() {
            return Status::BLOCKED;
        }
        let Some(verifier) = &self.state.pin else {
            return Status::REFERENCE_NOT_USABLE;
        };
        if pin.is_empty() {
            return if self.pin_verified {
                Status::OK
            } else {
                Status::tries_left(self.state.tries_left)
            };
        }
        if !is_pin(pin) {
            return Status::WRONG_DATA;
        }
        if verifier.matches(pin) {
            self.state.tries_left = PIN_TRIES;
            self.pin_verified = true;
            Status::OK
        } else {
            self.pin_verified = false;
            self.state.tries_left = self.state.tries_left.saturating_sub(1);
            if self.state.is_blocked() {
                Status::BLOCKED
            } else {
                Status::tries_left(self.state.tries_left)
            }
        }
    }

    /// P1 = 01: set the first code (data: new code), after the CAN.
    /// P1 = 00: change it (data: old code then new code).
    fn change_reference_data(&mut self, command: &Command) -> Status {
        if !self.application || command.p2 != apdu::REF_PIN {
            return Status::WRONG_P1P2;
        }
        match command.p1 {
            0x01 => {
                if self.state.pin.is_some() {
                    return Status::CONDITIONS_NOT_SATISFIED;
                }
                if !self.can_verified {
                    return Status::SECURITY_NOT_SATISFIED;
                }
                if !is_pin(&command.data) {
                    return Status::WRONG_DATA;
                }
                self.state.pin = Some(PinVerifier::new(&command.data));
                self.state.tries_left = PIN_TRIES;
                self.pin_verified = true;
                Status::OK
            }
            0x00 => {
                let (old, new) = command.data.split_at(command.data.len().min(6));
                if !is_pin(new) {
                    return Status::WRONG_DATA;
                }
                let status = self.verify_pin(old);
                if status != Status::OK {
                    return status;
                }
                self.state.pin = Some(PinVerifier::new(new));
                Status::OK
            }
            _ => Status::WRONG_P1P2,
        }
    }

    /// ICAO Active Authentication, ECDSA: the plain `r‖s` signature
    /// (BSI TR-03111) of SHA-256 over the 8-byte challenge.
    fn internal_authenticate(&mut self, command: &Command) -> (Vec<u8>, Status) {
        if self.state.is_blocked() {
            return (Vec::new(), Status::BLOCKED);
        }
        if !self.pin_verified {
            return (Vec::new(), Status::SECURITY_NOT_SATISFIED);
        }
        if command.data.len() != 8 {
            return (Vec::new(), Status::WRONG_LENGTH);
        }
        let Ok(key) = SigningKey::from_slice(&self.state.aa_key) else {
            return (Vec::new(), Status::REFERENCE_NOT_USABLE);
        };
        let signature: Signature = key.sign(&command.data);
        (signature.to_bytes().to_vec(), Status::OK)
    }
}

fn is_pin(pin: &[u8]) -> bool {
    pin.len() == 6 && pin.iter().all(u8::is_ascii_digit)
}

impl Transmit for SoftCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError> {
        let (data, status) = match Command::parse(command) {
            Ok(command) => self.execute(&command),
            Err(status) => (Vec::new(), status),
        };
        Ok(apdu::response(&data, status))
    }
}
