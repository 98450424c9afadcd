//! A minimal zip writer (stored and deflated entries), so a bomb's headers can say what we
//! like and its data can come from a hand-made DEFLATE stream.

use crate::deflate::{Repeat, raw_deflate_repeat};

/// Repeats up to this long get a true CRC-32; longer ones (bombs no sane reader finishes)
/// carry 0, which a reader only notices after inflating all of it.
const CRC_LIMIT: u64 = 64 << 20;

/// One file in a zip.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its path in the archive.
    pub name: String,
    /// The bytes as stored (compressed when `deflated`).
    pub data: Vec<u8>,
    /// Whether `data` is a raw DEFLATE stream.
    pub deflated: bool,
    /// CRC-32 of the inflated bytes.
    pub crc: u32,
    /// The inflated size.
    pub size: u64,
    /// What the headers claim the inflated size is, when it should lie.
    pub claimed_size: Option<u32>,
}

impl Entry {
    /// Stored as is.
    pub fn stored(name: &str, bytes: &[u8]) -> Self {
        Entry {
            name: name.into(),
            data: bytes.to_vec(),
            deflated: false,
            crc: crc32(0, bytes),
            size: bytes.len() as u64,
            claimed_size: None,
        }
    }

    /// Compressed with miniz.
    pub fn deflated(name: &str, bytes: &[u8]) -> Self {
        Entry {
            name: name.into(),
            data: miniz_oxide::deflate::compress_to_vec(bytes, 6),
            deflated: true,
            crc: crc32(0, bytes),
            size: bytes.len() as u64,
            claimed_size: None,
        }
    }

    /// A repeat, as a hand-made DEFLATE stream.
    pub fn deflated_repeat(name: &str, repeat: &Repeat<'_>) -> Self {
        let crc = if repeat.len() <= CRC_LIMIT {
            let mut crc = crc32(0, repeat.prefix);
            let mut left = repeat.total as usize;
            while left > 0 {
                let n = left.min(repeat.unit.len());
                crc = crc32(crc, &repeat.unit[..n]);
                left -= n;
            }
            crc32(crc, repeat.suffix)
        } else {
            0
        };
        Entry {
            name: name.into(),
            data: raw_deflate_repeat(repeat),
            deflated: true,
            crc,
            size: repeat.len(),
            claimed_size: None,
        }
    }
}

/// CRC-32 (IEEE) of `bytes`, continuing from `crc`.
fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut c = !crc;
    for &b in bytes {
        c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// A zip archive of `entries`.
pub fn zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let size = e
            .claimed_size
            .unwrap_or(u32::try_from(e.size).unwrap_or(u32::MAX));
        let method: u16 = if e.deflated { 8 } else { 0 };
        let mut fields = Vec::new();
        fields.extend_from_slice(&20u16.to_le_bytes()); // version needed
        fields.extend_from_slice(&0u16.to_le_bytes()); // flags
        fields.extend_from_slice(&method.to_le_bytes());
        fields.extend_from_slice(&0u16.to_le_bytes()); // time
        fields.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        fields.extend_from_slice(&e.crc.to_le_bytes());
        fields.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        fields.extend_from_slice(&size.to_le_bytes());
        fields.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        fields.extend_from_slice(&0u16.to_le_bytes()); // extra length

        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&fields);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&fields);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(crc32(0, b"1234"), b"56789"), 0xCBF4_3926);
    }
}
