//! QR codes as the pages and the apps show them.

/// `text` as an SVG QR code at least `size` pixels wide, with its quiet
/// zone; `None` when the text is too long for a QR code.
pub fn qr_svg(text: &str, size: u32) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(size, size)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_an_svg_and_too_much_text_nothing() {
        let svg = qr_svg("openid4vp://?state=1", 240).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        assert!(qr_svg(&"x".repeat(8000), 240).is_none());
    }
}
