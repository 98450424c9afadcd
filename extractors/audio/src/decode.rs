//! Decode packet by packet to 16 kHz mono s16, straight to the sink.

use std::io::{Read, Seek, SeekFrom};

use p8sync_extractor_sdk::{ExtractError, PcmSink, Summary, log};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::resample::Resampler;
use crate::{OUTPUT_RATE, to_i16};

/// Corrupt packets tolerated in a row before the file is declared corrupt: a few bad packets in a
/// long recording (bit rot, a bad splice) should not lose the rest of it.
const MAX_CONSECUTIVE_DECODE_ERRORS: u32 = 64;
/// Sample rates outside this range are nonsense from a corrupt header.
const MAX_SOURCE_RATE: u32 = 768_000;
/// Channel counts above this are nonsense from a corrupt header.
const MAX_CHANNELS: usize = 64;

/// A seekable reader of known length, as symphonia wants its input.
struct Source<R> {
    inner: R,
    len: u64,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Source<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Source<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

fn unsupported(reason: impl Into<String>) -> ExtractError {
    ExtractError::not_ingestible(reason)
}

/// Decodes the audio file `reader` (`size` bytes; `hints` are extensions or MIME types, most
/// trusted first) to 16 kHz mono s16 into `out`, stopping when `out` says stop (the
/// duration cap lives in the sink). The summary
/// names the codec and the source's rate and channels.
pub fn decode_audio<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    size: u64,
    hints: &[&str],
    out: &mut dyn PcmSink,
) -> Result<Summary, ExtractError> {
    let mss = MediaSourceStream::new(
        Box::new(Source {
            inner: reader,
            len: size,
        }),
        Default::default(),
    );
    log::stage("the container");
    let mut probe_hint = Hint::new();
    for hint in hints.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
        if hint.contains('/') {
            probe_hint.mime_type(hint);
        } else {
            probe_hint.with_extension(hint.trim_start_matches('.'));
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
            SymphoniaError::Unsupported(_) => unsupported(
                "not a recognised audio format (supported: WAV, MP3, FLAC, Ogg Vorbis, MP4/M4A AAC)",
            ),
            e => classify(e, "unreadable container"),
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unsupported("the file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unsupported("the audio track has no codec parameters"))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| classify(e, "unsupported codec"))?;
    let codec = decoder.codec_info().short_name.to_string();
    log::stage(&format!("the {codec} stream"));

    let mut summary = Summary {
        codec: Some(codec.clone()),
        ..Summary::default()
    };
    let mut resampler: Option<(u32, Resampler)> = None;
    let mut source: Option<(u32, u16)> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let mut resampled: Vec<f32> = Vec::new();
    let mut samples: Vec<i16> = Vec::new();
    let mut bad_in_a_row = 0u32;
    let mut bad_total = 0u64;
    let mut packets_decoded = 0u64;
    let mut emitted = 0u64;
    let mut stopped = false;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A chained OGG stream changed its track list; what we have is the first recording,
            // which is all a transcript of "this file" can sensibly mean.
            Err(SymphoniaError::ResetRequired) => break,
            // A truncated file: keep what decoded.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                if packets_decoded > 0 {
                    summary.notes.push(
                        "the file ends early (truncated?); kept the audio before the cut".into(),
                    );
                }
                break;
            }
            // The demuxer lost sync; without a resync point the rest is unreadable. Keep what
            // decoded, unless nothing did, in which case this is not audio we can read.
            Err(e) if packets_decoded > 0 => {
                log::warn(&format!(
                    "audio container corrupt part-way ({e}); keeping the audio decoded so far"
                ));
                summary.notes.push(format!(
                    "the container is corrupt part-way ({e}); kept the audio decoded before it"
                ));
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
                bad_total += 1;
                if bad_in_a_row > MAX_CONSECUTIVE_DECODE_ERRORS {
                    return Err(unsupported(format!(
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
            return Err(unsupported(format!(
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
                let mut rs = Resampler::new(rate, OUTPUT_RATE);
                rs.process(&mono, &mut resampled);
                *slot = Some((rate, rs));
            }
        }
        emitted += resampled.len() as u64;
        if !emit(&resampled, &mut samples, out) {
            stopped = true;
            break;
        }
    }

    let Some((source_rate, source_channels)) = source else {
        return Err(unsupported(format!(
            "no audio could be decoded from the {codec} stream"
        )));
    };
    if !stopped && let Some((_, rs)) = &mut resampler {
        resampled.clear();
        rs.flush(&mut resampled);
        emitted += resampled.len() as u64;
        emit(&resampled, &mut samples, out);
    }
    if bad_total > 0 {
        summary
            .notes
            .push(format!("{bad_total} corrupt {codec} packets were skipped"));
    }
    if stopped {
        summary.notes.push(format!(
            "stopped at {:.1} s, the limit of audio kept",
            emitted as f64 / f64::from(OUTPUT_RATE)
        ));
    }
    summary.source_sample_rate = source_rate;
    summary.source_channels = source_channels;
    Ok(summary)
}

/// Clips and converts `resampled` to s16 and emits it; false if the sink said stop.
fn emit(resampled: &[f32], samples: &mut Vec<i16>, out: &mut dyn PcmSink) -> bool {
    if resampled.is_empty() {
        return true;
    }
    samples.clear();
    samples.extend(resampled.iter().map(|&x| to_i16(x.clamp(-1.0, 1.0))));
    out.pcm(samples)
}

/// Map a symphonia error to ours: everything means the file is bad (reading the input cannot
/// fail in the sandbox; running out of it is the usual symptom of "not an audio file").
fn classify(err: SymphoniaError, context: &str) -> ExtractError {
    match err {
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            unsupported(format!("{context}: unexpected end of file"))
        }
        other => unsupported(format!("{context}: {other}")),
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
    fn clipping() {
        assert_eq!(to_i16(2.0), 32767);
        assert_eq!(to_i16(-2.0), -32768);
        assert_eq!(to_i16(0.0), 0);
    }
}
