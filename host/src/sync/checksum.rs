//! Checksums computed while a file streams into the object store, and checked against the ones
//! its provider reported. The host computes every algorithm it can verify itself, so a provider
//! (which never sees the bytes) can't vouch for content it did not describe truthfully.

use crate::runtime::types::{Checksum, ChecksumAlgorithm};
use base64::Engine;
use sha2::{Digest, Sha256};

/// A provider's checksum that the bytes do not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The algorithm, as `SyncFile` names it (`md5`, `dropbox`, ...).
    pub algorithm: &'static str,
    /// What the provider reported.
    pub expected: String,
    /// What the bytes hash to.
    pub actual: String,
}

/// Every hash a transfer needs: SHA-256 always (it is what `SyncFile` records), the others
/// only when the provider reported them, since each one costs a pass over the bytes.
pub struct Hashers {
    sha256: Sha256,
    md5: Option<md5::Context>,
    sha1: Option<sha1::Sha1>,
    dropbox: Option<DropboxContentHash>,
    quick_xor: Option<QuickXorHash>,
}

/// The finished digests, each in the encoding its provider reports it in.
pub struct Digests {
    /// SHA-256, lower-case hex.
    pub sha256: String,
    md5: Option<String>,
    sha1: Option<String>,
    dropbox: Option<String>,
    quick_xor: Option<String>,
}

impl Hashers {
    /// Hashers for the algorithms among `reported` that the host can verify.
    pub fn for_checksums(reported: &[Checksum]) -> Self {
        let wants = |f: fn(&ChecksumAlgorithm) -> bool| reported.iter().any(|c| f(&c.algorithm));
        Hashers {
            sha256: Sha256::new(),
            md5: wants(|a| matches!(a, ChecksumAlgorithm::Md5)).then(md5::Context::new),
            sha1: wants(|a| matches!(a, ChecksumAlgorithm::Sha1)).then(sha1::Sha1::new),
            dropbox: wants(|a| matches!(a, ChecksumAlgorithm::DropboxContentHash))
                .then(DropboxContentHash::default),
            quick_xor: wants(|a| matches!(a, ChecksumAlgorithm::QuickXorHash))
                .then(QuickXorHash::default),
        }
    }

    /// Feed the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(h) = &mut self.md5 {
            h.consume(bytes);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.dropbox {
            h.update(bytes);
        }
        if let Some(h) = &mut self.quick_xor {
            h.update(bytes);
        }
    }

    /// The digests of everything fed.
    pub fn finish(self) -> Digests {
        Digests {
            sha256: hex::encode(self.sha256.finalize()),
            md5: self.md5.map(|h| hex::encode(h.finalize().0)),
            sha1: self.sha1.map(|h| hex::encode(h.finalize())),
            dropbox: self.dropbox.map(DropboxContentHash::finish),
            quick_xor: self.quick_xor.map(QuickXorHash::finish),
        }
    }
}

impl Digests {
    /// The first reported checksum the bytes do not match. Algorithms the host can't compute
    /// (`other`) are recorded elsewhere but not judged here.
    pub fn verify(&self, reported: &[Checksum]) -> Result<(), Mismatch> {
        for c in reported {
            let expected = c.value.trim();
            // Hex digests compare case-insensitively; base64 is case-sensitive.
            let (algorithm, actual, base64) = match &c.algorithm {
                ChecksumAlgorithm::Sha256 => ("sha256", Some(&self.sha256), false),
                ChecksumAlgorithm::Md5 => ("md5", self.md5.as_ref(), false),
                ChecksumAlgorithm::Sha1 => ("sha1", self.sha1.as_ref(), false),
                ChecksumAlgorithm::DropboxContentHash => ("dropbox", self.dropbox.as_ref(), false),
                ChecksumAlgorithm::QuickXorHash => ("quickxor", self.quick_xor.as_ref(), true),
                ChecksumAlgorithm::Other(_) => continue,
            };
            let same = |a: &str| {
                if base64 {
                    a == expected
                } else {
                    a.eq_ignore_ascii_case(expected)
                }
            };
            if let Some(actual) = actual
                && !same(actual)
            {
                return Err(Mismatch {
                    algorithm,
                    expected: expected.to_string(),
                    actual: actual.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Dropbox's `content_hash`: the SHA-256 of the concatenated SHA-256 digests of each 4 MiB
/// block, lower-case hex.
#[derive(Default)]
pub struct DropboxContentHash {
    overall: Sha256,
    block: Sha256,
    in_block: usize,
}

impl DropboxContentHash {
    /// Dropbox's block size.
    const BLOCK: usize = 4 * 1024 * 1024;

    /// Feed the next bytes.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (Self::BLOCK - self.in_block).min(bytes.len());
            self.block.update(&bytes[..take]);
            self.in_block += take;
            bytes = &bytes[take..];
            if self.in_block == Self::BLOCK {
                let block = std::mem::take(&mut self.block).finalize();
                self.overall.update(block);
                self.in_block = 0;
            }
        }
    }

    /// The hash, lower-case hex.
    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            self.overall.update(self.block.finalize());
        }
        hex::encode(self.overall.finalize())
    }
}

/// Microsoft's `quickXorHash`: each byte is XORed into a circular 160-bit register at bit
/// `11 * index mod 160`, and the length (64-bit little-endian) into the register's last 8
/// bytes; base64 of the register's 20 little-endian bytes.
#[derive(Default)]
pub struct QuickXorHash {
    register: [u8; 20],
    /// Where the next byte goes, in bits.
    shift: usize,
    length: u64,
}

impl QuickXorHash {
    const WIDTH: usize = 160;
    const SHIFT: usize = 11;

    /// Feed the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let (at, bit) = (self.shift / 8, self.shift % 8);
            let spread = u16::from(b) << bit;
            self.register[at] ^= spread as u8;
            // Bits past the register's end wrap round to its start.
            self.register[(at + 1) % self.register.len()] ^= (spread >> 8) as u8;
            self.shift = (self.shift + Self::SHIFT) % Self::WIDTH;
        }
        self.length += bytes.len() as u64;
    }

    /// The hash, base64 as Graph reports it.
    pub fn finish(mut self) -> String {
        for (r, l) in self.register[12..]
            .iter_mut()
            .zip(self.length.to_le_bytes())
        {
            *r ^= l;
        }
        base64::engine::general_purpose::STANDARD.encode(self.register)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    fn quick_xor(bytes: &[u8], chunk: usize) -> String {
        let mut h = QuickXorHash::default();
        for c in bytes.chunks(chunk.max(1)) {
            h.update(c);
        }
        h.finish()
    }

    /// Published vectors (input, hash) from rclone's OneDrive backend tests.
    const QUICK_XOR_VECTORS: &[(&str, &str)] = &[
        ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
        ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
        ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
        (
            "T6LYJIfDh81JrAK309H2JMJTXis=",
            "zBTHrspn3mEcohlJdIUAbjGNaNg=",
        ),
        (
            "jyibxJSzO6ZiZ0O1qe3tG/bvIAYssvukh9suIT5wEy1JBINVgPiqdsTW0cOpP0aUfP7mgqLfADkzI/m/GgCuVhr8oFLrOCoTx1/psBOWwhltCbhUx51Icm9aH8tY4Z3ccU+6BKpYQkLCy0B/A9Zc",
            "hZfLIilSITC6N3e3tQ/iSgEzkto=",
        ),
    ];

    #[test]
    fn quick_xor_matches_published_vectors_however_the_bytes_are_split() {
        for (input, expected) in QUICK_XOR_VECTORS {
            let bytes = b64(input);
            for chunk in [1, 3, 7, 20, 160, 1000] {
                assert_eq!(
                    &quick_xor(&bytes, chunk),
                    expected,
                    "input {input}, chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn quick_xor_wraps_past_one_register_width() {
        // 161 bytes put byte 160 back at bit 0: the same as XORing it into byte 0's place.
        let mut bytes = vec![0u8; 161];
        bytes[0] = 0x5a;
        bytes[160] = 0x5a;
        let mut register = [0u8; 20];
        for (r, l) in register[12..].iter_mut().zip(161u64.to_le_bytes()) {
            *r ^= l;
        }
        let expected = base64::engine::general_purpose::STANDARD.encode(register);
        assert_eq!(quick_xor(&bytes, 17), expected);
    }

    fn dropbox_by_definition(bytes: &[u8]) -> String {
        let mut overall = Sha256::new();
        for block in bytes.chunks(DropboxContentHash::BLOCK) {
            overall.update(Sha256::digest(block));
        }
        hex::encode(overall.finalize())
    }

    #[test]
    fn dropbox_hash_is_blockwise_across_chunk_boundaries() {
        let block = DropboxContentHash::BLOCK;
        for len in [0, 1, block - 1, block, block + 1, 2 * block + 12345] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut h = DropboxContentHash::default();
            for c in bytes.chunks(65_537) {
                h.update(c);
            }
            assert_eq!(h.finish(), dropbox_by_definition(&bytes), "length {len}");
        }
        // A file under one block is the SHA-256 of its SHA-256.
        let mut h = DropboxContentHash::default();
        h.update(b"hello");
        assert_eq!(
            h.finish(),
            hex::encode(Sha256::digest(Sha256::digest(b"hello")))
        );
    }

    fn checksum(algorithm: ChecksumAlgorithm, value: &str) -> Checksum {
        Checksum {
            algorithm,
            value: value.into(),
        }
    }

    #[test]
    fn verify_judges_every_reported_algorithm_it_can_compute() {
        let bytes = b"hello";
        let reported = vec![
            checksum(ChecksumAlgorithm::Md5, "5D41402ABC4B2A76B9719D911017C592"),
            checksum(
                ChecksumAlgorithm::DropboxContentHash,
                &dropbox_by_definition(bytes),
            ),
            checksum(ChecksumAlgorithm::QuickXorHash, &quick_xor(bytes, 5)),
            checksum(ChecksumAlgorithm::Other("crc32".into()), "whatever"),
        ];
        let mut h = Hashers::for_checksums(&reported);
        h.update(bytes);
        let digests = h.finish();
        assert_eq!(digests.verify(&reported), Ok(()));

        let lying = vec![checksum(
            ChecksumAlgorithm::QuickXorHash,
            &quick_xor(b"hellO", 5),
        )];
        let mut h = Hashers::for_checksums(&lying);
        h.update(bytes);
        let err = h.finish().verify(&lying).unwrap_err();
        assert_eq!(err.algorithm, "quickxor");
        assert_eq!(err.actual, quick_xor(bytes, 5));
    }
}
