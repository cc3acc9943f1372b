//! The terminal's side: the commands a wallet (or a town-hall station)
//! sends through any [`Transmit`] to read the card and have it sign.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::apdu::{self, Command, Status};
use crate::lds::{APPLICATION_ID, File};
use crate::{CardError, Transmit, b64};

/// What a terminal relays to a verifier: the raw EF.SOD, the data groups
/// asked for (by number), and the Active Authentication signature over
/// the verifier's challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub sod: b64::Bytes,
    pub data_groups: BTreeMap<u8, b64::Bytes>,
    pub signature: b64::Bytes,
}

/// What VERIFY with no data says of the personal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// No code chosen yet: a new card.
    NotSet,
    /// Set; this many tries before the card blocks.
    Set {
        tries_left: u8,
    },
    Blocked,
}

/// A terminal talking to one card.
#[derive(Debug)]
pub struct Reader<'a, T: Transmit + ?Sized> {
    card: &'a mut T,
}

/// The most READ BINARY asks for at a time.
const CHUNK: u8 = 0xE0;

impl<'a, T: Transmit + ?Sized> Reader<'a, T> {
    pub fn new(card: &'a mut T) -> Self {
        Self { card }
    }

    fn send(&mut self, command: Command) -> Result<(Vec<u8>, Status), CardError> {
        let response = self.card.transmit(&command.encode())?;
        let (data, status) = apdu::split_response(&response)?;
        Ok((data.to_vec(), status))
    }

    fn expect_ok(&mut self, command: Command) -> Result<Vec<u8>, CardError> {
        match self.send(command)? {
            (data, Status::OK) => Ok(data),
            (_, status) => Err(CardError::Status(status.0)),
        }
    }

    /// Selects the eMRTD application and opens access with the CAN.
    pub fn open(&mut self, can: &str) -> Result<(), CardError> {
        self.expect_ok(Command::new(
            apdu::INS_SELECT,
            0x04,
            0x0C,
            &APPLICATION_ID,
            None,
        ))?;
        match self.send(Command::new(
            apdu::INS_VERIFY,
            0,
            apdu::REF_CAN,
            can.as_bytes(),
            None,
        ))? {
            (_, Status::OK) => Ok(()),
            (_, Status::VERIFICATION_FAILED) => Err(CardError::WrongCan),
            (_, status) => Err(CardError::Status(status.0)),
        }
    }

    /// A whole elementary file.
    pub fn read(&mut self, file: File) -> Result<Vec<u8>, CardError> {
        let id = file.id().to_be_bytes();
        self.expect_ok(Command::new(apdu::INS_SELECT, 0x02, 0x0C, &id, None))?;
        let mut bytes =
            self.expect_ok(Command::new(apdu::INS_READ_BINARY, 0, 0, &[], Some(CHUNK)))?;
        let total = crate::tlv::total_len(&bytes)?;
        while bytes.len() < total {
            let [p1, p2] = u16::try_from(bytes.len())
                .map_err(|_| CardError::Malformed("file too long"))?
                .to_be_bytes();
            let wanted =
                u8::try_from((total - bytes.len()).min(usize::from(CHUNK))).unwrap_or(CHUNK);
            let chunk = self.expect_ok(Command::new(
                apdu::INS_READ_BINARY,
                p1,
                p2,
                &[],
                Some(wanted),
            ))?;
            if chunk.is_empty() {
                return Err(CardError::Malformed("file shorter than its length"));
            }
            bytes.extend(chunk);
        }
        bytes.truncate(total);
        Ok(bytes)
    }

    pub fn pin_state(&mut self) -> Result<PinState, CardError> {
        match self
            .send(Command::new(apdu::INS_VERIFY, 0, apdu::REF_PIN, &[], None))?
            .1
        {
            Status::REFERENCE_NOT_USABLE => Ok(PinState::NotSet),
            Status::BLOCKED => Ok(PinState::Blocked),
            Status(sw) if sw & 0xFFF0 == 0x63C0 => Ok(PinState::Set {
                tries_left: (sw & 0x0F) as u8,
            }),
            Status::OK => Ok(PinState::Set {
                tries_left: crate::chip::PIN_TRIES,
            }),
            Status(sw) => Err(CardError::Status(sw)),
        }
    }

    fn pin_result(status: Status) -> Result<(), CardError> {
        match status {
            Status::OK => Ok(()),
            Status::BLOCKED => Err(CardError::PinBlocked),
            Status::REFERENCE_NOT_USABLE => Err(CardError::PinNotSet),
            Status::WRONG_DATA => Err(CardError::PinFormat),
            Status(sw) if sw & 0xFFF0 == 0x63C0 => Err(CardError::WrongPin {
                tries_left: (sw & 0x0F) as u8,
            }),
            Status(sw) => Err(CardError::Status(sw)),
        }
    }

    pub fn verify_pin(&mut self, pin: &str) -> Result<(), CardError> {
        if pin.is_empty() {
            return Err(CardError::PinFormat);
        }
        let status = self
            .send(Command::new(
                apdu::INS_VERIFY,
                0,
                apdu::REF_PIN,
                pin.as_bytes(),
                None,
            ))?
            .1;
        Self::pin_result(status)
    }

    /// Sets the first code of a new card (after [`Reader::open`]).
    pub fn set_pin(&mut self, pin: &str) -> Result<(), CardError> {
        let command = Command::new(
            apdu::INS_CHANGE_REFERENCE_DATA,
            0x01,
            apdu::REF_PIN,
            pin.as_bytes(),
            None,
        );
        match self.send(command)?.1 {
            Status::CONDITIONS_NOT_SATISFIED => Err(CardError::PinAlreadySet),
            status => Self::pin_result(status),
        }
    }

    pub fn change_pin(&mut self, old: &str, new: &str) -> Result<(), CardError> {
        if old.len() != 6 {
            return Err(CardError::PinFormat);
        }
        let data = format!("{old}{new}");
        let command = Command::new(
            apdu::INS_CHANGE_REFERENCE_DATA,
            0x00,
            apdu::REF_PIN,
            data.as_bytes(),
            None,
        );
        let status = self.send(command)?.1;
        Self::pin_result(status)
    }

    /// INTERNAL AUTHENTICATE over an 8-byte challenge.
    pub fn authenticate(&mut self, challenge: &[u8; 8]) -> Result<Vec<u8>, CardError> {
        let command = Command::new(apdu::INS_INTERNAL_AUTHENTICATE, 0, 0, challenge, Some(0));
        match self.send(command)? {
            (signature, Status::OK) => Ok(signature),
            (_, Status::BLOCKED) => Err(CardError::PinBlocked),
            (_, status) => Err(CardError::Status(status.0)),
        }
    }

    /// The evidence of one card read: after the code, EF.SOD and `groups`,
    /// then the signature of `challenge`.
    pub fn evidence(
        &mut self,
        groups: &[File],
        challenge: &[u8; 8],
    ) -> Result<Evidence, CardError> {
        let sod = self.read(File::Sod)?;
        let mut data_groups = BTreeMap::new();
        for &file in groups {
            let number = file
                .data_group()
                .ok_or(CardError::Malformed("not a data group"))?;
            data_groups.insert(number, b64::Bytes(self.read(file)?));
        }
        let signature = self.authenticate(challenge)?;
        Ok(Evidence {
            sod: b64::Bytes(sod),
            data_groups,
            signature: b64::Bytes(signature),
        })
    }
}
