//! Pass 1: decode packet by packet to 16 kHz mono s16le in a scratch file, measuring frame energy.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::resample::Resampler;
use super::segment::FRAME_SAMPLES;
use super::{AudioError, SAMPLE_RATE, wav};

/// Corrupt packets tolerated in a row before the file is declared corrupt: a few bad packets in a
/// long recording (bit rot, a bad splice) should not lose the rest of it.
const MAX_CONSECUTIVE_DECODE_ERRORS: u32 = 64;
/// Sample rates outside this range are nonsense from a corrupt header.
const MAX_SOURCE_RATE: u32 = 768_000;
/// Channel counts above this are nonsense from a corrupt header.
const MAX_CHANNELS: usize = 64;

/// What pass 1 produced.
pub(super) struct Decoded {
    /// 16 kHz mono s16le, positioned anywhere (readers seek).
    pub scratch: File,
    /// Number of samples in `scratch`.
    pub samples: u64,
    /// RMS level of each 20 ms frame in dBFS.
    pub frame_db: Vec<f32>,
    pub source_rate: u32,
    pub source_channels: u16,
    pub codec: String,
}

/// Decode `input` to a scratch file in `scratch_dir`.
pub(super) fn decode_to_scratch(
    input: &Path,
    hint: Option<&str>,
    scratch_dir: &Path,
) -> Result<Decoded, AudioError> {
    let file = File::open(input)?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut probe_hint = Hint::new();
    if let Some(h) = hint.map(str::trim).filter(|h| !h.is_empty()) {
        if h.contains('/') {
            probe_hint.mime_type(h);
        } else {
            probe_hint.with_extension(h.trim_start_matches('.'));
        }
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &probe_hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => AudioError::unsupported(
                "not a recognised audio format (supported: WAV, MP3, FLAC, Ogg Vorbis, MP4/M4A AAC)",
            ),
            e => classify(e, "unreadable container"),
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::unsupported("the file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::unsupported("the audio track has no codec parameters"))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| classify(e, "unsupported codec"))?;
    let codec = decoder.codec_info().short_name.to_string();

    let mut writer = BufWriter::with_capacity(1 << 16, tempfile::tempfile_in(scratch_dir)?);
    let mut sink = Sink::default();
    let mut resampler: Option<(u32, Resampler)> = None;
    let mut source: Option<(u32, u16)> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let mut resampled: Vec<f32> = Vec::new();
    let mut bad_in_a_row = 0u32;
    let mut packets_decoded = 0u64;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A chained OGG stream changed its track list; what we have is the first recording,
            // which is all a transcript of "this file" can sensibly mean.
            Err(SymphoniaError::ResetRequired) => break,
            // A truncated file: keep what decoded.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::IoError(e)) => return Err(AudioError::Io(e)),
            // The demuxer lost sync; without a resync point the rest is unreadable. Keep what
            // decoded, unless nothing did, in which case this is not audio we can read.
            Err(e) if packets_decoded > 0 => {
                tracing::warn!(error = %e, "audio container corrupt part-way; keeping the audio decoded so far");
                break;
            }
            Err(e) => return Err(classify(e, "corrupt container")),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_)) => {
                bad_in_a_row += 1;
                if bad_in_a_row > MAX_CONSECUTIVE_DECODE_ERRORS {
                    return Err(AudioError::unsupported(format!(
                        "more than {MAX_CONSECUTIVE_DECODE_ERRORS} consecutive corrupt {codec} packets"
                    )));
                }
                continue;
            }
            Err(e) => return Err(classify(e, "decoder failed")),
        };
        bad_in_a_row = 0;
        if buf.frames() == 0 {
            continue;
        }
        let rate = buf.spec().rate();
        let channels = buf.spec().channels().count();
        if rate == 0 || rate > MAX_SOURCE_RATE || channels == 0 || channels > MAX_CHANNELS {
            return Err(AudioError::unsupported(format!(
                "implausible stream parameters ({rate} Hz, {channels} channels)"
            )));
        }
        packets_decoded += 1;
        source.get_or_insert((rate, channels as u16));
        buf.copy_to_vec_interleaved::<f32>(&mut interleaved);
        downmix(&interleaved, channels, &mut mono);

        resampled.clear();
        match &mut resampler {
            Some((r, rs)) if *r == rate => rs.process(&mono, &mut resampled),
            slot => {
                // The rate changed mid-stream (rare, e.g. concatenated MP3s): finish the old
                // stream cleanly and continue at the new rate.
                if let Some((_, old)) = slot {
                    old.flush(&mut resampled);
                }
                let mut rs = Resampler::new(rate, SAMPLE_RATE);
                rs.process(&mono, &mut resampled);
                *slot = Some((rate, rs));
            }
        }
        sink.write(&resampled, &mut writer)?;
    }

    let Some((source_rate, source_channels)) = source else {
        return Err(AudioError::unsupported(format!(
            "no audio could be decoded from the {codec} stream"
        )));
    };
    if let Some((_, rs)) = &mut resampler {
        resampled.clear();
        rs.flush(&mut resampled);
        sink.write(&resampled, &mut writer)?;
    }
    sink.finish_frame();
    let mut scratch = writer
        .into_inner()
        .map_err(|e| AudioError::Io(e.into_error()))?;
    scratch.seek(SeekFrom::Start(0))?;
    Ok(Decoded {
        scratch,
        samples: sink.samples,
        frame_db: sink.frame_db,
        source_rate,
        source_channels,
        codec,
    })
}

/// Map a symphonia error to ours: I/O stays retryable, everything else means the file is bad.
fn classify(err: SymphoniaError, context: &str) -> AudioError {
    match err {
        // Running out of input while probing is the usual symptom of "not an audio file".
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::unsupported(format!("{context}: unexpected end of file"))
        }
        SymphoniaError::IoError(e) => AudioError::Io(e),
        other => AudioError::unsupported(format!("{context}: {other}")),
    }
}

/// Average all channels of an interleaved buffer into `out`.
fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    out.clear();
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// Writes 16 kHz samples as s16le and accumulates per-frame energy.
#[derive(Default)]
struct Sink {
    samples: u64,
    frame_db: Vec<f32>,
    frame_sum: f64,
    frame_len: usize,
    bytes: Vec<u8>,
}

impl Sink {
    fn write(&mut self, samples: &[f32], out: &mut impl Write) -> std::io::Result<()> {
        self.bytes.clear();
        self.bytes.reserve(samples.len() * 2);
        for &x in samples {
            let x = x.clamp(-1.0, 1.0);
            self.bytes.extend_from_slice(&wav::to_i16(x).to_le_bytes());
            self.frame_sum += f64::from(x * x);
            self.frame_len += 1;
            if self.frame_len == FRAME_SAMPLES {
                self.finish_frame();
            }
        }
        self.samples += samples.len() as u64;
        out.write_all(&self.bytes)
    }

    fn finish_frame(&mut self) {
        if self.frame_len == 0 {
            return;
        }
        let mean = self.frame_sum / self.frame_len as f64;
        // 1e-10 (-100 dBFS) keeps digital silence finite so percentiles stay meaningful.
        self.frame_db.push((10.0 * mean.max(1e-10).log10()) as f32);
        self.frame_sum = 0.0;
        self.frame_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages() {
        let mut out = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5]);
    }

    #[test]
    fn sink_frames() {
        let mut sink = Sink::default();
        let mut out = Vec::new();
        sink.write(&vec![0.5; FRAME_SAMPLES * 2 + 10], &mut out)
            .unwrap();
        sink.finish_frame();
        assert_eq!(sink.frame_db.len(), 3);
        assert!((sink.frame_db[0] - (-6.02)).abs() < 0.05);
        assert_eq!(out.len(), (FRAME_SAMPLES * 2 + 10) * 2);
    }
}
