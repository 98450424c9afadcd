//! Audio ingestion: decode any common audio file to 16 kHz mono, find its speech, cut it into
//! bounded chunks and send them to an OpenAI-compatible transcription server.
//!
//! Decoding runs in a sandboxed extractor component ([`crate::extract`]): the codecs are
//! third-party code fed with strangers' bytes. The samples it emits stream into a scratch file
//! on disk ([`PcmScratch`]; digital silence becomes holes, not bytes) while a per-frame energy
//! profile (~50 floats per second) is kept in memory; [`Analysis::segment_wav`] later reads one
//! segment back from that scratch file.

mod pcm;
mod segment;
mod transcribe;
mod wav;

use crate::extract::{ExtractFailure, Extractors, Input, OutputKind};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

pub use pcm::PcmScratch;
pub use transcribe::{NO_BACKEND, RetryPolicy, TranscribeError, Transcript, TranscriptionBackend};

/// Sample rate of the scratch PCM and of every chunk WAV (what Whisper-style models expect).
pub const SAMPLE_RATE: u32 = 16_000;

/// Thresholds of speech detection and chunking; `Default` gives the documented values.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentOptions {
    /// Pauses of at most this many seconds between speech regions are bridged (default 3.0).
    pub merge_gap_secs: f64,
    /// Segments longer than this are split so a chunk stays bounded (default 30.0).
    pub max_segment_secs: f64,
    /// Segments shorter than this after merging and splitting are dropped (default 0.5).
    pub min_segment_secs: f64,
    /// How far before `max_segment_secs` to look for the quietest point to split at (default 5.0).
    pub split_search_secs: f64,
    /// Percentile (0..1) of frame energies taken as the noise floor (default 0.1).
    pub noise_percentile: f64,
    /// Speech must be this many dB above the noise floor (default 10.0).
    pub threshold_margin_db: f64,
    /// Speech must also be above this absolute level in dBFS, so silence is never "speech" (default -50.0).
    pub min_threshold_dbfs: f64,
    /// Once in speech, the level may drop this many dB below the threshold before speech ends (default 3.0).
    pub hysteresis_db: f64,
    /// Quiet time tolerated inside a speech region before it is closed (default 0.2).
    pub hangover_secs: f64,
    /// Context added on each side of a segment so word edges are not clipped (default 0.1).
    pub padding_secs: f64,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            merge_gap_secs: 3.0,
            max_segment_secs: 30.0,
            min_segment_secs: 0.5,
            split_search_secs: 5.0,
            noise_percentile: 0.1,
            threshold_margin_db: 10.0,
            min_threshold_dbfs: -50.0,
            hysteresis_db: 3.0,
            hangover_secs: 0.2,
            padding_secs: 0.1,
        }
    }
}

/// A time range of the decoded audio, in seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start, in seconds.
    pub start: f64,
    /// End (exclusive), in seconds.
    pub end: f64,
}

/// Why audio could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// Not audio, an unknown codec or a corrupt file: retrying will not help.
    #[error("not decodable audio: {reason}")]
    Unsupported {
        /// What was wrong with the input.
        reason: String,
    },
    /// Reading the input or the scratch file failed (disk full, file vanished): may be retried.
    #[error("audio file I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl AudioError {
    fn unsupported(reason: impl Into<String>) -> Self {
        Self::Unsupported {
            reason: reason.into(),
        }
    }
}

/// The decoded audio (kept in a scratch file, deleted on drop) and its speech segments.
#[derive(Debug)]
pub struct Analysis {
    /// Duration of the decoded audio in seconds.
    pub duration_secs: f64,
    /// Sample rate of the source, in Hz.
    pub source_sample_rate: u32,
    /// Channel count of the source.
    pub source_channels: u16,
    /// Short codec name as the decoder reports it (`mp3`, `flac`, `aac`, `vorbis`, `pcm_s16le`...).
    pub codec: String,
    /// Speech segments in time order; empty when no speech was found.
    pub segments: Vec<Segment>,
    /// Whether decoding stopped at the duration cap (`P8_INGEST_MAX_AUDIO_SECS`).
    pub truncated: bool,
    /// 16 kHz mono s16le samples; an unnamed temp file, so the OS reclaims it even after a crash.
    /// The mutex makes seek+read atomic when several tasks share the analysis.
    scratch: Mutex<File>,
    samples: u64,
}

/// Decode the audio file at `input` in a sandboxed extractor (`hint`: an extension or a MIME
/// type, `name`: the file's name, both optional hints) into a 16 kHz mono scratch file in
/// `scratch_dir`, and find its speech segments.
pub async fn analyse(
    extractors: &Extractors,
    input: &Path,
    hint: Option<&str>,
    name: &str,
    scratch_dir: &Path,
    options: &SegmentOptions,
) -> Result<Analysis, AudioError> {
    let hint = hint.map(str::trim).filter(|h| !h.is_empty());
    let (mime, format) = match hint {
        Some(h) if h.contains('/') => (Some(h.to_ascii_lowercase()), None),
        Some(h) => (None, Some(h.trim_start_matches('.').to_ascii_lowercase())),
        None => (None, None),
    };
    let found = extractors
        .find(OutputKind::Pcm, format.as_deref(), mime.as_deref(), &[name])
        .await;
    // The decoder sniffs the content; a file whose name and type say nothing still goes to
    // the first audio extractor.
    let extractor = match found {
        Some(e) => e,
        None => extractors
            .all()
            .await
            .into_iter()
            .find(|e| e.info().output == OutputKind::Pcm)
            .ok_or_else(|| {
                AudioError::unsupported(format!(
                    "no audio extractor is installed (looked in {}; `p8sync extractors` lists them)",
                    extractors.looked_in()
                ))
            })?,
    };
    let request = Input {
        format: format
            .filter(|f| extractor.info().formats.contains(f))
            .or_else(|| extractor.info().formats.first().cloned())
            .unwrap_or_default(),
        mime_type: mime,
        name: name.to_string(),
    };
    let sink = PcmScratch::new(scratch_dir)?;
    let decoded = extractors
        .pcm(&extractor, input, request, sink)
        .await
        .map_err(|e| match e {
            ExtractFailure::Io(e) => AudioError::Io(e),
            other => AudioError::unsupported(other.to_string()),
        })?;
    if decoded.samples == 0 {
        return Err(AudioError::unsupported(format!(
            "no audio could be decoded from the {} stream",
            decoded.codec.as_deref().unwrap_or("audio")
        )));
    }
    let (scratch, samples, frame_db) = decoded.sink.finish()?;
    let duration_secs = samples as f64 / f64::from(SAMPLE_RATE);
    let segments = segment::find_segments(&frame_db, duration_secs, options);
    Ok(Analysis {
        duration_secs,
        source_sample_rate: decoded.source_sample_rate,
        source_channels: decoded.source_channels,
        codec: decoded.codec.unwrap_or_else(|| "unknown".into()),
        segments,
        truncated: decoded.truncated,
        scratch: Mutex::new(scratch),
        samples,
    })
}

impl Analysis {
    /// The WAV (mono 16 kHz 16-bit) bytes of one segment, read from the scratch file.
    pub fn segment_wav(&self, segment: &Segment) -> Result<Vec<u8>, AudioError> {
        let to_sample = |secs: f64| -> u64 {
            let s = (secs.max(0.0) * f64::from(SAMPLE_RATE)).round();
            // `as` saturates for huge values; the min keeps us inside the scratch file.
            (s as u64).min(self.samples)
        };
        let first = to_sample(segment.start);
        let last = to_sample(segment.end).max(first);
        let count = last - first;
        let data_len = usize::try_from(count * 2).map_err(|_| {
            AudioError::unsupported("segment too long to hold in memory; split it further")
        })?;
        let mut out = Vec::with_capacity(wav::HEADER_LEN + data_len);
        out.extend_from_slice(&wav::header(SAMPLE_RATE, 1, count));
        out.resize(wav::HEADER_LEN + data_len, 0);
        // A poisoned lock only means another reader panicked; the file itself is still valid.
        let mut file = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(first * 2))?;
        file.read_exact(&mut out[wav::HEADER_LEN..])?;
        Ok(out)
    }
}

/// `[start-end]: text` lines in time order (seconds with one decimal, e.g. `[12.3-15.0]: hello`);
/// parts whose text is blank are left out, whitespace inside a text is collapsed to one space.
pub fn transcript_text(parts: &[(Segment, String)]) -> String {
    let mut sorted: Vec<&(Segment, String)> = parts.iter().collect();
    sorted.sort_by(|a, b| a.0.start.total_cmp(&b.0.start));
    let mut out = String::new();
    for (seg, text) in sorted {
        // Line breaks inside a transcript would break the one-line-per-segment format.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("[{:.1}-{:.1}]: {}", seg.start, seg.end, text));
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
