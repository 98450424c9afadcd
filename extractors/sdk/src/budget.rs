//! The decompression budget: `limits.max-decompressed-bytes` for all compressed streams of one
//! file together.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use crate::ExtractError;

const MIB: u64 = 1024 * 1024;

/// `bytes` for people: "64 MiB", "1.5 MiB", or "512 bytes" below one MiB.
pub fn mib(bytes: u64) -> String {
    if bytes < MIB {
        format!("{bytes} bytes")
    } else if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// Bytes an extractor may still inflate from this file. Clones share the same budget, so a
/// [`BudgetReader`] per zip entry or PDF stream charges one total.
///
/// Once spent, every charge fails with [`ExtractError::Limit`] ("decompressed bytes: 64 MiB
/// reached while reading xl/sharedStrings.xml"); [`Budget::exceeded`] gives that error back to
/// code that only saw an I/O or parse error from a library reading through a [`BudgetReader`].
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    limit: u64,
    used: u64,
    exceeded: Option<ExtractError>,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                limit,
                used: 0,
                exceeded: None,
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The whole budget.
    pub fn limit(&self) -> u64 {
        self.state().limit
    }

    /// Bytes charged so far.
    pub fn used(&self) -> u64 {
        self.state().used
    }

    /// Bytes still allowed.
    pub fn remaining(&self) -> u64 {
        let s = self.state();
        s.limit.saturating_sub(s.used)
    }

    /// Charge `bytes` inflated while reading `what`; fails once the total passes the limit.
    pub fn charge(&self, bytes: u64, what: &str) -> Result<(), ExtractError> {
        let mut s = self.state();
        if let Some(err) = &s.exceeded {
            return Err(err.clone());
        }
        s.used = s.used.saturating_add(bytes);
        if s.used > s.limit {
            let err = ExtractError::limit(format!(
                "decompressed bytes: {} reached while reading {what}",
                mib(s.limit)
            ));
            s.exceeded = Some(err.clone());
            return Err(err);
        }
        Ok(())
    }

    /// Refuse up front a stream that declares (in a zip header, a PDF dictionary) that it
    /// inflates past what is left. A declaration is only a claim: read through a
    /// [`BudgetReader`] all the same.
    pub fn check_declared(&self, declared: u64, what: &str) -> Result<(), ExtractError> {
        let mut s = self.state();
        if let Some(err) = &s.exceeded {
            return Err(err.clone());
        }
        if declared > s.limit.saturating_sub(s.used) {
            let err = ExtractError::limit(format!(
                "decompressed bytes: {what} declares {}, past the {} budget ({} left)",
                mib(declared),
                mib(s.limit),
                mib(s.limit.saturating_sub(s.used))
            ));
            s.exceeded = Some(err.clone());
            return Err(err);
        }
        Ok(())
    }

    /// The limit error, once the budget has been exceeded.
    pub fn exceeded(&self) -> Option<ExtractError> {
        self.state().exceeded.clone()
    }

    /// Wraps a decompressing reader so that every byte it yields is charged to this budget.
    pub fn reader<R: Read>(&self, inner: R, what: impl Into<String>) -> BudgetReader<R> {
        BudgetReader {
            inner,
            budget: self.clone(),
            what: what.into(),
        }
    }
}

/// A reader that charges what it yields to a [`Budget`]; past the budget, reads fail with an
/// [`io::Error`] wrapping the [`ExtractError::Limit`] (see [`BudgetReader::limit_error`]).
#[derive(Debug)]
pub struct BudgetReader<R> {
    inner: R,
    budget: Budget,
    what: String,
}

impl<R> BudgetReader<R> {
    /// The [`ExtractError`] inside an I/O error produced by a `BudgetReader`, if it is one.
    pub fn limit_error(err: &io::Error) -> Option<ExtractError> {
        err.get_ref()
            .and_then(|inner| inner.downcast_ref::<ExtractError>())
            .cloned()
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for BudgetReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget
            .charge(n as u64, &self.what)
            .map_err(io::Error::other)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_shared_and_named() {
        let budget = Budget::new(3 * MIB);
        let mut a = budget.reader(io::repeat(b'x').take(2 * MIB), "a.xml");
        io::copy(&mut a, &mut io::sink()).expect("within budget");
        assert_eq!(budget.used(), 2 * MIB);
        let mut b = budget.reader(io::repeat(b'x'), "xl/sharedStrings.xml");
        let err = io::copy(&mut b, &mut io::sink()).expect_err("past budget");
        let limit = BudgetReader::<()>::limit_error(&err).expect("limit inside");
        assert_eq!(
            limit,
            ExtractError::limit(
                "decompressed bytes: 3 MiB reached while reading xl/sharedStrings.xml"
            )
        );
        assert_eq!(budget.exceeded(), Some(limit));
    }

    #[test]
    fn declared_sizes_are_refused_early() {
        let budget = Budget::new(MIB);
        budget.check_declared(1000, "small").expect("fits");
        let err = budget
            .check_declared(8 * MIB, "word/document.xml")
            .unwrap_err();
        assert!(err.is_limit(), "{err}");
        assert!(
            err.message().contains("word/document.xml declares 8 MiB"),
            "{err}"
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(mib(64 * MIB), "64 MiB");
        assert_eq!(mib(MIB + MIB / 2), "1.5 MiB");
        assert_eq!(mib(512), "512 bytes");
    }
}
