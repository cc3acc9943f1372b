//! The proximity session (§9.1.1), both sides as small state machines:
//! the holder shows a QR code with its device engagement (§8.2.1,
//! §8.2.2.3) and an ephemeral key; the reader scans it, answers with its
//! own ephemeral key and the encrypted request (SessionEstablishment);
//! then each side encrypts to the other (SessionData).
//!
//! Session keys (§9.1.1.5): the ECDH shared secret's x coordinate, HKDF
//! with SHA-256, salt = SHA-256(SessionTranscriptBytes), info "SKReader"
//! or "SKDevice", 32 bytes; AES-256-GCM with the IV the 8-byte identifier
//! of the sender (reader 0, device 1) then its 4-byte big-endian message
//! counter, from 1. Each side counts its own messages and expects the
//! other's next: a replayed, reordered or altered message does not
//! decrypt and is refused.
//!
//! Simulated transport: no BLE, NFC or Wi-Fi Aware. The engagement names
//! [`HTTP_RETRIEVAL`], a private retrieval method carrying an HTTP URL;
//! the messages travel over local HTTP or files, as the caller chooses.

use aes_gcm::aead::Aead as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use card::pki::random_key;
use hkdf::Hkdf;
use p256::ecdsa::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::MdocError;
use crate::cbor::{self, Encoded, Fields, Value, text_map};
use crate::cose;
use crate::transcript::SessionTranscript;

/// The device retrieval method type of this simulation: ISO allocates 1
/// (NFC), 2 (BLE) and 3 (Wi-Fi Aware) (§8.2.1.1); this value is not
/// theirs. Its options are `{0: url}`, where the reader sends its
/// messages.
pub const HTTP_RETRIEVAL: u64 = 0x5041;
/// Cipher suite 1 (§9.1.5.2): ECDH P-256, HKDF-SHA-256, AES-256-GCM.
pub const CIPHER_SUITE: u64 = 1;
/// SessionData status 10: session encryption error (§8.3.2.1.2.3).
pub const STATUS_ENCRYPTION_ERROR: u64 = 10;
/// SessionData status 20: session termination (§8.3.2.1.2.3).
pub const STATUS_TERMINATION: u64 = 20;

const QR_SCHEME: &str = "mdoc:";

/// DeviceEngagement (§8.2.1.1): version "1.0", Security
/// `[1, EDeviceKeyBytes]`, and the retrieval method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEngagement {
    pub e_device_key: VerifyingKey,
    /// The URL of [`HTTP_RETRIEVAL`], if the engagement names one.
    pub url: Option<String>,
}

impl DeviceEngagement {
    pub fn to_value(&self) -> Result<Value, MdocError> {
        let key = Encoded::of(&cose::key_to_value(&self.e_device_key)?)?;
        let mut map = vec![
            (Value::from(0), Value::Text("1.0".into())),
            (
                Value::from(1),
                Value::Array(vec![Value::from(CIPHER_SUITE), key.to_value()]),
            ),
        ];
        if let Some(url) = &self.url {
            let options = Value::Map(vec![(Value::from(0), Value::Text(url.clone()))]);
            let method = Value::Array(vec![Value::from(HTTP_RETRIEVAL), Value::from(1), options]);
            map.push((Value::from(2), Value::Array(vec![method])));
        }
        Ok(Value::Map(map))
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "DeviceEngagement";
        let fields = Fields::of(value, WHAT)?;
        if fields.label(0).map(|v| cbor::text(v, WHAT)).transpose()? != Some("1.0") {
            return Err(MdocError::Malformed("DeviceEngagement version"));
        }
        let security = cbor::array(fields.label(1).ok_or(MdocError::Malformed(WHAT))?, WHAT)?;
        let [suite, key] = security else {
            return Err(MdocError::Malformed(WHAT));
        };
        if cbor::uint(suite, WHAT)? != CIPHER_SUITE {
            return Err(MdocError::Algorithm("cipher suite".into()));
        }
        let key = Encoded::from_value(key, "EDeviceKeyBytes")?.decode()?;
        let mut url = None;
        if let Some(methods) = fields.label(2) {
            for method in cbor::array(methods, WHAT)? {
                if let [kind, _, options] = cbor::array(method, WHAT)?
                    && cbor::uint(kind, WHAT)? == HTTP_RETRIEVAL
                {
                    let options = Fields::of(options, WHAT)?;
                    let found = options.label(0).ok_or(MdocError::Malformed(WHAT))?;
                    url = Some(cbor::text(found, WHAT)?.to_string());
                }
            }
        }
        Ok(Self {
            e_device_key: cose::key_from_value(&key, "EDeviceKey")?,
            url,
        })
    }
}

/// The QR code's text (§8.2.2.3): `mdoc:` then the DeviceEngagement's
/// bytes in base64url without padding (as Multipaz and the EUDI
/// wallets write it: the engagement itself, not its tag-24 wrapping).
pub fn qr_code(engagement: &Encoded) -> String {
    format!("{QR_SCHEME}{}", URL_SAFE_NO_PAD.encode(engagement.inner()))
}

/// The engagement in a scanned QR code, and its bytes as received (for
/// the transcript).
pub fn parse_qr_code(text: &str) -> Result<(DeviceEngagement, Encoded), MdocError> {
    let encoded = text
        .strip_prefix(QR_SCHEME)
        .ok_or(MdocError::Malformed("QR code (no mdoc: scheme)"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| MdocError::Malformed("QR code (not base64url)"))?;
    let engagement = DeviceEngagement::from_value(&cbor::decode(&bytes)?)?;
    let value = Value::Tag(cbor::ENCODED_CBOR, Box::new(Value::Bytes(bytes)));
    Ok((engagement, Encoded::from_value(&value, "DeviceEngagement")?))
}

/// Who is speaking: its key's HKDF info and its IV identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    Device,
}

impl Role {
    fn info(self) -> &'static [u8] {
        match self {
            Self::Reader => b"SKReader",
            Self::Device => b"SKDevice",
        }
    }

    fn identifier(self) -> [u8; 8] {
        match self {
            Self::Reader => [0; 8],
            Self::Device => [0, 0, 0, 0, 0, 0, 0, 1],
        }
    }

    fn peer(self) -> Self {
        match self {
            Self::Reader => Self::Device,
            Self::Device => Self::Reader,
        }
    }
}

/// One direction's key and message counter.
struct Direction {
    cipher: Aes256Gcm,
    role: Role,
    counter: u32,
}

impl Direction {
    fn derive(secret: &[u8], salt: &[u8], role: Role) -> Result<Self, MdocError> {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(salt), secret)
            .expand(role.info(), &mut key)
            .map_err(|e| MdocError::Crypto(e.to_string()))?;
        let cipher =
            Aes256Gcm::new_from_slice(&key).map_err(|e| MdocError::Crypto(e.to_string()))?;
        Ok(Self {
            cipher,
            role,
            counter: 1,
        })
    }

    fn nonce(&self) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        let (identifier, counter) = nonce.split_at_mut(8);
        identifier.copy_from_slice(&self.role.identifier());
        counter.copy_from_slice(&self.counter.to_be_bytes());
        nonce
    }

    fn advance(&mut self) -> Result<(), MdocError> {
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(MdocError::SessionCounterExhausted)?;
        Ok(())
    }
}

/// The two directions of an established session, from one side.
struct Channel {
    outgoing: Direction,
    incoming: Direction,
    transcript: SessionTranscript,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("sent", &(self.outgoing.counter - 1))
            .field("received", &(self.incoming.counter - 1))
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// §9.1.1.5: keys from our ephemeral `key`, the other side's `peer`
    /// key and the transcript.
    fn derive(
        key: &SigningKey,
        peer: &VerifyingKey,
        transcript: SessionTranscript,
        role: Role,
    ) -> Result<Self, MdocError> {
        let shared = p256::ecdh::diffie_hellman(key.as_nonzero_scalar(), peer.as_affine());
        let salt = Sha256::digest(transcript.to_bytes()?);
        let secret = shared.raw_secret_bytes();
        Ok(Self {
            outgoing: Direction::derive(secret, &salt, role)?,
            incoming: Direction::derive(secret, &salt, role.peer())?,
            transcript,
        })
    }

    fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        let nonce = self.outgoing.nonce();
        let ciphertext = self
            .outgoing
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| MdocError::Crypto("encryption".into()))?;
        self.outgoing.advance()?;
        Ok(ciphertext)
    }

    fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, MdocError> {
        let nonce = self.incoming.nonce();
        let plaintext = self
            .incoming
            .cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext)
            .map_err(|_| MdocError::SessionDecryption)?;
        self.incoming.advance()?;
        Ok(plaintext)
    }

    /// SessionData with our next encrypted message.
    fn seal_session_data(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        let data = self.seal(plaintext)?;
        cbor::encode(&text_map([("data", Value::Bytes(data))]))
    }

    /// The message in a received SessionData; its status, if it has no
    /// data, is an error (termination included).
    fn open_session_data(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        const WHAT: &str = "SessionData";
        let value = cbor::decode(message)?;
        let fields = Fields::of(&value, WHAT)?;
        match (fields.get("data"), fields.get("status")) {
            (Some(data), _) => self.open(cbor::bytes(data, WHAT)?),
            (None, Some(status)) => Err(MdocError::SessionStatus(cbor::uint(status, WHAT)?)),
            (None, None) => Err(MdocError::Malformed(WHAT)),
        }
    }
}

/// SessionData with only a status (§9.1.1.4): 20 ends the session.
pub fn session_status(status: u64) -> Result<Vec<u8>, MdocError> {
    cbor::encode(&text_map([("status", Value::from(status))]))
}

/// The holder's side: shows the engagement, receives the reader's
/// establishment, then exchanges SessionData.
pub struct DeviceSession {
    e_device_key: SigningKey,
    engagement: Encoded,
    channel: Option<Channel>,
}

impl std::fmt::Debug for DeviceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSession")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl DeviceSession {
    /// A new ephemeral key (EDeviceKey) and the engagement naming `url`.
    pub fn new(url: Option<&str>) -> Result<Self, MdocError> {
        let e_device_key = random_key();
        let engagement = DeviceEngagement {
            e_device_key: *e_device_key.verifying_key(),
            url: url.map(str::to_string),
        };
        Ok(Self {
            engagement: Encoded::of(&engagement.to_value()?)?,
            e_device_key,
            channel: None,
        })
    }

    /// The text of the QR code to show.
    pub fn qr_code(&self) -> String {
        qr_code(&self.engagement)
    }

    /// Reads SessionEstablishment (§9.1.1.4): derives the session keys
    /// from the reader's key and returns the decrypted request.
    pub fn establish(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        const WHAT: &str = "SessionEstablishment";
        let value = cbor::decode(message)?;
        let fields = Fields::of(&value, WHAT)?;
        let e_reader_key = Encoded::from_value(fields.required("eReaderKey")?, "EReaderKeyBytes")?;
        let data = cbor::bytes(fields.required("data")?, WHAT)?;
        let reader_key = cose::key_from_value(&e_reader_key.decode()?, "EReaderKey")?;
        let transcript = SessionTranscript::qr(self.engagement.clone(), e_reader_key);
        let mut channel =
            Channel::derive(&self.e_device_key, &reader_key, transcript, Role::Device)?;
        let request = channel.open(data)?;
        self.channel = Some(channel);
        Ok(request)
    }

    fn channel(&mut self) -> Result<&mut Channel, MdocError> {
        self.channel
            .as_mut()
            .ok_or(MdocError::SessionNotEstablished)
    }

    /// The transcript, once established: what the response is signed for.
    pub fn transcript(&self) -> Option<&SessionTranscript> {
        self.channel.as_ref().map(|c| &c.transcript)
    }

    /// SessionData carrying `plaintext` (the DeviceResponse).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        self.channel()?.seal_session_data(plaintext)
    }

    /// The message of the reader's next SessionData.
    pub fn open(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        self.channel()?.open_session_data(message)
    }
}

/// The reader's side: scans the QR code, sends the encrypted request,
/// then exchanges SessionData.
pub struct ReaderSession {
    engagement: DeviceEngagement,
    e_reader_key_bytes: Encoded,
    channel: Channel,
}

impl std::fmt::Debug for ReaderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderSession")
            .field("url", &self.engagement.url)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl ReaderSession {
    /// From a scanned QR code: a new ephemeral key (EReaderKey), the
    /// transcript and the session keys.
    pub fn from_qr_code(text: &str) -> Result<Self, MdocError> {
        let (engagement, engagement_bytes) = parse_qr_code(text)?;
        let e_reader_key = random_key();
        let e_reader_key_bytes = Encoded::of(&cose::key_to_value(e_reader_key.verifying_key())?)?;
        let transcript = SessionTranscript::qr(engagement_bytes, e_reader_key_bytes.clone());
        let channel = Channel::derive(
            &e_reader_key,
            &engagement.e_device_key,
            transcript,
            Role::Reader,
        )?;
        Ok(Self {
            engagement,
            e_reader_key_bytes,
            channel,
        })
    }

    /// Where the holder's device listens, per its engagement.
    pub fn url(&self) -> Option<&str> {
        self.engagement.url.as_deref()
    }

    pub fn transcript(&self) -> &SessionTranscript {
        &self.channel.transcript
    }

    /// SessionEstablishment (§9.1.1.4): our key and the encrypted
    /// `request` (the DeviceRequest), the reader's first message.
    pub fn establish(&mut self, request: &[u8]) -> Result<Vec<u8>, MdocError> {
        let data = self.channel.seal(request)?;
        cbor::encode(&text_map([
            ("eReaderKey", self.e_reader_key_bytes.to_value()),
            ("data", Value::Bytes(data)),
        ]))
    }

    /// SessionData carrying `plaintext`.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        self.channel.seal_session_data(plaintext)
    }

    /// The message of the holder's next SessionData.
    pub fn open(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        self.channel.open_session_data(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8080/mdoc/session/1";

    fn established() -> (DeviceSession, ReaderSession) {
        let mut device = DeviceSession::new(Some(URL)).unwrap();
        let mut reader = ReaderSession::from_qr_code(&device.qr_code()).unwrap();
        let establishment = reader.establish(b"request").unwrap();
        assert_eq!(device.establish(&establishment).unwrap(), b"request");
        (device, reader)
    }

    #[test]
    fn the_qr_code_carries_the_engagement_and_its_url() {
        let device = DeviceSession::new(Some(URL)).unwrap();
        let text = device.qr_code();
        assert!(text.starts_with("mdoc:"));
        let (engagement, bytes) = parse_qr_code(&text).unwrap();
        assert_eq!(bytes, device.engagement);
        assert_eq!(engagement.url.as_deref(), Some(URL));
        assert_eq!(
            &engagement.e_device_key,
            device.e_device_key.verifying_key()
        );
    }

    #[test]
    fn both_sides_derive_the_same_transcript_and_talk_both_ways() {
        let (mut device, mut reader) = established();
        assert_eq!(device.transcript(), Some(reader.transcript()));
        let response = device.seal(b"response").unwrap();
        assert_eq!(reader.open(&response).unwrap(), b"response");
        let more = reader.seal(b"more").unwrap();
        assert_eq!(device.open(&more).unwrap(), b"more");
        let again = device.seal(b"again").unwrap();
        assert_eq!(reader.open(&again).unwrap(), b"again");
    }

    #[test]
    fn the_session_keys_follow_9_1_1_5() {
        let (device, reader) = established();
        // Recompute SKDevice from the device's ephemeral key and the
        // reader's public key, and decrypt the device's first message
        // with IV 00..01 ‖ 00000001.
        let mut device = device;
        let message = device.seal(b"hello").unwrap();
        let reader_key =
            cose::key_from_value(&reader.e_reader_key_bytes.decode().unwrap(), "key").unwrap();
        let shared = p256::ecdh::diffie_hellman(
            device.e_device_key.as_nonzero_scalar(),
            reader_key.as_affine(),
        );
        let salt = Sha256::digest(reader.transcript().to_bytes().unwrap());
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes())
            .expand(b"SKDevice", &mut key)
            .unwrap();
        let value = cbor::decode(&message).unwrap();
        let data = cbor::bytes(
            Fields::of(&value, "data").unwrap().get("data").unwrap(),
            "data",
        )
        .unwrap();
        let iv = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        let plain = Aes256Gcm::new_from_slice(&key)
            .unwrap()
            .decrypt(Nonce::from_slice(&iv), data)
            .unwrap();
        assert_eq!(plain, b"hello");
    }

    #[test]
    fn a_replayed_session_message_is_refused() {
        let (mut device, mut reader) = established();
        let first = device.seal(b"first").unwrap();
        assert_eq!(reader.open(&first).unwrap(), b"first");
        assert_eq!(reader.open(&first), Err(MdocError::SessionDecryption));
    }

    #[test]
    fn messages_out_of_order_are_refused() {
        let (mut device, mut reader) = established();
        let first = device.seal(b"first").unwrap();
        let second = device.seal(b"second").unwrap();
        assert_eq!(reader.open(&second), Err(MdocError::SessionDecryption));
        assert_eq!(reader.open(&first).unwrap(), b"first");
        assert_eq!(reader.open(&second).unwrap(), b"second");
    }

    #[test]
    fn a_message_from_our_own_side_is_refused() {
        // The reader's message sent back to the reader: its own key and
        // identifier, not the device's.
        let (_, mut reader) = established();
        let ours = reader.seal(b"ours").unwrap();
        assert_eq!(reader.open(&ours), Err(MdocError::SessionDecryption));
    }

    #[test]
    fn an_altered_session_message_is_refused() {
        let (mut device, mut reader) = established();
        let mut message = device.seal(b"response").unwrap();
        if let Some(last) = message.last_mut() {
            *last ^= 1;
        }
        assert_eq!(reader.open(&message), Err(MdocError::SessionDecryption));
    }

    #[test]
    fn the_termination_status_ends_the_session() {
        let (mut device, _) = established();
        assert_eq!(
            device.open(&session_status(STATUS_TERMINATION).unwrap()),
            Err(MdocError::SessionStatus(20))
        );
    }

    #[test]
    fn a_device_session_refuses_data_before_establishment() {
        let mut device = DeviceSession::new(None).unwrap();
        assert_eq!(device.seal(b"x"), Err(MdocError::SessionNotEstablished));
        assert!(matches!(
            device.establish(b"\xa0"),
            Err(MdocError::Malformed(_))
        ));
    }

    #[test]
    fn a_qr_code_that_is_not_an_engagement_is_refused() {
        for text in ["https://example.org", "mdoc:!!!", "mdoc:oA", "mdoc:"] {
            assert!(ReaderSession::from_qr_code(text).is_err(), "{text}");
        }
    }
}
