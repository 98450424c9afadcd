//! Microsoft's quickXorHash, from its documented algorithm: every byte is XORed into a
//! circular 160-bit register, each byte 11 bits further along than the one before; at the end
//! the length (64-bit little-endian) is XORed into the last 8 bytes, and the 20 bytes are
//! given in base64.

use base64::Engine as _;

const WIDTH_BITS: usize = 160;
const SHIFT: usize = 11;

/// quickXorHash of `data`, base64 as Graph reports it.
pub fn quick_xor_hash(data: &[u8]) -> String {
    let mut register = [0u8; WIDTH_BITS / 8];
    for (i, &b) in data.iter().enumerate() {
        let bit = (i * SHIFT) % WIDTH_BITS;
        let (byte, offset) = (bit / 8, bit % 8);
        // Bit k of the register is bit k%8 of byte k/8, so a byte straddles two register bytes.
        register[byte] ^= b << offset;
        if offset > 0 {
            register[(byte + 1) % register.len()] ^= b >> (8 - offset);
        }
    }
    let len = (data.len() as u64).to_le_bytes();
    let n = register.len();
    for (i, b) in len.iter().enumerate() {
        register[n - 8 + i] ^= b;
    }
    base64::engine::general_purpose::STANDARD.encode(register)
}
