//! The built-in `audio` extractor: any common audio file to 16 kHz mono signed 16-bit PCM.
//!
//! symphonia demuxes and decodes (WAV, MP3, FLAC, Ogg Vorbis, MP4/M4A AAC) packet by packet;
//! each packet is downmixed to mono, resampled to 16 kHz ([`resample::Resampler`]), clipped to
//! s16 and emitted. Nothing is sized from the file's claims (a WAV header announcing 2^32
//! samples just means "read until the data ends"), a truncated or corrupt file keeps what
//! decoded, and output stops at `max-audio-seconds`. Memory is a few packets' worth.

mod decode;
pub mod resample;

use p8sync_extractor_sdk::{
    Extract, ExtractError, Info, Input, OutputKind, Request, SAMPLE_RATE, Sink, Summary,
};

pub use decode::decode_audio;

/// The `audio` extractor.
pub struct Audio;

impl Extract for Audio {
    fn info() -> Info {
        Info {
            id: "audio".into(),
            name: "Audio (WAV, MP3, FLAC, Ogg Vorbis, AAC)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            output: OutputKind::Pcm,
            formats: ["wav", "mp3", "flac", "ogg", "oga", "m4a", "mp4", "aac"]
                .map(String::from)
                .to_vec(),
            mime_types: [
                "audio/wav",
                "audio/x-wav",
                "audio/wave",
                "audio/vnd.wave",
                "audio/mpeg",
                "audio/mp3",
                "audio/flac",
                "audio/x-flac",
                "audio/ogg",
                "audio/vorbis",
                "audio/mp4",
                "audio/x-m4a",
                "audio/aac",
            ]
            .map(String::from)
            .to_vec(),
            memory_mib: 64,
        }
    }

    fn extract(
        input: Input,
        request: &Request,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ExtractError> {
        let size = input.size();
        let mut hints = vec![request.format.as_str()];
        if let Some(mime) = &request.mime_type {
            hints.push(mime.as_str());
        }
        decode_audio(input, size, &hints, sink)
    }
}

p8sync_extractor_sdk::export!(Audio);

/// Samples per second of the output.
pub const OUTPUT_RATE: u32 = SAMPLE_RATE;

/// Float sample in [-1, 1] to 16-bit PCM, clipping rather than wrapping.
pub fn to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}
