//! Where decoded samples go: a scratch file of 16 kHz mono s16le, and the per-frame energy
//! profile speech detection reads.

use super::segment::FRAME_SAMPLES;
use crate::extract::PcmSink;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes gathered before they are written.
const WRITE_BUFFER: usize = 1 << 16;

/// Takes decoded samples: writes them to an unnamed scratch file (runs of digital silence
/// become holes, so ten hours of silence cost no disk) and measures each 20 ms frame's level.
pub struct PcmScratch {
    file: File,
    pending: Vec<u8>,
    samples: u64,
    frame_db: Vec<f32>,
    frame_sum: f64,
    frame_len: usize,
}

impl std::fmt::Debug for PcmScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcmScratch")
            .field("samples", &self.samples)
            .finish()
    }
}

impl PcmScratch {
    /// A scratch file in `dir` (created if missing).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(PcmScratch {
            file: tempfile::tempfile_in(dir)?,
            pending: Vec::with_capacity(WRITE_BUFFER),
            samples: 0,
            frame_db: Vec::new(),
            frame_sum: 0.0,
            frame_len: 0,
        })
    }

    fn flush_pending(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.file.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
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

    /// The scratch file (at its start), the number of samples in it, and the level of each
    /// frame in dBFS.
    pub fn finish(mut self) -> std::io::Result<(File, u64, Vec<f32>)> {
        self.finish_frame();
        self.flush_pending()?;
        // A trailing hole is only a hole once the file is that long.
        self.file.set_len(self.samples * 2)?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok((self.file, self.samples, self.frame_db))
    }
}

impl PcmSink for PcmScratch {
    fn write(&mut self, samples: &[i16]) -> std::io::Result<()> {
        let mut silent = true;
        for &s in samples {
            silent &= s == 0;
            let x = f64::from(s) / 32768.0;
            self.frame_sum += x * x;
            self.frame_len += 1;
            if self.frame_len == FRAME_SAMPLES {
                self.finish_frame();
            }
        }
        self.samples += samples.len() as u64;
        if silent {
            self.flush_pending()?;
            self.file
                .seek(SeekFrom::Current(samples.len() as i64 * 2))?;
        } else {
            self.pending
                .extend(samples.iter().flat_map(|s| s.to_le_bytes()));
            if self.pending.len() >= WRITE_BUFFER {
                self.flush_pending()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn frames_levels_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = PcmScratch::new(dir.path()).unwrap();
        let half = (0.5f64 * 32768.0) as i16;
        sink.write(&vec![half; FRAME_SAMPLES * 2]).unwrap();
        sink.write(&vec![0; FRAME_SAMPLES]).unwrap();
        sink.write(&[half; 10]).unwrap();
        let (mut file, samples, frame_db) = sink.finish().unwrap();
        assert_eq!(samples, (FRAME_SAMPLES * 3 + 10) as u64);
        assert_eq!(frame_db.len(), 4);
        assert!((frame_db[0] - (-6.02)).abs() < 0.05, "{frame_db:?}");
        assert!(frame_db[2] <= -99.0, "silence: {frame_db:?}");
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, samples * 2);
        let at = |i: usize| i16::from_le_bytes([bytes[i * 2], bytes[i * 2 + 1]]);
        assert_eq!(at(0), half);
        assert_eq!(at(FRAME_SAMPLES * 2 + 5), 0, "the hole reads as silence");
        assert_eq!(at(FRAME_SAMPLES * 3 + 9), half);
    }
}
