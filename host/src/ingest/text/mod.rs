//! Text extraction and chunking for ingestion.
//!
//! [`extract`] turns one stored object (already copied to a local temp file) into plain text;
//! [`chunk`] splits that text into overlapping pieces for indexing. Every way a file can be
//! unusable (binary junk, encrypted, scanned, corrupt, too big, empty) is reported as
//! [`ExtractError::NotIngestible`] with a human-readable reason, so the worker can record it
//! and move on; only [`ExtractError::Io`] is worth retrying.

mod chunk;
mod decode;
mod html;
mod office;
mod pdf;

use std::fs::File;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
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

/// Extract the text of the file at `path` (a local temp file holding the object).
pub fn extract(
    format: Format,
    path: &Path,
    options: &ExtractOptions,
) -> Result<String, ExtractError> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > options.max_bytes {
        return Err(ExtractError::not_ingestible(format!(
            "the file is {size} bytes, over the {} byte limit for text extraction; raise the limit to ingest it",
            options.max_bytes
        )));
    }
    // The parsers are third-party code fed with untrusted bytes; a panic in one of them must
    // cost us this file, not the worker thread.
    let text = panic::catch_unwind(AssertUnwindSafe(|| {
        extract_from(format, file, options.max_bytes)
    }))
    .unwrap_or_else(|_| {
        Err(ExtractError::not_ingestible(format!(
            "the {} reader crashed on this file; it is probably corrupt",
            format.as_str()
        )))
    })?;
    let text = decode::tidy(&text);
    if text.is_empty() {
        let reason = match format {
            Format::Pdf => "no text layer; OCR is not supported",
            _ => "no text",
        };
        return Err(ExtractError::not_ingestible(reason));
    }
    Ok(text)
}

fn extract_from(format: Format, file: File, max_bytes: u64) -> Result<String, ExtractError> {
    match format {
        Format::Plain | Format::Markdown | Format::Csv | Format::Json => {
            decode::decode_text(&read_capped(file, max_bytes)?)
        }
        Format::Html => html::extract(&decode::decode_text(&read_capped(file, max_bytes)?)?),
        Format::Pdf => pdf::extract(&read_capped(file, max_bytes)?),
        Format::Docx => office::extract_docx(file),
        Format::Xlsx => office::extract_xlsx(file),
        Format::Pptx => office::extract_pptx(file),
    }
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

    fn extract_fixture(format: Format, name: &str) -> Result<String, ExtractError> {
        extract(format, &fixture(name), &ExtractOptions::default())
    }

    fn text_of(format: Format, name: &str) -> String {
        match extract_fixture(format, name) {
            Ok(text) => text,
            Err(err) => panic!("{name}: {err}"),
        }
    }

    fn reason_of(format: Format, name: &str) -> String {
        match extract_fixture(format, name) {
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
    fn html_keeps_visible_text_only() {
        let text = text_of(Format::Html, "sample.html");
        assert!(text.contains("The keeper lit the lamp at dusk & trimmed the wick."));
        assert!(text.contains("Ships passed safely all night.\nNo fog was reported."));
        assert!(text.contains("Oil: full\nLens: clean"));
        assert!(
            text.contains("wick.\n\nShips"),
            "paragraphs stay apart: {text:?}"
        );
        for absent in [
            "<",
            ">",
            "secretScriptMarker",
            "secondScriptMarker",
            "hidden-style-marker",
            "comment that must not appear",
            "Enable JavaScript",
        ] {
            assert!(!text.contains(absent), "{absent:?} leaked into {text:?}");
        }
    }

    #[test]
    fn pdf_yields_text_of_every_page() {
        let text = text_of(Format::Pdf, "sample.pdf");
        assert!(text.contains("Quarterly report for the lighthouse keepers."));
        assert!(text.contains("foghorn maintenance schedule"));
    }

    #[test]
    fn encrypted_pdf_is_refused() {
        let reason = reason_of(Format::Pdf, "encrypted.pdf");
        assert!(reason.contains("encrypted"), "{reason}");
    }

    #[test]
    fn scanned_pdf_is_refused() {
        let reason = reason_of(Format::Pdf, "scanned.pdf");
        assert_eq!(reason, "no text layer; OCR is not supported");
    }

    #[test]
    fn corrupt_pdf_is_refused() {
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.extend(junk(8192, 3));
        let (_dir, path) = temp_file("broken.pdf", &bytes);
        match extract(Format::Pdf, &path, &ExtractOptions::default()) {
            Err(ExtractError::NotIngestible { reason }) => {
                assert!(reason.contains("PDF"), "{reason}")
            }
            other => panic!("expected NotIngestible, got {other:?}"),
        }
    }

    #[test]
    fn docx_yields_paragraphs_and_tables() {
        let text = text_of(Format::Docx, "sample.docx");
        assert!(text.starts_with("Harbour Operations Manual\n"), "{text:?}");
        assert!(text.contains("Vessels must report their position before entering the harbour."));
        assert!(text.contains("Pilots board at the outer buoy, weather permitting."));
        assert!(
            text.contains("Berth\tDepth\nNorth quay\t12 metres\n"),
            "{text:?}"
        );
        assert!(text.contains("Fish & chips are sold at the <east> gate."));
    }

    #[test]
    fn xlsx_yields_one_block_per_sheet() {
        let text = text_of(Format::Xlsx, "sample.xlsx");
        assert!(text.contains("Inventory\nItem\tQuantity\tLocation\nRope\t40\tShed A"));
        assert!(text.contains("Staff\nName\tRole\nAda\tHarbour master"));
        let inventory = text.find("Inventory").expect("first sheet");
        let staff = text.find("Staff").expect("second sheet");
        assert!(inventory < staff);
    }

    #[test]
    fn pptx_yields_slides_in_order() {
        let text = text_of(Format::Pptx, "sample.pptx");
        let order: Vec<usize> = [
            "Welcome aboard",
            "Safety briefing for new crew",
            "Lifejackets",
            "Muster stations",
            "Questions go to the purser.",
        ]
        .iter()
        .map(|phrase| {
            text.find(phrase)
                .unwrap_or_else(|| panic!("{phrase} in {text:?}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text:?}");
    }

    #[test]
    fn encrypted_docx_is_refused() {
        let reason = reason_of(Format::Docx, "encrypted.docx");
        assert!(reason.contains("encrypted"), "{reason}");
    }

    #[test]
    fn binary_junk_is_refused() {
        let reason = reason_of(Format::Plain, "junk.bin");
        assert!(reason.contains("binary"), "{reason}");
        let (_dir, path) = temp_file(
            "controls.txt",
            &[0x01, 0x02, 0x03, b'a', 0x1b, 0x7f].repeat(50),
        );
        let err = extract(Format::Plain, &path, &ExtractOptions::default());
        assert!(
            matches!(err, Err(ExtractError::NotIngestible { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn empty_and_blank_files_are_refused() {
        for bytes in [&b""[..], b" \n\t\r\n ", b"\xef\xbb\xbf"] {
            let (_dir, path) = temp_file("empty.txt", bytes);
            match extract(Format::Plain, &path, &ExtractOptions::default()) {
                Err(ExtractError::NotIngestible { reason }) => assert_eq!(reason, "no text"),
                other => panic!("expected NotIngestible, got {other:?}"),
            }
        }
        let (_dir, path) = temp_file("empty.html", b"<html><script>x()</script></html>");
        let err = extract(Format::Html, &path, &ExtractOptions::default());
        assert!(
            matches!(err, Err(ExtractError::NotIngestible { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn corrupt_office_files_are_refused() {
        for (format, name) in [
            (Format::Docx, "broken.docx"),
            (Format::Xlsx, "broken.xlsx"),
            (Format::Pptx, "broken.pptx"),
        ] {
            let (_dir, path) = temp_file(name, &junk(4096, 7));
            match extract(format, &path, &ExtractOptions::default()) {
                Err(ExtractError::NotIngestible { reason }) => {
                    assert!(reason.contains(&format.as_str().to_uppercase()), "{reason}")
                }
                other => panic!("{name}: expected NotIngestible, got {other:?}"),
            }
        }
        // A real zip that is not a Word document.
        let bytes = std::fs::read(fixture("sample.xlsx")).expect("fixture");
        let (_dir, path) = temp_file("sheet.docx", &bytes);
        let err = extract(Format::Docx, &path, &ExtractOptions::default());
        assert!(
            matches!(err, Err(ExtractError::NotIngestible { .. })),
            "{err:?}"
        );
        // A truncated zip.
        let bytes = std::fs::read(fixture("sample.docx")).expect("fixture");
        let (_dir, path) = temp_file("cut.docx", &bytes[..bytes.len() / 2]);
        let err = extract(Format::Docx, &path, &ExtractOptions::default());
        assert!(
            matches!(err, Err(ExtractError::NotIngestible { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let options = ExtractOptions { max_bytes: 10 };
        match extract(Format::Plain, &fixture("sample.txt"), &options) {
            Err(ExtractError::NotIngestible { reason }) => {
                assert!(reason.contains("limit"), "{reason}")
            }
            other => panic!("expected NotIngestible, got {other:?}"),
        }
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = extract(
            Format::Plain,
            &fixture("does-not-exist.txt"),
            &ExtractOptions::default(),
        );
        assert!(matches!(err, Err(ExtractError::Io(_))), "{err:?}");
    }

    #[test]
    fn junk_never_panics_in_any_format() {
        for seed in 0..8 {
            let (_dir, path) = temp_file("junk", &junk(2048, seed));
            for format in Format::ALL {
                let result = extract(format, &path, &ExtractOptions::default());
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
