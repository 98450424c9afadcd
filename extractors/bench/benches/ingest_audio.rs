//! Audio throughput on 10 minutes of 44.1 kHz stereo, in one run:
//! * `decode/native`: the audio extractor's decoder (decode, downmix, resample to 16 kHz) run
//!   natively into memory;
//! * `decode/sandboxed`: the same extractor, built, in the host's sandbox, samples counted;
//! * `analyse/sandboxed`: the whole host pipeline, `analyse` (sandboxed decode into the scratch
//!   file, energy profile, segments) plus cutting every segment's WAV.
//!
//! Prints the real-time factor (audio seconds per wall second) of each; the target is at least
//! 200x. If `ffmpeg` is on PATH the same audio is also measured as a 128 kbps MP3.
//! `scripts/build-components.sh && cargo bench -p p8sync-extract-bench --bench ingest_audio`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use p8sync::extract::{Input, OutputKind, PcmSink};
use p8sync::ingest::audio::{SegmentOptions, analyse};
use p8sync_extract_bench::Sandbox;
use p8sync_extractor_audio::Audio;
use p8sync_extractor_sdk::{Collector, Extract, Limits, Request};

const SECS: usize = 600;
const RATE: u32 = 44_100;

/// Speech-like stereo audio: 8 s of modulated harmonics, 4 s of low noise, repeated.
fn write_input(path: &Path) {
    let frames = SECS * RATE as usize;
    let mut bytes = Vec::with_capacity(44 + frames * 4);
    let data_len = (frames * 4) as u32;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(data_len + 36).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&RATE.to_le_bytes());
    bytes.extend_from_slice(&(RATE * 4).to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    let tau = std::f64::consts::TAU;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut phase = 0.0f64;
    for i in 0..frames {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed >> 40) as f64 / (1u64 << 23) as f64 - 1.0;
        let t = i as f64 / f64::from(RATE);
        phase += tau * (140.0 + 25.0 * (tau * 0.7 * t).sin()) / f64::from(RATE);
        let mut x = 0.001 * noise;
        if t % 12.0 < 8.0 {
            let env = 0.55 - 0.45 * (tau * 5.0 * t).cos();
            x +=
                0.25 * env * (phase.sin() + 0.5 * (2.0 * phase).sin() + 0.33 * (3.0 * phase).sin());
        }
        let l = (x * 32767.0) as i16;
        let r = ((x + 0.002 * noise) * 32767.0) as i16;
        bytes.extend_from_slice(&l.to_le_bytes());
        bytes.extend_from_slice(&r.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write bench input");
}

/// Counts samples, keeps none.
struct Count(u64);

impl PcmSink for Count {
    fn write(&mut self, samples: &[i16]) -> std::io::Result<()> {
        self.0 += samples.len() as u64;
        Ok(())
    }
}

/// A way to process one file; returns the audio duration in seconds.
type Run<'a> = dyn Fn(&Path) -> f64 + 'a;

fn native_decode(path: &Path) -> f64 {
    let bytes = std::fs::read(path).expect("input");
    let limits = Limits::default();
    let request = Request::new("wav", bytes.len() as u64, limits);
    let mut out = Collector::new(&limits);
    Audio::extract(
        p8sync_extractor_sdk::Input::from_bytes(bytes),
        &request,
        &mut out,
    )
    .expect("decode");
    out.samples.len() as f64 / 16_000.0
}

fn sandboxed_decode(sandbox: &Sandbox, path: &Path) -> f64 {
    let extractor = sandbox.extractor(OutputKind::Pcm, "wav");
    let input = Input {
        format: "wav".into(),
        mime_type: None,
        name: "talk".into(),
    };
    let out = sandbox
        .tokio
        .block_on(sandbox.extractors.pcm(&extractor, path, input, Count(0)))
        .expect("decode");
    out.sink.0 as f64 / 16_000.0
}

/// The whole host pipeline for one file.
fn sandboxed_analyse(sandbox: &Sandbox, path: &Path, scratch: &Path) -> f64 {
    let analysis = sandbox
        .tokio
        .block_on(analyse(
            &sandbox.extractors,
            path,
            None,
            "talk",
            scratch,
            &SegmentOptions::default(),
        ))
        .expect("analyse");
    for segment in &analysis.segments {
        black_box(analysis.segment_wav(segment).expect("segment wav"));
    }
    analysis.duration_secs
}

fn report(name: &str, path: &Path, run: &Run<'_>) {
    let started = Instant::now();
    let audio = run(path);
    let wall = started.elapsed().as_secs_f64();
    println!(
        "ingest_audio/{name}: {audio:.0} s of audio in {wall:.2} s = {:.0}x real time",
        audio / wall
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("talk.wav");
    write_input(&wav);
    let mut inputs: Vec<(&str, PathBuf)> = vec![("wav_44k1_stereo_10min", wav.clone())];
    let mp3 = dir.path().join("talk.mp3");
    let encoded = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-c:a", "libmp3lame", "-b:a", "128k"])
        .arg(&mp3)
        .status()
        .is_ok_and(|s| s.success());
    if encoded {
        inputs.push(("mp3_44k1_stereo_10min", mp3));
    } else {
        println!("ingest_audio: ffmpeg not found, skipping the MP3 case");
    }

    let sandbox = Sandbox::new();
    let scratch = dir.path().join("scratch");
    let runs: [(&str, Box<Run<'_>>); 3] = [
        ("decode/native", Box::new(native_decode)),
        (
            "decode/sandboxed",
            Box::new(|p: &Path| sandboxed_decode(&sandbox, p)),
        ),
        (
            "analyse/sandboxed",
            Box::new(|p: &Path| sandboxed_analyse(&sandbox, p, &scratch)),
        ),
    ];
    let mut group = c.benchmark_group("ingest_audio");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (input, path) in &inputs {
        for (how, run) in &runs {
            let name = format!("{how}/{input}");
            report(&name, path, run.as_ref());
            group.bench_function(&name, |b| b.iter(|| run(path)));
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
