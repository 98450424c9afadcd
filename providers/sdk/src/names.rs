//! The contract's lossless name encoding (guest side; the host's `runtime::names` is the other
//! half, and the two agree byte for byte).
//!
//! A file name on a disk is any bytes except `/` and NUL, but entry names, paths and ids are
//! strings. A name that is valid UTF-8 and holds no `‛` (U+201B) is itself. Otherwise each byte
//! that is not part of valid UTF-8, and any `/` or NUL, is `‛` plus the byte as two upper-case
//! hex digits (`caf\xE9.txt` is `caf‛E9.txt`), and `‛` itself is `‛‛`. Decoding accepts only
//! that one spelling, so every name has exactly one encoding.
//!
//! The host's `read-root-dir` already gives names encoded, and decodes `local-file` paths, so a
//! local-root provider mostly passes names through. It needs this module to check a path
//! ([`is_encoded`]), to show a name to people ([`display`]), or to encode a name it got some other
//! way ([`encode_str`] for a `wasi:filesystem` name).

/// The quote character: SINGLE HIGH-REVERSED-9 QUOTATION MARK, as rclone uses.
pub const QUOTE: char = '\u{201B}';

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
                '/' | '\0' => escape(&mut out, c as u8),
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            escape(&mut out, b);
        }
    }
    out
}

/// The encoding of a name that is already valid UTF-8 (only `‛`, `/` and NUL change).
pub fn encode_str(name: &str) -> String {
    encode(name.as_bytes())
}

fn escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(QUOTE);
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xF)]));
}

/// The raw bytes of an encoded name, or `None` when `name` is not one [`encode`] produces.
pub fn decode(name: &str) -> Option<Vec<u8>> {
    if !name.contains([QUOTE, '/', '\0']) {
        return Some(name.as_bytes().to_vec());
    }
    let mut out = Vec::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != QUOTE {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next()? {
            QUOTE => out.extend_from_slice("\u{201B}".as_bytes()),
            hi => {
                let lo = chars.next()?;
                out.push((hex(hi)? << 4) | hex(lo)?);
            }
        }
    }
    (encode(&out) == name).then_some(out)
}

fn hex(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        'A'..='F' => Some(c as u8 - b'A' + 10),
        _ => None,
    }
}

/// Whether `name` is a name in the encoding (its one spelling).
pub fn is_encoded(name: &str) -> bool {
    decode(name).is_some()
}

/// An encoded name or path for people to read: bytes that are not UTF-8 shown as `�`, a
/// doubled quote as one. A string that is not in the encoding is shown as it is.
pub fn display(encoded: &str) -> String {
    encoded
        .split('/')
        .map(|name| match decode(name) {
            Some(raw) => String::from_utf8_lossy(&raw).into_owned(),
            None => name.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
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
            (b"\xE2\x82A", "‛E2‛82A"),
            ("日本語 ✓".as_bytes(), "日本語 ✓"),
            (b"..", ".."),
        ];
        for (raw, encoded) in cases {
            assert_eq!(encode(raw), *encoded, "{raw:?}");
            assert_eq!(decode(encoded).as_deref(), Some(*raw), "{encoded}");
        }
        for bad in [
            "‛",
            "‛E",
            "‛e9",
            "‛41",
            "‛2E‛2E",
            "‛C3‛A9",
            "‛E2‛80‛9B",
            "a/b",
            "\0",
        ] {
            assert!(!is_encoded(bad), "{bad}");
        }
        assert_eq!(display("dir/caf‛E9.txt"), "dir/caf\u{FFFD}.txt");
        assert_eq!(display("a‛‛b"), "a‛b");
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let encoded = encode(&raw);
            prop_assert!(!encoded.contains('/') && !encoded.contains('\0'));
            prop_assert_eq!(decode(&encoded), Some(raw));
        }

        #[test]
        fn utf8_names_without_the_quote_pass_through(name in "[^/\u{0}\u{201B}]{0,100}") {
            prop_assert_eq!(encode_str(&name), name.clone());
        }

        #[test]
        fn anything_that_decodes_encodes_back(s in "[a‛0-9A-Fe/]{0,12}") {
            if let Some(raw) = decode(&s) {
                prop_assert_eq!(encode(&raw), s);
            }
        }
    }
}
