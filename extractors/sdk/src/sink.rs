//! Where an extractor's output goes.

use crate::{Limits, SAMPLE_RATE};

/// Text output. `false` means the host keeps no more: stop and return `Ok`.
pub trait TextSink {
    /// Append `text`; false once the cap is reached (the text may have been cut).
    fn text(&mut self, text: &str) -> bool;
}

/// PCM output: mono, [`SAMPLE_RATE`] Hz, signed 16-bit. `false` means stop and return `Ok`.
pub trait PcmSink {
    /// Append `samples`; false once the duration cap is reached.
    fn pcm(&mut self, samples: &[i16]) -> bool;
}

/// Both outputs; an extractor uses the one its [`crate::Info::output`] declares.
pub trait Sink: TextSink + PcmSink {}
impl<T: TextSink + PcmSink> Sink for T {}

impl<T: TextSink + ?Sized> TextSink for &mut T {
    fn text(&mut self, text: &str) -> bool {
        (**self).text(text)
    }
}

impl<T: PcmSink + ?Sized> PcmSink for &mut T {
    fn pcm(&mut self, samples: &[i16]) -> bool {
        (**self).pcm(samples)
    }
}

/// Collects output in memory with the host's caps (text cut at `max_chars` characters, PCM at
/// `max_audio_seconds`), answering `false` the way the host does: exactly at the cap is still
/// `true`, only output past it is cut. For native tests and benchmarks.
#[derive(Debug, Default)]
pub struct Collector {
    /// The text kept.
    pub text: String,
    /// The samples kept.
    pub samples: Vec<i16>,
    /// Characters in `text`.
    pub chars: u64,
    /// Text past the cap was cut.
    pub text_truncated: bool,
    /// Samples past the cap were cut.
    pub pcm_truncated: bool,
    /// Calls to `text` (to check batching).
    pub text_calls: u64,
    max_chars: u64,
    max_samples: u64,
}

impl Collector {
    /// A collector with the caps of `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            max_chars: limits.max_chars,
            max_samples: limits
                .max_audio_seconds
                .saturating_mul(u64::from(SAMPLE_RATE)),
            ..Self::default()
        }
    }
}

impl TextSink for Collector {
    fn text(&mut self, text: &str) -> bool {
        self.text_calls += 1;
        if self.text_truncated {
            return false;
        }
        let room = self.max_chars.saturating_sub(self.chars);
        let n = text.chars().count() as u64;
        if n <= room {
            self.text.push_str(text);
            self.chars += n;
            return true;
        }
        let cut = text
            .char_indices()
            .nth(room as usize)
            .map_or(text.len(), |(i, _)| i);
        self.text.push_str(&text[..cut]);
        self.chars += room;
        self.text_truncated = true;
        false
    }
}

impl PcmSink for Collector {
    fn pcm(&mut self, samples: &[i16]) -> bool {
        if self.pcm_truncated {
            return false;
        }
        let room = self.max_samples.saturating_sub(self.samples.len() as u64);
        let take = (samples.len() as u64).min(room) as usize;
        self.samples.extend_from_slice(&samples[..take]);
        if take < samples.len() {
            self.pcm_truncated = true;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_cuts_like_the_host() {
        let limits = Limits {
            max_chars: 5,
            max_audio_seconds: 1,
            ..Limits::default()
        };
        let mut c = Collector::new(&limits);
        assert!(c.text("héllo"));
        assert!(!c.text("!"));
        assert_eq!(c.text, "héllo");
        assert!(c.pcm(&[1; 16_000]));
        assert!(!c.pcm(&[2; 3]));
        assert_eq!(c.samples.len(), 16_000);
    }
}
