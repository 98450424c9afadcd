//! The lossless name encoding of the contract (host side; the SDK's `names` module is the
//! guest side, and the two must agree byte for byte).
//!
//! Entry names, paths and ids are WIT `string`s, but a name on a Unix disk is any bytes except
//! `/` and NUL: Latin-1 names from old archives are not valid UTF-8. Such a name travels
//! encoded, after rclone's `InvalidUtf8` encoding:
//!
//! * every byte that is not part of valid UTF-8 becomes `‛` (U+201B) and the byte as two
//!   upper-case hex digits: `caf\xE9.txt` is `caf‛E9.txt`;
//! * `/` and NUL (which no single name may hold) become `‛2F` and `‛00`, so an encoded name is
//!   always one path segment;
//! * the quote itself is doubled: `‛` is `‛‛`;
//! * everything else (all valid UTF-8 without the quote) is itself, so ordinary names are
//!   unchanged.
//!
//! Decoding is strict: it accepts exactly what [`encode`] produces (decode then encode must
//! give the input back). So every byte string has one encoding and every accepted encoding
//! one byte string; `‛2E‛2E` cannot sneak in a `..`, nor `‛41` a second spelling of `A`.

/// The quote character: SINGLE HIGH-REVERSED-9 QUOTATION MARK, as rclone uses.
pub const QUOTE: char = '\u{201B}';

/// A string that is not the encoding of any name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a name in the p8sync name encoding (a `‛` must be followed by `‛` or two upper-case hex digits of a byte that needs it)"
)]
pub struct NameError(pub String);

/// The encoding of a name given as raw bytes.
pub fn encode(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                QUOTE => {
                    out.push(QUOTE);
                    out.push(QUOTE);
                }
                '/' | '\0' => push_byte(&mut out, c as u8),
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            push_byte(&mut out, b);
        }
    }
    out
}

fn push_byte(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(QUOTE);
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0xF)] as char);
}

/// The raw bytes of an encoded name; an error for anything [`encode`] would not produce.
pub fn decode(name: &str) -> Result<Vec<u8>, NameError> {
    let bad = || NameError(name.to_string());
    if !name.contains([QUOTE, '/', '\0']) {
        // Nothing escaped and nothing that should have been: the common case.
        return Ok(name.as_bytes().to_vec());
    }
    let mut out = Vec::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != QUOTE {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some(QUOTE) => out.extend_from_slice("\u{201B}".as_bytes()),
            Some(hi) => {
                let lo = chars.next().ok_or_else(bad)?;
                out.push((hex_digit(hi).ok_or_else(bad)? << 4) | hex_digit(lo).ok_or_else(bad)?);
            }
            None => return Err(bad()),
        }
    }
    // Only the canonical spelling is accepted.
    if encode(&out) != name {
        return Err(bad());
    }
    Ok(out)
}

fn hex_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        'A'..='F' => Some(c as u8 - b'A' + 10),
        _ => None,
    }
}

/// A name for people to read: the decoded bytes, with anything that is not UTF-8 shown as �.
pub fn display(name: &str) -> String {
    match decode(name) {
        Ok(raw) => String::from_utf8_lossy(&raw).into_owned(),
        Err(_) => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_names() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain.txt", "plain.txt"),
            (b"caf\xE9.txt", "caf‛E9.txt"),
            (b"back\\slash.txt", "back\\slash.txt"),
            (" lead\ttab\nnewline ".as_bytes(), " lead\ttab\nnewline "),
            ("‛".as_bytes(), "‛‛"),
            ("a‛E9".as_bytes(), "a‛‛E9"),
            (b"a/b", "a‛2Fb"),
            (b"nul\0", "nul‛00"),
            (b"\xFF\xFE", "‛FF‛FE"),
            // A truncated multi-byte sequence, then ASCII.
            (b"\xE2\x82A", "‛E2‛82A"),
            ("日本語 ✓".as_bytes(), "日本語 ✓"),
            (b"..", ".."),
            (b"", ""),
        ];
        for (raw, encoded) in cases {
            assert_eq!(encode(raw), *encoded, "{raw:?}");
            assert_eq!(decode(encoded).unwrap(), *raw, "{encoded}");
        }
    }

    #[test]
    fn only_the_canonical_spelling_decodes() {
        for bad in [
            "‛",
            "a‛",
            "‛E",
            "‛e9",
            "‛G0",
            "‛41",       // `A` is never escaped
            "‛2E‛2E",    // nor `.`
            "‛C3‛A9",    // valid UTF-8 (é) is never escaped
            "‛E2‛80‛9B", // the quote is spelled ‛‛
            "‛‛‛",
            "a/b", // `/` and NUL are always escaped
            "nul\0",
        ] {
            assert!(decode(bad).is_err(), "{bad} decoded");
        }
    }

    #[test]
    fn display_shows_what_it_can() {
        assert_eq!(display("caf‛E9.txt"), "caf\u{FFFD}.txt");
        assert_eq!(display("a‛‛b"), "a‛b");
        assert_eq!(display("‛zz"), "‛zz");
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let encoded = encode(&raw);
            prop_assert_eq!(decode(&encoded).unwrap(), raw);
        }

        #[test]
        fn the_encoding_is_one_segment(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let encoded = encode(&raw);
            // A `String`, so valid UTF-8 by construction; and never a separator or NUL.
            prop_assert!(std::str::from_utf8(encoded.as_bytes()).is_ok());
            prop_assert!(!encoded.contains('/') && !encoded.contains('\0'));
        }

        #[test]
        fn utf8_names_without_the_quote_pass_through(name in "[^/\u{0}\u{201B}]{0,100}") {
            prop_assert_eq!(encode(name.as_bytes()), name.clone());
            prop_assert_eq!(decode(&name).unwrap(), name.into_bytes());
        }

        #[test]
        fn mostly_utf8_names_round_trip(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[a-zé‛ ./\\\\\n]{0,5}".prop_map(String::into_bytes),
                    proptest::collection::vec(0x80u8..=0xFF, 1..3),
                ],
                0..8,
            )
        ) {
            let raw: Vec<u8> = parts.concat();
            let encoded = encode(&raw);
            prop_assert_eq!(decode(&encoded).unwrap(), raw);
        }

        #[test]
        fn the_guest_half_agrees(raw in proptest::collection::vec(any::<u8>(), 0..200), s in "[a‛0-9A-Fe/]{0,12}") {
            use p8sync_provider_sdk::names as guest;
            prop_assert_eq!(guest::encode(&raw), encode(&raw));
            prop_assert_eq!(guest::decode(&s), decode(&s).ok());
            prop_assert_eq!(guest::decode(&encode(&raw)), Some(raw));
        }

        #[test]
        fn anything_that_decodes_encodes_back(s in "[a‛0-9A-Fe/]{0,12}") {
            if let Ok(raw) = decode(&s) {
                prop_assert_eq!(encode(&raw), s);
            }
        }
    }
}
