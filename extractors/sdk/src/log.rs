//! Log lines. In a component they go to the host, which tags them with the extractor and the
//! file; natively (tests, benchmarks) to stderr. Never log the file's content. [`stage`] tells
//! the host where the extractor is, for its error messages.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that extraction survived.
    Warn,
    /// Something that failed.
    Error,
}

/// Write a log line.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::p8::extractor::host::{LogLevel, log};
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        if level != Level::Trace {
            eprintln!("[{level:?}] {message}");
        }
    }
}

/// Say what the extractor is working on now, as a noun phrase that reads after "while reading"
/// ("xl/sharedStrings.xml", "page 12", "the FLAC stream"), so that when a cap stops it the host
/// can say where. Cheap: the host keeps only the last one (cut to 200
/// bytes). A no-op natively.
pub fn stage(what: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::p8::extractor::host::stage(what);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = what;
}

/// A debug line.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// An info line.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// A warning.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// An error line.
pub fn error(message: &str) {
    log(Level::Error, message);
}
