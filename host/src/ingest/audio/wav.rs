//! The canonical 44-byte WAV header for 16-bit PCM.

/// Length of the header written by [`header`].
pub(super) const HEADER_LEN: usize = 44;

/// RIFF/WAVE header for `frames` frames of 16-bit little-endian PCM.
///
/// Sizes saturate at `u32::MAX` rather than wrap: a chunk is at most minutes long, so this only
/// matters for callers asking for absurd ranges, and a saturated header is still parseable.
pub(super) fn header(sample_rate: u32, channels: u16, frames: u64) -> [u8; HEADER_LEN] {
    let block_align = u32::from(channels) * 2;
    let data_len = u32::try_from(frames.saturating_mul(u64::from(block_align))).unwrap_or(u32::MAX);
    let riff_len = data_len.saturating_add(36);
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff_len.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * block_align).to_le_bytes());
    h[32..34].copy_from_slice(&(block_align as u16).to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Float sample in [-1, 1] to 16-bit PCM, clipping rather than wrapping.
#[cfg(test)]
pub(super) fn to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let h = header(16_000, 1, 100);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 236);
        assert_eq!(u32::from_le_bytes(h[24..28].try_into().unwrap()), 16_000);
        assert_eq!(u32::from_le_bytes(h[28..32].try_into().unwrap()), 32_000);
        assert_eq!(u32::from_le_bytes(h[40..44].try_into().unwrap()), 200);
    }

    #[test]
    fn clipping() {
        assert_eq!(to_i16(2.0), 32767);
        assert_eq!(to_i16(-2.0), -32768);
        assert_eq!(to_i16(0.0), 0);
    }
}
