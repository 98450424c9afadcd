//! The `audio` extractor's decoder, natively: the host's decoding tests (fixtures in every
//! codec, stereo 44.1 kHz to 16 kHz mono, non-audio, truncation, corruption), plus hostile
//! files (a WAV header claiming 2^32 samples, truncated MP3s) and the duration cap.

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use p8sync_extractor_audio::{Audio, decode_audio, to_i16};
use p8sync_extractor_sdk::{Collector, Extract, ExtractError, Input, Limits, Request, Summary};

/// Deterministic xorshift noise in [-1, 1].
struct Noise(u64);

impl Noise {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Mono signal of `secs` seconds at `rate`: speech-like sound inside each `(start, end)` of
/// `speech`, low noise elsewhere (the host's test generator).
fn speech_like(rate: u32, secs: f64, speech: &[(f64, f64)], seed: u64) -> Vec<f32> {
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

/// RIFF/WAVE header for 16-bit PCM claiming `data_len` bytes of samples.
fn wav_header(rate: u32, channels: u16, data_len: u32) -> Vec<u8> {
    let block_align = u32::from(channels) * 2;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * block_align).to_le_bytes());
    h.extend_from_slice(&(block_align as u16).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

fn wav(rate: u32, channels: u16, interleaved: &[f32]) -> Vec<u8> {
    let mut bytes = wav_header(rate, channels, (interleaved.len() * 2) as u32);
    for &x in interleaved {
        bytes.extend_from_slice(&to_i16(x).to_le_bytes());
    }
    bytes
}

fn run(bytes: &[u8], hint: &str, limits: Limits) -> (Result<Summary, ExtractError>, Collector) {
    let mut out = Collector::new(&limits);
    let hints: Vec<&str> = [hint].into_iter().filter(|h| !h.is_empty()).collect();
    let result = decode_audio(
        Cursor::new(bytes.to_vec()),
        bytes.len() as u64,
        &hints,
        &mut out,
    );
    (result, out)
}

fn decoded(bytes: &[u8], hint: &str) -> (Summary, Vec<i16>) {
    match run(bytes, hint, Limits::default()) {
        (Ok(summary), out) => (summary, out.samples),
        (Err(err), _) => panic!("{hint}: {err}"),
    }
}

fn seconds(samples: &[i16]) -> f64 {
    samples.len() as f64 / 16_000.0
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../host/tests/fixtures/audio")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_near(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: {actual} vs {expected} (±{tol})"
    );
}

/// (file, duration in seconds, codec) of the short fixtures.
const FIXTURES: &[(&str, f64, &str)] = &[
    ("hello.mp3", 1.716, "mp3"),
    ("hello.flac", 1.716, "flac"),
    ("hello.ogg", 1.716, "vorbis"),
    ("hello.m4a", 1.717, "aac"),
    ("spoken.ogg", 13.484, "vorbis"),
];

#[test]
fn info_declares_pcm() {
    let info = Audio::info();
    assert_eq!(info.id, "audio");
    assert_eq!(info.output, p8sync_extractor_sdk::OutputKind::Pcm);
    assert!(info.formats.contains(&"mp3".to_string()));
    assert_eq!(info.memory_mib, 64);
}

#[test]
fn extract_uses_the_format_as_a_hint() {
    let bytes = fixture("hello.flac");
    let limits = Limits::default();
    let mut out = Collector::new(&limits);
    let request = Request::new("flac", bytes.len() as u64, limits);
    let summary = Audio::extract(Input::from_bytes(bytes), &request, &mut out).expect("flac");
    assert_eq!(summary.codec.as_deref(), Some("flac"));
    assert_near(seconds(&out.samples), 1.716, 0.1, "flac");
}

#[test]
fn mono_16k_wav_passes_through() {
    let signal = speech_like(16_000, 3.0, &[(0.5, 2.5)], 1);
    let (summary, samples) = decoded(&wav(16_000, 1, &signal), "wav");
    assert_eq!(summary.codec.as_deref(), Some("pcm_s16le"));
    assert_eq!(
        (summary.source_sample_rate, summary.source_channels),
        (16_000, 1)
    );
    assert_eq!(samples.len(), 48_000);
    let expected: Vec<i16> = signal.iter().map(|&x| to_i16(x)).collect();
    assert_eq!(samples, expected);
}

#[test]
fn stereo_44k_becomes_16k_mono() {
    let left = speech_like(44_100, 10.0, &[(1.0, 3.0), (7.0, 9.0)], 6);
    let mut noise = Noise::new(7);
    let interleaved: Vec<f32> = left
        .iter()
        .flat_map(|&l| [l, l + 0.001 * noise.next()])
        .collect();
    let (summary, samples) = decoded(&wav(44_100, 2, &interleaved), "wav");
    assert_eq!(
        (summary.source_sample_rate, summary.source_channels),
        (44_100, 2)
    );
    assert_near(seconds(&samples), 10.0, 1.0 / 16_000.0, "duration");
    // The speech is there (RMS near the generator's level), the silence is quiet.
    let rms =
        |s: &[i16]| (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
    assert!(rms(&samples[16_000..48_000]) > 2000.0);
    assert!(rms(&samples[64_000..96_000]) < 200.0);
}

/// Durations measured with `soxi -D` / `ffprobe` when the fixtures were made.
#[test]
fn fixtures_decode_to_expected_duration() {
    for (name, secs, codec) in FIXTURES {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        let (summary, samples) = decoded(&fixture(name), ext);
        assert_near(seconds(&samples), *secs, 0.1, name);
        assert_eq!(summary.codec.as_deref(), Some(*codec), "{name}");
        assert!(
            summary.source_sample_rate > 0 && summary.source_channels > 0,
            "{name}"
        );
    }
}

#[test]
fn non_audio_is_unsupported() {
    let text = "Meeting notes\nNothing to hear here.\n"
        .repeat(200)
        .into_bytes();
    let mut noise = Noise::new(9);
    let random: Vec<u8> = (0..200_000)
        .map(|_| (noise.next() * 127.0 + 128.0) as u8)
        .collect();
    // A valid header with no samples: nothing to transcribe.
    let no_data = wav(16_000, 1, &[]);
    // A WAV header followed by garbage where the fmt chunk should be.
    let mut corrupt = wav_header(16_000, 1, 32_000);
    corrupt[20] = 0x55;
    corrupt.extend_from_slice(&random[..32_000]);
    for (bytes, hint) in [
        (&text, "txt"),
        (&text, "mp3"),
        (&random, ""),
        (&random, "audio/mpeg"),
        (&Vec::new(), ""),
        (&no_data, ""),
        (&corrupt, ""),
    ] {
        match run(bytes, hint, Limits::default()).0 {
            Err(ExtractError::NotIngestible(reason)) => assert!(!reason.is_empty()),
            other => panic!(
                "{} bytes ({hint:?}): expected NotIngestible, got {other:?}",
                bytes.len()
            ),
        }
    }
}

#[test]
fn truncated_file_keeps_decoded_audio() {
    let bytes = wav(16_000, 1, &speech_like(16_000, 4.0, &[(1.0, 3.0)], 10));
    let (_, samples) = decoded(&bytes[..bytes.len() / 2], "wav");
    assert!(
        seconds(&samples) > 1.5 && seconds(&samples) < 2.1,
        "{}",
        seconds(&samples)
    );
}

/// Corrupted and truncated real files give `Ok` (damaged packets skipped) or `NotIngestible`,
/// never a panic.
#[test]
fn corrupt_fixtures_never_panic() {
    let mut noise = Noise::new(12);
    for (name, _, _) in FIXTURES {
        let original = fixture(name);
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        for round in 0..12 {
            let mut bytes = original.clone();
            match round % 3 {
                0 | 1 => {
                    let at = 64 + ((noise.next().abs() * (bytes.len() - 200) as f32) as usize);
                    for b in &mut bytes[at..at + 100] {
                        *b = (noise.next() * 127.0 + 128.0) as u8;
                    }
                }
                _ => bytes.truncate((noise.next().abs() * bytes.len() as f32) as usize),
            }
            match run(&bytes, ext, Limits::default()).0 {
                Ok(_) | Err(ExtractError::NotIngestible(_)) => {}
                Err(e) => panic!("{name} round {round}: {e}"),
            }
        }
    }
}

/// Hostile: a WAV header claiming 2^32 - 1 bytes of samples (and a RIFF size to match) over one
/// second of real data. Nothing is sized from the claim; the data simply ends.
#[test]
fn wav_claiming_four_billion_samples_ends_cleanly() {
    let signal = speech_like(16_000, 1.0, &[(0.2, 0.8)], 13);
    let mut bytes = wav_header(16_000, 1, u32::MAX);
    for &x in &signal {
        bytes.extend_from_slice(&to_i16(x).to_le_bytes());
    }
    let started = Instant::now();
    let (summary, samples) = decoded(&bytes, "wav");
    assert_eq!(samples.len(), 16_000);
    assert_eq!(summary.source_sample_rate, 16_000);
    assert!(started.elapsed() < Duration::from_secs(10));
    // 8 channels at 768 kHz claiming the same: still one real second of data.
    let mut bytes = wav_header(768_000, 8, u32::MAX);
    bytes.extend(std::iter::repeat_n(0u8, 768_000 * 8 * 2 / 10));
    let (summary, samples) = decoded(&bytes, "");
    assert_eq!(summary.source_channels, 8);
    assert_near(seconds(&samples), 0.1, 0.01, "768 kHz");
}

/// Hostile: MP3s cut short (mid-frame, after the first frames, right after the header).
#[test]
fn truncated_mp3_ends_cleanly() {
    let original = fixture("hello.mp3");
    for cut in [
        original.len() * 3 / 4,
        original.len() / 2,
        original.len() / 5,
        700,
        100,
        10,
    ] {
        let started = Instant::now();
        match run(&original[..cut], "mp3", Limits::default()) {
            (Ok(summary), out) => {
                assert_eq!(summary.codec.as_deref(), Some("mp3"));
                assert!(
                    seconds(&out.samples) < 1.8,
                    "{cut}: {}",
                    seconds(&out.samples)
                );
            }
            (Err(ExtractError::NotIngestible(_)), _) => {}
            (other, _) => panic!("{cut}: {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

/// The duration cap: decoding stops at max-audio-seconds.
#[test]
fn output_stops_at_max_audio_seconds() {
    let bytes = wav(44_100, 2, &vec![0.1; 44_100 * 2 * 10]);
    let limits = Limits {
        max_audio_seconds: 2,
        ..Limits::default()
    };
    let (result, out) = run(&bytes, "wav", limits);
    let summary = result.expect("capped output is Ok");
    assert_eq!(out.samples.len(), 32_000);
    assert!(out.pcm_truncated);
    assert!(
        summary.notes.iter().any(|n| n.contains("stopped at")),
        "{:?}",
        summary.notes
    );
}
