#![expect(clippy::unwrap_used, reason = "tests")]
//! The card through its APDUs only, as a wallet sees it.

use card::pki::TestPki;
use card::{CardError, CardState, Date, Document, File, Holder, PinState, Reader, SoftCard};

fn holder() -> Holder {
    Holder {
        family_name: "Dubois".into(),
        given_names: "Angèle Marie".into(),
        usage_name: None,
        sex: 'F',
        birth_date: Date::new(1985, 3, 14).unwrap(),
        birthplace: Some("75056".into()),
        birthcountry: "99100".into(),
        birthplace_name: "Paris".into(),
    }
}

fn new_card() -> CardState {
    let pki = TestPki::generate(1_790_000_000).unwrap();
    let document = Document {
        number: "X4RTBPFW4".into(),
        expiry: Date::new(2034, 6, 1).unwrap(),
    };
    card::issue::issue(&pki.document_signer, &holder(), &document).unwrap()
}

#[test]
fn reading_needs_the_can_and_returns_the_issued_files() {
    let state = new_card();
    let can = state.can.clone();
    let dg1 = state.file(File::Dg1).unwrap().to_vec();
    let sod = state.file(File::Sod).unwrap().to_vec();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    let wrong = if can == "000000" { "111111" } else { "000000" };
    assert_eq!(reader.open(wrong), Err(CardError::WrongCan));
    assert_eq!(reader.read(File::Dg1), Err(CardError::Status(0x6982)));
    reader.open(&can).unwrap();
    assert_eq!(reader.read(File::Dg1).unwrap(), dg1);
    // EF.SOD is longer than one READ BINARY: read in chunks.
    assert!(sod.len() > 0xE0);
    assert_eq!(reader.read(File::Sod).unwrap(), sod);
}

#[test]
fn the_chip_signs_only_after_the_code_in_the_same_session() {
    let state = new_card();
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    assert_eq!(reader.pin_state().unwrap(), PinState::NotSet);
    assert_eq!(reader.verify_pin("123456"), Err(CardError::PinNotSet));
    assert_eq!(reader.set_pin("12345"), Err(CardError::PinFormat));
    reader.set_pin("123456").unwrap();
    assert_eq!(reader.set_pin("654321"), Err(CardError::PinAlreadySet));
    assert_eq!(reader.authenticate(&[1; 8]).unwrap().len(), 64);
    chip.reset();
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    assert_eq!(reader.authenticate(&[1; 8]), Err(CardError::Status(0x6982)));
    reader.verify_pin("123456").unwrap();
    assert_eq!(reader.authenticate(&[1; 8]).unwrap().len(), 64);
}

#[test]
fn three_wrong_codes_block_the_card_for_good() {
    let state = new_card();
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    reader.set_pin("123456").unwrap();
    assert_eq!(
        reader.verify_pin("000000"),
        Err(CardError::WrongPin { tries_left: 2 })
    );
    // A right code resets the counter.
    reader.verify_pin("123456").unwrap();
    assert_eq!(reader.pin_state().unwrap(), PinState::Set { tries_left: 3 });
    assert_eq!(
        reader.verify_pin("000000"),
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(
        reader.verify_pin("000001"),
        Err(CardError::WrongPin { tries_left: 1 })
    );
    assert_eq!(reader.verify_pin("000002"), Err(CardError::PinBlocked));
    assert_eq!(reader.verify_pin("123456"), Err(CardError::PinBlocked));
    assert_eq!(reader.authenticate(&[0; 8]), Err(CardError::PinBlocked));
    // The block survives the card file.
    let saved = CardState::from_json(&chip.into_state().to_json().unwrap()).unwrap();
    assert!(saved.is_blocked());
    let mut chip = SoftCard::new(saved);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    assert_eq!(reader.pin_state().unwrap(), PinState::Blocked);
}

#[test]
fn change_reference_data_needs_the_old_code() {
    let state = new_card();
    let can = state.can.clone();
    let mut chip = SoftCard::new(state);
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    reader.set_pin("123456").unwrap();
    assert_eq!(
        reader.change_pin("999999", "654321"),
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(
        reader.change_pin("123456", "65432a"),
        Err(CardError::PinFormat)
    );
    reader.change_pin("123456", "654321").unwrap();
    chip.reset();
    let mut reader = Reader::new(&mut chip);
    reader.open(&can).unwrap();
    assert_eq!(
        reader.verify_pin("123456"),
        Err(CardError::WrongPin { tries_left: 2 })
    );
    reader.verify_pin("654321").unwrap();
}

#[test]
fn garbage_commands_get_status_words_not_panics() {
    let mut chip = SoftCard::new(new_card());
    for command in [
        &[][..],
        &[0x00],
        &[0x80, 0xA4, 0, 0],
        &[0x00, 0xFF, 0, 0],
        &[0x00, 0xB0, 0xFF, 0xFF, 0x00],
        &[0x00, 0x24, 0x00, 0x81, 0x01, 0x31],
        &[0x00, 0x88, 0, 0, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0],
    ] {
        let response = card::Transmit::transmit(&mut chip, command).unwrap();
        assert!(response.len() >= 2);
        assert_ne!(
            response[response.len() - 2..],
            [0x90, 0x00],
            "{command:02X?}"
        );
    }
}
