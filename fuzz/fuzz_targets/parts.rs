//! An input made of several files: each a 2-byte big-endian length, then
//! that many bytes (fewer at the end).

pub fn parts(mut data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    while let [high, low, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*high, *low])).min(rest.len());
        let (part, rest) = rest.split_at(len);
        parts.push(part);
        data = rest;
    }
    parts
}
