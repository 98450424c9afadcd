//! Bytes to text: UTF-8 (BOM stripped), UTF-16 with a BOM, otherwise Windows-1252; refusing
//! what looks like binary data. The host decodes plain-text files with this too.

use crate::ExtractError;

/// Share of control characters above which "text" is really binary data. Real text has
/// almost none; random bytes land around 12%.
const MAX_CONTROL_RATIO: f64 = 0.05;

/// Decodes a text file, refusing anything that looks binary.
pub fn decode_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        decode_8bit(rest)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        decode_utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        decode_utf16(rest, u16::from_be_bytes)
    } else {
        decode_8bit(bytes)?
    };
    check_not_binary(&text)?;
    Ok(text)
}

fn decode_8bit(bytes: &[u8]) -> Result<String, ExtractError> {
    // Without a BOM a NUL byte never occurs in text in any 8-bit encoding.
    if bytes.contains(&0) {
        return Err(ExtractError::not_ingestible(
            "the file looks like binary data (it contains NUL bytes), not text",
        ));
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    })
}

fn decode_utf16(bytes: &[u8], to_unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| to_unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Windows-1252 differs from Latin-1 only in 0x80..=0x9F, where it has printable characters
/// (curly quotes, dashes, the euro sign) that legacy Western text actually uses.
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

fn check_not_binary(text: &str) -> Result<(), ExtractError> {
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars() {
        total += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}') {
            control += 1;
        }
    }
    if total > 0 && control as f64 / total as f64 > MAX_CONTROL_RATIO {
        return Err(ExtractError::not_ingestible(format!(
            "the file looks like binary data ({control} of {total} characters are control characters), not text"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_bom_decodes() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "héllo 🚢".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        assert_eq!(decode_text(&bytes).expect("utf-16"), "héllo 🚢");
    }

    #[test]
    fn windows_1252_fallback_maps_smart_quotes() {
        let text = decode_text(b"\x93quoted\x94 \x80 5").expect("cp1252");
        assert_eq!(text, "\u{201C}quoted\u{201D} € 5");
    }

    #[test]
    fn binary_is_refused() {
        let err = decode_text(&[0x01, 0x02, 0x03, b'a', 0x1b, 0x7f].repeat(50)).unwrap_err();
        assert!(err.message().contains("binary"), "{err}");
        let err = decode_text(b"a\0b").unwrap_err();
        assert!(err.message().contains("NUL"), "{err}");
    }
}
