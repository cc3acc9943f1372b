//! A small PDF writer: one A4 page of Helvetica text and a QR code drawn
//! as vector squares, with a seal in the document information. Enough for
//! the identity proof; no dependency.

use std::fmt::Write as _;

/// The document information key that carries the seal.
const SEAL_KEY: &str = "/PasserelleSeal";

/// A line of text: size in points, then the text.
#[derive(Debug)]
pub struct Line {
    pub size: u8,
    pub text: String,
}

/// A PDF literal string in WinAnsi (Latin-1 for the French letters);
/// other characters become `?`.
fn literal(text: &str) -> String {
    let mut out = String::from("(");
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            '\u{a0}'..='\u{ff}' => {
                let _ = write!(out, "\\{:03o}", u32::from(c));
            }
            '\u{2019}' => out.push('\''),
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

/// Writes the page: `lines` from the top left, the QR code of `seal` at the
/// bottom right, and the seal in the information dictionary.
pub fn write(title: &str, lines: &[Line], seal: &str) -> Vec<u8> {
    let mut content = String::from("BT\n/F1 11 Tf\n50 790 Td\n");
    let mut previous = 11u8;
    for (at, line) in lines.iter().enumerate() {
        if at > 0 {
            let _ = writeln!(content, "0 -{} Td", u32::from(previous.max(line.size)) + 6);
        }
        let _ = writeln!(content, "/F1 {} Tf\n{} Tj", line.size, literal(&line.text));
        previous = line.size;
    }
    content.push_str("ET\n");
    if let Ok(code) = qrcode::QrCode::new(seal.as_bytes()) {
        // In module units (one `cm`), each horizontal run of dark modules
        // one rectangle, rows counted from the bottom.
        let width = code.width();
        let module = 190.0 / width as f64;
        let _ = writeln!(
            content,
            "q\n0 0 0 rg\n{module:.4} 0 0 {module:.4} 360 40 cm"
        );
        for (y, row) in code.to_colors().chunks(width).enumerate() {
            let mut x = 0;
            while x < row.len() {
                let run = row
                    .iter()
                    .skip(x)
                    .take_while(|color| **color == qrcode::Color::Dark)
                    .count();
                if run > 0 {
                    let _ = writeln!(content, "{x} {} {run} 1 re", width - 1 - y);
                }
                x += run.max(1);
            }
        }
        content.push_str("f\nQ\n");
    }
    let stream = deflate(content.as_bytes());
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
        String::new(), // the content stream, binary: written below

        format!(
            "<< /Title {} /Producer (Passerelle) {SEAL_KEY} {} >>",
            literal(title),
            literal(seal)
        ),
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        if object.is_empty() {
            out.extend_from_slice(
                format!(
                    "<< /Length {} /Filter /FlateDecode >>\nstream\n",
                    stream.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&stream);
            out.extend_from_slice(b"\nendstream");
        } else {
            out.extend_from_slice(object.as_bytes());
        }
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1,
        objects.len()
    );
    out.extend_from_slice(table.as_bytes());
    out
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Why a file is not a proof.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Not a PDF at all.
    NotPdf,
    /// A PDF without a seal.
    NoSeal,
}

/// The seal of a PDF written by [`write`].
pub fn seal_of(pdf: &[u8]) -> Result<String, ReadError> {
    if !pdf.starts_with(b"%PDF-") {
        return Err(ReadError::NotPdf);
    }
    let marker = format!("{SEAL_KEY} (");
    let start = pdf
        .windows(marker.len())
        .position(|window| window == marker.as_bytes())
        .ok_or(ReadError::NoSeal)?
        + marker.len();
    let rest = pdf.get(start..).ok_or(ReadError::NoSeal)?;
    let end = rest
        .iter()
        .position(|b| *b == b')')
        .ok_or(ReadError::NoSeal)?;
    let seal = rest.get(..end).ok_or(ReadError::NoSeal)?;
    String::from_utf8(seal.to_vec()).map_err(|_| ReadError::NoSeal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_pdf_has_a_valid_cross_reference_table_and_gives_back_its_seal() {
        let lines = [
            Line {
                size: 16,
                text: "Justificatif d'identité (à usage unique)".into(),
            },
            Line {
                size: 11,
                text: "Nom : N'DIAYE (parenthèses) \\ ok".into(),
            },
        ];
        let pdf = write(
            "Justificatif d'identité (à usage unique)",
            &lines,
            "aaa.bbb.ccc",
        );
        assert_eq!(seal_of(&pdf), Ok("aaa.bbb.ccc".to_owned()));
        let find = |needle: &[u8]| {
            pdf.windows(needle.len())
                .rposition(|window| window == needle)
                .unwrap()
        };
        find(b"/Title (Justificatif d'identit\\351 \\(\\340 usage unique\\))");
        // Every xref offset points at its object, and startxref at xref.
        let xref = find(b"\nxref\n") + 1;
        let table = std::str::from_utf8(&pdf[xref..]).unwrap();
        let offsets: Vec<usize> = table
            .lines()
            .skip(3)
            .take(6)
            .map(|line| line[..10].parse().unwrap())
            .collect();
        for (index, offset) in offsets.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(format!("{} 0 obj", index + 1).as_bytes()));
        }
        let startxref: usize = table
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(startxref, xref);
    }

    #[test]
    fn other_files_are_told_apart() {
        assert_eq!(seal_of(b"hello"), Err(ReadError::NotPdf));
        assert_eq!(seal_of(b"%PDF-1.4\n%%EOF"), Err(ReadError::NoSeal));
        assert_eq!(seal_of(b""), Err(ReadError::NotPdf));
    }
}
