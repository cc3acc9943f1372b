//! ISO 7816-4 command and response APDUs (short form).

use crate::CardError;

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; 0 means 256.
    pub le: Option<u8>,
}

pub const INS_SELECT: u8 = 0xA4;
pub const INS_READ_BINARY: u8 = 0xB0;
pub const INS_VERIFY: u8 = 0x20;
pub const INS_CHANGE_REFERENCE_DATA: u8 = 0x24;
pub const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;

/// VERIFY and CHANGE REFERENCE DATA reference of the personal code.
pub const REF_PIN: u8 = 0x81;
/// VERIFY reference of the card access number (our stand-in for PACE).
pub const REF_CAN: u8 = 0x82;

impl Command {
    pub fn new(ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Self {
        Self {
            cla: 0x00,
            ins,
            p1,
            p2,
            data: data.to_vec(),
            le,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            out.push(u8::try_from(self.data.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        out
    }

    /// Parses a short APDU; anything else is [`Status::WRONG_LENGTH`].
    pub fn parse(bytes: &[u8]) -> Result<Self, Status> {
        let Some((header, body)) = bytes.split_first_chunk::<4>() else {
            return Err(Status::WRONG_LENGTH);
        };
        let [cla, ins, p1, p2] = *header;
        let (data, le) = match body {
            [] => (&[][..], None),
            [le] => (&[][..], Some(*le)),
            [0, ..] => return Err(Status::WRONG_LENGTH),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) => (rest, None),
                    Some(1) => (rest.get(..lc).unwrap_or_default(), rest.last().copied()),
                    _ => return Err(Status::WRONG_LENGTH),
                }
            }
        };
        Ok(Self {
            cla,
            ins,
            p1,
            p2,
            data: data.to_vec(),
            le,
        })
    }
}

/// A status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub const OK: Status = Status(0x9000);
    pub const WRONG_LENGTH: Status = Status(0x6700);
    pub const SECURITY_NOT_SATISFIED: Status = Status(0x6982);
    pub const BLOCKED: Status = Status(0x6983);
    pub const REFERENCE_NOT_USABLE: Status = Status(0x6984);
    pub const CONDITIONS_NOT_SATISFIED: Status = Status(0x6985);
    pub const WRONG_DATA: Status = Status(0x6A80);
    pub const FILE_NOT_FOUND: Status = Status(0x6A82);
    pub const WRONG_P1P2: Status = Status(0x6B00);
    pub const INS_NOT_SUPPORTED: Status = Status(0x6D00);
    pub const CLA_NOT_SUPPORTED: Status = Status(0x6E00);
    pub const VERIFICATION_FAILED: Status = Status(0x6300);

    /// `63 Cx`: wrong code, `x` tries left.
    pub fn tries_left(n: u8) -> Status {
        Status(0x63C0 | u16::from(n & 0x0F))
    }
}

/// A response APDU: data, then the status word.
pub fn response(data: &[u8], status: Status) -> Vec<u8> {
    let mut out = data.to_vec();
    out.extend_from_slice(&status.0.to_be_bytes());
    out
}

/// Splits a response into its data and status word.
pub fn split_response(bytes: &[u8]) -> Result<(&[u8], Status), CardError> {
    let (data, sw) = bytes
        .split_last_chunk::<2>()
        .ok_or(CardError::Malformed("response shorter than a status word"))?;
    Ok((data, Status(u16::from_be_bytes(*sw))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_cases_round_trip() {
        for command in [
            Command::new(INS_SELECT, 4, 0x0C, &[], None),
            Command::new(INS_READ_BINARY, 0, 0, &[], Some(0)),
            Command::new(INS_VERIFY, 0, REF_PIN, b"123456", None),
            Command::new(INS_INTERNAL_AUTHENTICATE, 0, 0, &[1; 8], Some(0)),
        ] {
            assert_eq!(Command::parse(&command.encode()).unwrap(), command);
        }
    }

    #[test]
    fn bad_lengths_are_refused() {
        for bytes in [
            &[0u8, 1, 2][..],
            &[0, 0x20, 0, 0x81, 6, 1, 2],
            &[0, 0x20, 0, 0, 0, 1, 2],
        ] {
            assert_eq!(Command::parse(bytes), Err(Status::WRONG_LENGTH));
        }
    }
}
