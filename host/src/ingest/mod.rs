//! Ingestion: what happens to a file after it is synced. Text becomes chunked `Resources`,
//! audio is decoded, split at pauses and transcribed, everything else is recorded as stored.
pub mod audio;
pub mod text;
