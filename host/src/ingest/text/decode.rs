//! Bytes to text for the plain formats, and the clean-up every extractor's output goes through.

use std::borrow::Cow;

use super::ExtractError;

/// Share of control characters above which "text" is really binary data. Real text has
/// almost none; ANSI-coloured logs stay well below this, random bytes land around 12%.
const MAX_CONTROL_RATIO: f64 = 0.05;

/// Decodes a text file: UTF-8 (BOM stripped), UTF-16 when it has a BOM, otherwise
/// Windows-1252 (a superset of Latin-1), refusing anything that looks binary.
pub(super) fn decode_text(bytes: &[u8]) -> Result<String, ExtractError> {
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
        if is_junk_control(c) {
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

/// Control characters that don't belong in text; tab, newlines and form feed do.
fn is_junk_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}')
}

/// Normalises extracted text: `\n` line endings, no control characters, no trailing spaces,
/// at most one blank line in a row, no leading or trailing blank lines.
pub(super) fn tidy(text: &str) -> String {
    let text: Cow<'_, str> = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.split('\n') {
        if line.chars().all(|c| c.is_whitespace() || c.is_control()) {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        if line
            .chars()
            .any(|c| is_junk_control(c) || c == '\u{0C}' || c == '\u{A0}')
        {
            out.extend(
                line.chars()
                    .filter(|&c| !is_junk_control(c) && c != '\u{0C}')
                    .map(|c| if c == '\u{A0}' { ' ' } else { c }),
            );
            out.truncate(out.trim_end().len());
        } else {
            out.push_str(line.trim_end());
        }
    }
    out
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
    fn tidy_normalises_whitespace() {
        assert_eq!(
            tidy("\r\n\n  a  \r\nb\u{A0}c\u{7}\n\n\n\n d\t\n\n"),
            "  a\nb c\n\n d"
        );
    }
}
