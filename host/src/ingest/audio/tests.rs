//! End-to-end tests of `analyse` on generated and checked-in audio, decoded by the built
//! `audio` extractor component (`scripts/build-components.sh` builds it) in the sandbox.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::testutil::{Noise, parse_wav, speech_like, write_wav};
use super::*;
use crate::config::RuntimeSettings;
use crate::extract::{ExtractLimits, Extractors};

/// One runtime and one set of extractors for every test (each test runs its own tokio runtime;
/// the extractors hold no task of theirs between calls).
fn extractors() -> &'static Extractors {
    static EXTRACTORS: OnceLock<Extractors> = OnceLock::new();
    EXTRACTORS.get_or_init(|| {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        let settings = RuntimeSettings {
            cache_dir: Some(target.join("test-cache")),
            ..RuntimeSettings::default()
        };
        let runtime = crate::runtime::Runtime::new(settings).expect("runtime");
        Extractors::new(runtime, target.join("extractors"), ExtractLimits::default())
    })
}

/// `analyse`, from a test without a runtime of its own.
fn analyse_blocking(
    path: &Path,
    hint: Option<&str>,
    scratch: &Path,
    options: &SegmentOptions,
) -> Result<Analysis, AudioError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(analyse(extractors(), path, hint, name, scratch, options))
}

fn analyse_default(path: &Path) -> Analysis {
    let dir = path.parent().unwrap();
    analyse_blocking(path, None, dir, &SegmentOptions::default()).unwrap()
}

fn assert_near(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: {actual} vs {expected} (±{tol})"
    );
}

/// Every speech region must be covered by one segment whose edges are within 0.3 s of it.
fn assert_segments(segments: &[Segment], expected: &[(f64, f64)]) {
    assert_eq!(
        segments.len(),
        expected.len(),
        "{segments:?} vs {expected:?}"
    );
    for (s, &(a, b)) in segments.iter().zip(expected) {
        assert_near(s.start, a, 0.3, "segment start");
        assert_near(s.end, b, 0.3, "segment end");
    }
}

#[test]
fn segments_land_on_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    let speech = [(0.5, 4.0), (8.0, 12.0), (16.5, 18.0)];
    write_wav(&path, 16_000, 1, &speech_like(16_000, 20.0, &speech, 1));
    let a = analyse_default(&path);
    assert_eq!((a.source_sample_rate, a.source_channels), (16_000, 1));
    assert_eq!(a.codec, "pcm_s16le");
    assert_near(a.duration_secs, 20.0, 1e-6, "duration");
    assert_segments(&a.segments, &speech);
}

#[test]
fn short_gaps_are_merged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    write_wav(
        &path,
        16_000,
        1,
        &speech_like(16_000, 12.0, &[(1.0, 3.0), (5.5, 8.0)], 2),
    );
    assert_segments(&analyse_default(&path).segments, &[(1.0, 8.0)]);
}

#[test]
fn long_speech_is_split_to_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    write_wav(
        &path,
        16_000,
        1,
        &speech_like(16_000, 74.0, &[(2.0, 72.0)], 3),
    );
    let a = analyse_default(&path);
    assert!(a.segments.len() >= 3, "{:?}", a.segments);
    assert!(
        a.segments.iter().all(|s| s.end - s.start <= 30.0 + 1e-9),
        "{:?}",
        a.segments
    );
    assert_near(a.segments[0].start, 2.0, 0.3, "first start");
    assert_near(a.segments[a.segments.len() - 1].end, 72.0, 0.3, "last end");
}

#[test]
fn blip_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    let wav = speech_like(16_000, 20.0, &[(1.0, 4.0), (10.0, 10.3), (15.0, 18.0)], 4);
    write_wav(&path, 16_000, 1, &wav);
    assert_segments(
        &analyse_default(&path).segments,
        &[(1.0, 4.0), (15.0, 18.0)],
    );
}

#[test]
fn quiet_audio_has_no_segments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    write_wav(&path, 16_000, 1, &speech_like(16_000, 6.0, &[], 5));
    let a = analyse_default(&path);
    assert_near(a.duration_secs, 6.0, 1e-6, "duration");
    assert_eq!(a.segments, vec![], "no speech, nothing to cut");
}

#[test]
fn digital_silence_costs_no_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiet.wav");
    // Ten minutes of zeros: 19 MiB of samples.
    write_wav(&path, 16_000, 1, &vec![0.0; 16_000 * 600]);
    let scratch = tempfile::tempdir().unwrap();
    let a = analyse_blocking(&path, None, scratch.path(), &SegmentOptions::default()).unwrap();
    assert_near(a.duration_secs, 600.0, 1e-6, "duration");
    assert!(a.segments.is_empty());
    use std::os::unix::fs::MetadataExt;
    let file = a.scratch.lock().unwrap();
    let meta = file.metadata().unwrap();
    assert_eq!(meta.len(), 16_000 * 600 * 2);
    assert!(
        meta.blocks() * 512 < 1024 * 1024,
        "the scratch file holds {} bytes on disk for silence",
        meta.blocks() * 512
    );
}

#[test]
fn stereo_44k_becomes_16k_mono() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    let speech = [(1.0, 3.0), (7.0, 9.0)];
    let left = speech_like(44_100, 10.0, &speech, 6);
    let mut noise = Noise::new(7);
    // Right channel: same signal plus a little independent noise, as a real stereo mic gives.
    let interleaved: Vec<f32> = left
        .iter()
        .flat_map(|&l| [l, l + 0.001 * noise.next()])
        .collect();
    write_wav(&path, 44_100, 2, &interleaved);
    let a = analyse_default(&path);
    assert_eq!((a.source_sample_rate, a.source_channels), (44_100, 2));
    assert_near(a.duration_secs, 10.0, 1.0 / 16_000.0, "duration");
    assert_segments(&a.segments, &speech);

    let seg = a.segments[0];
    let wav = a.segment_wav(&seg).unwrap();
    let (rate, channels, bits, samples) = parse_wav(&wav);
    assert_eq!((rate, channels, bits), (16_000, 1, 16));
    let expected = ((seg.end * 16_000.0).round() - (seg.start * 16_000.0).round()) as usize;
    assert_eq!(samples.len(), expected);
    // The content is the speech, not silence: RMS near the generator's level.
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    assert!(rms > 2000.0, "rms {rms}");
}

#[test]
fn segment_wav_clamps_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    write_wav(&path, 16_000, 1, &speech_like(16_000, 2.0, &[], 8));
    let a = analyse_default(&path);
    let wav = a
        .segment_wav(&Segment {
            start: 1.5,
            end: 99.0,
        })
        .unwrap();
    assert_eq!(parse_wav(&wav).3.len(), 8_000);
    let wav = a
        .segment_wav(&Segment {
            start: 3.0,
            end: 1.0,
        })
        .unwrap();
    assert_eq!(parse_wav(&wav).3.len(), 0);
}

#[test]
fn non_audio_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "Meeting notes\nNothing to hear here.\n".repeat(200)).unwrap();
    let mut noise = Noise::new(9);
    let random: Vec<u8> = (0..200_000)
        .map(|_| (noise.next() * 127.0 + 128.0) as u8)
        .collect();
    let bin = dir.path().join("random.bin");
    std::fs::write(&bin, &random).unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    // A valid header with no samples: nothing to transcribe.
    let no_data = dir.path().join("nodata.wav");
    write_wav(&no_data, 16_000, 1, &[]);
    // A WAV header followed by garbage where the fmt chunk should be.
    let mut corrupt = wav::header(16_000, 1, 16_000).to_vec();
    corrupt[20] = 0x55;
    corrupt.extend_from_slice(&random[..32_000]);
    let bad_fmt = dir.path().join("corrupt.wav");
    std::fs::write(&bad_fmt, corrupt).unwrap();

    for (path, hint) in [
        (&text, Some("txt")),
        (&text, Some("mp3")),
        (&bin, None),
        (&bin, Some("audio/mpeg")),
        (&empty, None),
        (&no_data, None),
        (&bad_fmt, None),
    ] {
        match analyse_blocking(path, hint, dir.path(), &SegmentOptions::default()) {
            Err(AudioError::Unsupported { reason }) => assert!(!reason.is_empty()),
            other => panic!(
                "{} ({hint:?}): expected Unsupported, got {other:?}",
                path.display()
            ),
        }
    }
    match analyse_blocking(
        &dir.path().join("missing.wav"),
        None,
        dir.path(),
        &SegmentOptions::default(),
    ) {
        Err(AudioError::Io(_)) => {}
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn truncated_file_keeps_decoded_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    write_wav(
        &path,
        16_000,
        1,
        &speech_like(16_000, 4.0, &[(1.0, 3.0)], 10),
    );
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let a = analyse_default(&path);
    assert!(
        a.duration_secs > 1.5 && a.duration_secs < 2.1,
        "{}",
        a.duration_secs
    );
}

#[test]
fn scratch_lives_in_scratch_dir_and_is_removed() {
    let input_dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let path = input_dir.path().join("a.wav");
    write_wav(&path, 16_000, 1, &speech_like(16_000, 2.0, &[], 11));
    let a = analyse_blocking(
        &path,
        Some(".wav"),
        scratch.path(),
        &SegmentOptions::default(),
    )
    .unwrap();
    drop(a);
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[test]
fn transcript_lines() {
    let seg = |start, end| Segment { start, end };
    let text = transcript_text(&[
        (seg(12.34, 15.0), "second\npart".into()),
        (seg(0.0, 4.96), " first ".into()),
        (seg(20.0, 21.0), "   ".into()),
    ]);
    assert_eq!(text, "[0.0-5.0]: first\n[12.3-15.0]: second part");
    assert_eq!(transcript_text(&[]), "");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Durations measured with `soxi -D` / `ffprobe` when the fixtures were made (see the README).
#[test]
fn fixtures_decode_to_expected_duration() {
    for (name, secs, codec) in FIXTURES {
        let path = fixture(name);
        let ext = path.extension().and_then(|e| e.to_str());
        let a = analyse_blocking(
            &path,
            ext,
            &std::env::temp_dir(),
            &SegmentOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_near(a.duration_secs, *secs, 0.1, name);
        assert_eq!(&a.codec, codec, "{name}");
        assert!(!a.segments.is_empty(), "{name}");
    }
}

#[test]
fn spoken_fixture_segments_land_on_pauses() {
    let a = analyse_default(&fixture(SPOKEN.0));
    assert_segments(&a.segments, SPOKEN.1);
}

/// Corrupted and truncated real files must give `Ok` (damaged packets skipped) or `Unsupported`,
/// never a panic or an I/O error.
#[test]
fn corrupt_fixtures_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut noise = Noise::new(12);
    for (name, _, _) in FIXTURES {
        let original = std::fs::read(fixture(name)).unwrap();
        let ext = Path::new(name).extension().and_then(|e| e.to_str());
        for round in 0..12 {
            let mut bytes = original.clone();
            match round % 3 {
                // Scribble over a run of bytes somewhere after the first few headers.
                0 | 1 => {
                    let at = 64 + ((noise.next().abs() * (bytes.len() - 200) as f32) as usize);
                    for b in &mut bytes[at..at + 100] {
                        *b = (noise.next() * 127.0 + 128.0) as u8;
                    }
                }
                _ => bytes.truncate((noise.next().abs() * bytes.len() as f32) as usize),
            }
            let path = dir.path().join(format!("broken-{round}-{name}"));
            std::fs::write(&path, &bytes).unwrap();
            match analyse_blocking(&path, ext, dir.path(), &SegmentOptions::default()) {
                Ok(a) => {
                    for s in &a.segments {
                        a.segment_wav(s).unwrap();
                    }
                }
                Err(AudioError::Unsupported { .. }) => {}
                Err(e) => panic!("{name} round {round}: {e}"),
            }
        }
    }
}

/// (file, duration in seconds, codec) of the short fixtures.
const FIXTURES: &[(&str, f64, &str)] = &[
    ("hello.mp3", 1.716, "mp3"),
    ("hello.flac", 1.716, "flac"),
    ("hello.ogg", 1.716, "vorbis"),
    ("hello.m4a", 1.717, "aac"),
    ("spoken.ogg", 13.484, "vorbis"),
];

/// The spoken fixture and its speech regions.
const SPOKEN: (&str, &[(f64, f64)]) = (
    "spoken.ogg",
    &[(0.5, 2.216), (5.716, 7.972), (11.972, 12.884)],
);
