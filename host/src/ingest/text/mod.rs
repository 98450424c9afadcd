//! Text extraction and chunking for ingestion.
//!
//! Plain-text formats (plain, Markdown, CSV, JSON: kept as written) are decoded here by
//! [`extract`]; every format that needs a parser (HTML, PDF, DOCX, XLSX, PPTX, and whatever a
//! third party adds) goes to a sandboxed extractor ([`crate::extract`]). [`tidy`] normalises
//! either's text and [`chunk`] splits it into overlapping pieces for indexing. Every way a file
//! can be unusable (binary junk, empty, too big) is reported as [`ExtractError::NotIngestible`]
//! with a human-readable reason; only [`ExtractError::Io`] is worth retrying.

mod chunk;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use self::chunk::{ChunkOptions, chunk};

/// A text format ingestion can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text (`.txt`, `.log`, ...).
    Plain,
    /// Markdown, kept as written.
    Markdown,
    /// Comma- or tab-separated values, kept as written.
    Csv,
    /// JSON, kept as written.
    Json,
    /// HTML, reduced to its visible text.
    Html,
    /// PDF with a text layer.
    Pdf,
    /// Word (Office Open XML).
    Docx,
    /// Excel (Office Open XML).
    Xlsx,
    /// PowerPoint (Office Open XML).
    Pptx,
}

impl Format {
    const ALL: [Format; 9] = [
        Format::Plain,
        Format::Markdown,
        Format::Csv,
        Format::Json,
        Format::Html,
        Format::Pdf,
        Format::Docx,
        Format::Xlsx,
        Format::Pptx,
    ];

    /// The stable lowercase name of the format, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Markdown => "markdown",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Xlsx => "xlsx",
            Format::Pptx => "pptx",
        }
    }

    /// Whether the host reads it itself (decoding text, no parsing); the rest go to extractors.
    pub fn is_plain_text(self) -> bool {
        matches!(
            self,
            Format::Plain | Format::Markdown | Format::Csv | Format::Json
        )
    }

    /// Parses a name produced by [`Format::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.as_str() == s)
    }

    /// Maps a MIME type (parameters such as `; charset=utf-8` are ignored) to a format.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime.split(';').next().unwrap_or_default().trim();
        let essence = essence.to_ascii_lowercase();
        Some(match essence.as_str() {
            "text/plain" => Format::Plain,
            "text/markdown" | "text/x-markdown" => Format::Markdown,
            "text/csv" | "text/tab-separated-values" => Format::Csv,
            "application/json" => Format::Json,
            "text/html" | "application/xhtml+xml" => Format::Html,
            "application/pdf" => Format::Pdf,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Format::Docx
            }
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Format::Xlsx,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                Format::Pptx
            }
            _ => return None,
        })
    }

    /// Maps a file extension (without the dot, any case) to a format.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "txt" | "text" | "log" => Format::Plain,
            "md" | "markdown" => Format::Markdown,
            "csv" | "tsv" => Format::Csv,
            "json" => Format::Json,
            "html" | "htm" => Format::Html,
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            "xlsx" => Format::Xlsx,
            "pptx" => Format::Pptx,
            _ => return None,
        })
    }
}

/// Why text could not be extracted from a file.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The file can never yield text (wrong, broken, encrypted, scanned, empty or too big); don't retry.
    #[error("not ingestible: {reason}")]
    NotIngestible {
        /// What is wrong with the file, for people reading the ingestion log.
        reason: String,
    },
    /// Reading the local file failed; retrying may help.
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ExtractError {
    fn not_ingestible(reason: impl Into<String>) -> Self {
        ExtractError::NotIngestible {
            reason: reason.into(),
        }
    }
}

/// Limits for [`extract`].
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Files larger than this many bytes are refused without being read.
    pub max_bytes: u64,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Decode the text of the file at `path` (a local temp file holding the object), for the
/// plain-text formats only ([`Format::is_plain_text`]). At most `max_chars` characters are
/// kept; the flag says whether the text was cut there.
pub fn extract(
    format: Format,
    path: &Path,
    options: &ExtractOptions,
    max_chars: u64,
) -> Result<(String, bool), ExtractError> {
    if !format.is_plain_text() {
        return Err(ExtractError::not_ingestible(format!(
            "{} needs an extractor; the host reads only plain text itself",
            format.as_str()
        )));
    }
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > options.max_bytes {
        return Err(ExtractError::not_ingestible(format!(
            "the file is {size} bytes, over the {} byte limit for text extraction; raise the limit to ingest it",
            options.max_bytes
        )));
    }
    let mut text = p8sync_extractor_sdk::decode_text(&read_capped(file, options.max_bytes)?)
        .map_err(|e| ExtractError::not_ingestible(e.message()))?;
    let truncated = cut_chars(&mut text, max_chars);
    Ok((text, truncated))
}

/// Keep at most `max` characters of `text`; whether any were cut.
pub fn cut_chars(text: &mut String, max: u64) -> bool {
    match text
        .char_indices()
        .nth(usize::try_from(max).unwrap_or(usize::MAX))
    {
        Some((at, _)) => {
            text.truncate(at);
            true
        }
        None => false,
    }
}

/// The text as it is stored: whitespace and control characters normalised; a text with
/// nothing left is refused (`format` words the reason).
pub fn finish(text: &str, format: &str) -> Result<String, ExtractError> {
    let text = p8sync_extractor_sdk::tidy(text);
    if text.is_empty() {
        let reason = match format {
            "pdf" => "no text layer; OCR is not supported",
            _ => "no text",
        };
        return Err(ExtractError::not_ingestible(reason));
    }
    Ok(text)
}

/// Reads the whole file, refusing it if it grew past the limit since we checked its size.
fn read_capped(file: File, max_bytes: u64) -> Result<Vec<u8>, ExtractError> {
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(ExtractError::not_ingestible(format!(
            "the file is over the {max_bytes} byte limit for text extraction; raise the limit to ingest it"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/text/")).join(name)
    }

    /// What text ingestion keeps of a plain-text file.
    fn extract_path(format: Format, path: &Path) -> Result<String, ExtractError> {
        let (text, _) = extract(format, path, &ExtractOptions::default(), u64::MAX)?;
        finish(&text, format.as_str())
    }

    fn text_of(format: Format, name: &str) -> String {
        match extract_path(format, &fixture(name)) {
            Ok(text) => text,
            Err(err) => panic!("{name}: {err}"),
        }
    }

    fn reason_of(format: Format, name: &str) -> String {
        match extract_path(format, &fixture(name)) {
            Err(ExtractError::NotIngestible { reason }) => reason,
            other => panic!("{name}: expected NotIngestible, got {other:?}"),
        }
    }

    fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write temp file");
        (dir, path)
    }

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.as_str()), Some(format));
            let json = serde_json::to_string(&format).expect("serialize");
            assert_eq!(json, format!("\"{}\"", format.as_str()));
        }
        assert_eq!(Format::parse("Plain"), None);
    }

    #[test]
    fn format_from_mime_and_extension() {
        assert_eq!(
            Format::from_mime("text/plain; charset=utf-8"),
            Some(Format::Plain)
        );
        assert_eq!(Format::from_mime("Text/X-Markdown"), Some(Format::Markdown));
        assert_eq!(Format::from_mime("application/pdf"), Some(Format::Pdf));
        assert_eq!(
            Format::from_mime(
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            ),
            Some(Format::Pptx)
        );
        assert_eq!(Format::from_mime("image/png"), None);
        assert_eq!(Format::from_extension("TSV"), Some(Format::Csv));
        assert_eq!(Format::from_extension("htm"), Some(Format::Html));
        assert_eq!(Format::from_extension("log"), Some(Format::Plain));
        assert_eq!(Format::from_extension("doc"), None);
    }

    #[test]
    fn plain_text_strips_bom_and_keeps_unicode() {
        let text = text_of(Format::Plain, "sample.txt");
        assert!(text.starts_with("The quick brown fox"), "{text:?}");
        assert!(text.contains("naïve café résumé — 東京 🚢."));
        assert!(text.contains("April.\n\nSecond paragraph"));
    }

    #[test]
    fn latin1_text_falls_back() {
        let text = text_of(Format::Plain, "latin1.txt");
        assert_eq!(text, "Café au lait coûte deux euros à la gare.");
    }

    #[test]
    fn markdown_csv_json_keep_their_text() {
        let md = text_of(Format::Markdown, "sample.md");
        assert!(md.contains("The **spring tide** arrives twice a month."));
        let csv = text_of(Format::Csv, "sample.csv");
        assert!(csv.contains("\"Antwerp, Port of\",Belgium,99"));
        let json = text_of(Format::Json, "sample.json");
        assert!(json.contains("Refrigerated fruit"));
        assert!(json.contains("First mate Olu"));
    }

    #[test]
    fn parsed_formats_are_not_read_here() {
        for format in [
            Format::Html,
            Format::Pdf,
            Format::Docx,
            Format::Xlsx,
            Format::Pptx,
        ] {
            let reason = reason_of(format, "sample.txt");
            assert!(reason.contains("extractor"), "{reason}");
        }
    }

    #[test]
    fn text_is_cut_at_the_character_cap() {
        let (_dir, path) = temp_file("long.txt", "ünïcödé ".repeat(1000).as_bytes());
        let (text, cut) = extract(Format::Plain, &path, &ExtractOptions::default(), 10).unwrap();
        assert!(cut);
        assert_eq!(text, "ünïcödé ün");
        let (text, cut) = extract(Format::Plain, &path, &ExtractOptions::default(), 8000).unwrap();
        assert!(!cut, "exactly at the cap is not cut");
        assert_eq!(text.chars().count(), 8000);
    }

    #[test]
    fn binary_junk_is_refused() {
        let reason = reason_of(Format::Plain, "junk.bin");
        assert!(reason.contains("binary"), "{reason}");
        let (_dir, path) = temp_file(
            "controls.txt",
            &[0x01, 0x02, 0x03, b'a', 0x1b, 0x7f].repeat(50),
        );
        let err = extract_path(Format::Plain, &path);
        assert!(
            matches!(err, Err(ExtractError::NotIngestible { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn empty_and_blank_files_are_refused() {
        for bytes in [&b""[..], b" \n\t\r\n ", b"\xef\xbb\xbf"] {
            let (_dir, path) = temp_file("empty.txt", bytes);
            match extract_path(Format::Plain, &path) {
                Err(ExtractError::NotIngestible { reason }) => assert_eq!(reason, "no text"),
                other => panic!("expected NotIngestible, got {other:?}"),
            }
        }
        match finish(" \n", "pdf") {
            Err(ExtractError::NotIngestible { reason }) => assert!(reason.contains("OCR")),
            other => panic!("expected NotIngestible, got {other:?}"),
        }
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let options = ExtractOptions { max_bytes: 10 };
        match extract(Format::Plain, &fixture("sample.txt"), &options, u64::MAX) {
            Err(ExtractError::NotIngestible { reason }) => {
                assert!(reason.contains("limit"), "{reason}")
            }
            other => panic!("expected NotIngestible, got {other:?}"),
        }
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = extract_path(Format::Plain, &fixture("does-not-exist.txt"));
        assert!(matches!(err, Err(ExtractError::Io(_))), "{err:?}");
    }

    #[test]
    fn junk_never_panics_in_any_plain_format() {
        for seed in 0..8 {
            let (_dir, path) = temp_file("junk", &junk(2048, seed));
            for format in Format::ALL.into_iter().filter(|f| f.is_plain_text()) {
                let result = extract_path(format, &path);
                assert!(
                    matches!(result, Err(ExtractError::NotIngestible { .. })),
                    "{format:?} seed {seed}: {result:?}"
                );
            }
        }
    }

    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    pub(super) fn junk(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }
}
