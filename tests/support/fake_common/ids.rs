//! Opaque strings for ids and tokens that look like a provider's and repeat from run to run.

use sha2::Digest as _;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `len` characters of base64url alphabet, unique for (`kind`, `n`). Deterministic so two runs
/// of a test (and a recorded cassette) see the same ids.
pub fn opaque(kind: &str, n: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut round = 0u32;
    while out.len() < len {
        let h = sha2::Sha256::digest(format!("{kind}:{n}:{round}").as_bytes());
        out.extend(h.iter().map(|b| ALPHABET[(b & 63) as usize] as char));
        round += 1;
    }
    out.truncate(len);
    out
}
