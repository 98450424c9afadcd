//! Synthetic speech-like audio for tests.

use std::path::Path;

/// Deterministic xorshift noise in [-1, 1].
pub(crate) struct Noise(u64);

impl Noise {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Mono signal of `secs` seconds at `rate`: speech-like sound (harmonics of a gliding ~140 Hz
/// pitch, amplitude-modulated at a syllable rate of 5 Hz) inside each `(start, end)` of
/// `speech`, low noise (-60 dBFS) elsewhere.
pub(crate) fn speech_like(rate: u32, secs: f64, speech: &[(f64, f64)], seed: u64) -> Vec<f32> {
    let mut noise = Noise::new(seed);
    let n = (secs * f64::from(rate)).round() as usize;
    let tau = 2.0 * std::f64::consts::PI;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 140.0 + 25.0 * (tau * 0.7 * t).sin();
            phase += tau * f0 / f64::from(rate);
            let mut x = noise.next() as f64 * 0.001;
            if speech.iter().any(|&(s, e)| t >= s && t < e) {
                let env = 0.55 - 0.45 * (tau * 5.0 * t).cos();
                let voiced: f64 = (1..=8).map(|h| (phase * h as f64).sin() / h as f64).sum();
                x += 0.25 * env * voiced + 0.01 * noise.next() as f64;
            }
            x as f32
        })
        .collect()
}

/// Write interleaved float samples as a 16-bit PCM WAV.
pub(crate) fn write_wav(path: &Path, rate: u32, channels: u16, interleaved: &[f32]) {
    let frames = (interleaved.len() / usize::from(channels)) as u64;
    let mut bytes = super::wav::header(rate, channels, frames).to_vec();
    for &x in interleaved {
        bytes.extend_from_slice(&super::wav::to_i16(x).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// Parse a canonical 16-bit PCM WAV: (rate, channels, bits, samples).
pub(crate) fn parse_wav(bytes: &[u8]) -> (u32, u16, u16, Vec<i16>) {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(&bytes[12..16], b"fmt ");
    assert_eq!(&bytes[36..40], b"data");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(u16_at(20), 1, "PCM");
    let data_len = u32_at(40) as usize;
    assert_eq!(u32_at(4) as usize, data_len + 36);
    assert_eq!(bytes.len(), 44 + data_len);
    let samples = bytes[44..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (u32_at(24), u16_at(22), u16_at(34), samples)
}
