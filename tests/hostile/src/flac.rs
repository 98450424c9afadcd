//! FLAC of digital silence, written by hand: every frame is one CONSTANT subframe of zero, so
//! ten hours at 16 kHz cost about 2 MB.

/// Samples per frame.
const BLOCK: u64 = 4096;

fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut crc, &b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, &b| {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// FLAC's UTF-8-like coding of a frame number.
fn coded_number(n: u64) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    // With k continuation bytes the lead byte keeps 6 - k bits of the value.
    let mut conts = 1;
    while n >= 1u64 << (6 * conts + (6 - conts)) {
        conts += 1;
    }
    let mut bytes = vec![0u8; conts + 1];
    let mut rest = n;
    for byte in bytes[1..].iter_mut().rev() {
        *byte = 0x80 | (rest & 0x3F) as u8;
        rest >>= 6;
    }
    bytes[0] = !(0xFFu8 >> (conts + 1)) | rest as u8;
    bytes
}

/// Mono 16-bit FLAC at `rate` Hz (16,000, 44,100 or 48,000) holding `seconds` of zeros.
pub fn silent_flac(rate: u32, seconds: u64) -> Vec<u8> {
    let rate_code: u8 = match rate {
        16_000 => 0b0101,
        44_100 => 0b1001,
        48_000 => 0b1010,
        other => panic!("no FLAC rate code for {other} Hz here"),
    };
    let samples = u64::from(rate) * seconds;
    let frames = samples.div_ceil(BLOCK);
    let mut out = b"fLaC".to_vec();
    out.extend_from_slice(&[0x80, 0, 0, 34]); // last metadata block, STREAMINFO, 34 bytes
    out.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    out.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    out.extend_from_slice(&[0; 6]); // frame sizes unknown
    // rate (20 bits), channels - 1 (3), bits - 1 (5), total samples (36)
    let packed: u64 = (u64::from(rate) << 44) | (15 << 36) | (samples & 0xF_FFFF_FFFF);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5 unknown
    for n in 0..frames {
        let block = (samples - n * BLOCK).min(BLOCK);
        let mut frame = vec![0xFF, 0xF8];
        let size_code: u8 = if block == BLOCK { 0b1100 } else { 0b0111 };
        frame.push(size_code << 4 | rate_code);
        frame.push(0b0000_1000); // mono, 16 bits
        frame.extend(coded_number(n));
        if size_code == 0b0111 {
            frame.extend_from_slice(&((block - 1) as u16).to_be_bytes());
        }
        frame.push(crc8(&frame));
        frame.extend_from_slice(&[0x00, 0x00, 0x00]); // CONSTANT subframe, value 0
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_numbers_are_coded_like_utf8() {
        for n in [0u64, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x1_0000, 140_624] {
            let expected = char::from_u32(n as u32)
                .map(|c| c.to_string().into_bytes())
                .unwrap_or_else(|| coded_number(n));
            assert_eq!(coded_number(n), expected, "{n:#x}");
        }
    }

    #[test]
    fn ten_hours_fit_in_two_megabytes() {
        let flac = silent_flac(16_000, 10 * 3600);
        assert!(flac.len() < 2_100_000, "{}", flac.len());
        assert_eq!(&flac[..4], b"fLaC");
    }

    #[test]
    fn crcs_match_check_values() {
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }
}
