//! The file being extracted, as `Read + Seek`.

use std::io::{self, Cursor, Read, Seek, SeekFrom};

/// What an [`Input`] can wrap: any seekable reader that may move between threads (symphonia's
/// media sources require `Send + Sync`).
pub trait Source: Read + Seek + Send + Sync {}
impl<T: Read + Seek + Send + Sync> Source for T {}

/// The input file: in a component the host's `read` behind a buffered window
/// ([`crate::host::HostReader`]); natively a `Cursor` or a `File`.
pub struct Input {
    inner: Box<dyn Source>,
    size: u64,
}

impl Input {
    /// An input of `size` bytes read from `inner`.
    pub fn new(inner: impl Source + 'static, size: u64) -> Self {
        Self {
            inner: Box::new(inner),
            size,
        }
    }

    /// An input over bytes in memory (tests, benchmarks).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        let size = bytes.len() as u64;
        Self::new(Cursor::new(bytes), size)
    }

    /// The input's size in bytes, as the host reported it.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole input, for formats that need it in memory (PDF, HTML). An allocation that
    /// doesn't fit fails with [`io::ErrorKind::OutOfMemory`] instead of trapping.
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.inner.seek(SeekFrom::Start(0))?;
        let size = usize::try_from(self.size).map_err(|_| io::ErrorKind::OutOfMemory)?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(size).map_err(|_| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                "the input does not fit in memory",
            )
        })?;
        (&mut self.inner).take(self.size).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Up to `buf.len()` bytes from the start of the input (magic numbers), leaving the
    /// position at the start.
    pub fn peek_start(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.seek(SeekFrom::Start(0))?;
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.inner.seek(SeekFrom::Start(0))?;
        Ok(filled)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Seek for Input {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("size", &self.size).finish()
    }
}
