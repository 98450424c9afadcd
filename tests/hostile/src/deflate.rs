//! DEFLATE streams of repeated data, written by hand: one fixed-Huffman block holding the
//! prefix and one copy of the unit as literals, then back-references of 258 bytes at the unit's
//! distance, then the suffix. About 13 bits per 258 bytes of output.

/// Data made of a prefix, a unit repeated to `total` bytes, and a suffix.
#[derive(Debug, Clone, Copy)]
pub struct Repeat<'a> {
    /// Bytes before the repeated part.
    pub prefix: &'a [u8],
    /// What is repeated (1 to 32,768 bytes).
    pub unit: &'a [u8],
    /// Length of the repeated part (it ends part-way through a unit if need be).
    pub total: u64,
    /// Bytes after the repeated part.
    pub suffix: &'a [u8],
}

impl Repeat<'_> {
    /// The whole length once inflated.
    pub fn len(&self) -> u64 {
        self.prefix.len() as u64 + self.total + self.suffix.len() as u64
    }

    /// Whether it inflates to nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn new() -> Self {
        Bits {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    /// `count` bits of `value`, least significant first (extra bits, headers).
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code of `count` bits, most significant first.
    fn code(&mut self, code: u32, count: u32) {
        let reversed = code.reverse_bits() >> (32 - count);
        self.put(reversed, count);
    }

    fn literal(&mut self, byte: u8) {
        match byte {
            0..=143 => self.code(0x30 + u32::from(byte), 8),
            _ => self.code(0x190 + u32::from(byte) - 144, 9),
        }
    }

    fn symbol(&mut self, symbol: u32) {
        match symbol {
            256..=279 => self.code(symbol - 256, 7),
            _ => self.code(0xC0 + symbol - 280, 8),
        }
    }

    /// A back-reference of `len` (3..=258) bytes at `dist` (1..=32,768).
    fn copy(&mut self, len: u32, dist: u32) {
        const LEN_BASE: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
            115, 131, 163, 195, 227, 258,
        ];
        const LEN_EXTRA: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DIST_BASE: [u32; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        const DIST_EXTRA: [u32; 30] = [
            0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
            12, 13, 13,
        ];
        let l = LEN_BASE.iter().rposition(|&b| b <= len).expect("len >= 3");
        self.symbol(257 + l as u32);
        self.put(len - LEN_BASE[l], LEN_EXTRA[l]);
        let d = DIST_BASE
            .iter()
            .rposition(|&b| b <= dist)
            .expect("dist >= 1");
        self.code(d as u32, 5);
        self.put(dist - DIST_BASE[d], DIST_EXTRA[d]);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A raw DEFLATE stream (RFC 1951) of `data`.
pub fn raw_deflate_repeat(data: &Repeat<'_>) -> Vec<u8> {
    assert!(
        !data.unit.is_empty() && data.unit.len() <= 32_768,
        "the unit is 1 to 32,768 bytes"
    );
    let mut bits = Bits::new();
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman codes
    data.prefix.iter().for_each(|&b| bits.literal(b));
    let first = (data.unit.len() as u64).min(data.total) as usize;
    data.unit[..first].iter().for_each(|&b| bits.literal(b));
    let dist = data.unit.len() as u32;
    let mut left = data.total - first as u64;
    while left > 0 {
        if left >= 3 {
            let len = left.min(258) as u32;
            bits.copy(len, dist);
            left -= u64::from(len);
        } else {
            // Fewer than three bytes: literals, continuing the unit where the copies stopped.
            let at = ((data.total - left) % data.unit.len() as u64) as usize;
            bits.literal(data.unit[at]);
            left -= 1;
        }
    }
    data.suffix.iter().for_each(|&b| bits.literal(b));
    bits.symbol(256);
    bits.finish()
}

/// A zlib stream (RFC 1950) of `count` copies of `byte`, with its true Adler-32.
pub fn zlib_repeat_byte(byte: u8, count: u64) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    out.extend(raw_deflate_repeat(&Repeat {
        prefix: &[],
        unit: &[byte],
        total: count,
        suffix: &[],
    }));
    // Adler-32 of n equal bytes c: A = 1 + n*c, B = n + c*n(n+1)/2, both mod 65521.
    const P: u128 = 65_521;
    let (n, c) = (u128::from(count), u128::from(byte));
    let a = (1 + n * c) % P;
    let b = (n + c * (n * (n + 1) / 2 % P)) % P;
    out.extend_from_slice(&((b << 16 | a) as u32).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::inflate::{decompress_to_vec, decompress_to_vec_zlib};

    #[test]
    fn inflates_to_the_repeat() {
        for (unit, total) in [
            (&b"a"[..], 0u64),
            (b"a", 1),
            (b"a", 2),
            (b"a", 1000),
            (b"<w:p>keeper</w:p>", 5000),
            (b"<w:p>keeper</w:p>", 17 * 300 + 2),
            (&[0xFFu8, 0x90, 0x00][..], 777),
        ] {
            let r = Repeat {
                prefix: b"<head>\xc3\xa9",
                unit,
                total,
                suffix: b"</tail>",
            };
            let inflated = decompress_to_vec(&raw_deflate_repeat(&r)).expect("inflates");
            let mut expected = r.prefix.to_vec();
            expected.extend(unit.iter().cycle().take(total as usize));
            expected.extend_from_slice(r.suffix);
            assert_eq!(inflated, expected, "unit {unit:?} x {total}");
        }
    }

    #[test]
    fn zlib_checksum_is_true() {
        for n in [0u64, 1, 5552, 100_000] {
            let inflated = decompress_to_vec_zlib(&zlib_repeat_byte(b' ', n)).expect("inflates");
            assert_eq!(inflated, vec![b' '; n as usize]);
        }
    }
}
