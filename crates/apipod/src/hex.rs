//! Lowercase hexadecimal: callback route tokens and download checksums.

use std::fmt::Write as _;

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Exactly `N` bytes from `2 * N` hex digits (either case); `None` for anything else.
pub(crate) fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *slot = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "007fabff");
        assert_eq!(decode_hex::<4>("007fabff"), Some(bytes));
        assert_eq!(decode_hex::<4>("007FABFF"), Some(bytes));
        assert_eq!(decode_hex::<4>("007fabf"), None);
        assert_eq!(decode_hex::<4>("007fabfg"), None);
        assert_eq!(decode_hex::<2>("é1"), None);
    }
}
