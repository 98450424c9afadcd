//! Log lines, tagged by the host with the provider id and the current sync.

use crate::p8::provider::host::{self, LogLevel};

/// Log at trace level.
pub fn trace(message: impl AsRef<str>) {
    host::log(LogLevel::Trace, message.as_ref());
}

/// Log at debug level.
pub fn debug(message: impl AsRef<str>) {
    host::log(LogLevel::Debug, message.as_ref());
}

/// Log at info level.
pub fn info(message: impl AsRef<str>) {
    host::log(LogLevel::Info, message.as_ref());
}

/// Log at warn level.
pub fn warn(message: impl AsRef<str>) {
    host::log(LogLevel::Warn, message.as_ref());
}

/// Log at error level.
pub fn error(message: impl AsRef<str>) {
    host::log(LogLevel::Error, message.as_ref());
}
