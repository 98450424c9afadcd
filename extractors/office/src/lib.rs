//! The built-in `office` extractor: the text of Office Open XML documents.
//!
//! * DOCX: the main document part, one line per paragraph, table rows as tab-separated cells.
//! * PPTX: every slide in presentation order, slides separated by blank lines.
//! * XLSX: every worksheet as a block: its name, then one line per row, cells tab-separated.
//!   Read by our own streaming reader (not calamine): nothing is pre-sized from the file's
//!   claims (`uniqueCount`), shared strings are kept once and cut at `max-chars`, and sheets
//!   stream cell by cell, so output stops as soon as the host has `max-chars`.
//!
//! Every zip entry is read through one [`Budget`] of `max-decompressed-bytes` (an entry that
//! declares more than what is left is refused before it is inflated; one that lies is stopped
//! when it reaches the budget), and a package with more than [`MAX_ENTRIES`] entries is
//! refused. XML is parsed as a stream (quick-xml), which never expands DTD entities.

mod package;
mod rels;
mod text;
mod xlsx;

use std::io::{Read, Seek};

use p8sync_extractor_sdk::{
    Budget, Extract, ExtractError, Info, Input, Limits, OutputKind, Request, Sink, Summary,
    TextSink, Tidy,
};

pub use package::MAX_ENTRIES;

/// The `office` extractor.
pub struct Office;

/// The kind of document, chosen by the host's `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Word.
    Docx,
    /// Excel.
    Xlsx,
    /// PowerPoint.
    Pptx,
}

impl Kind {
    /// The kind for a format (file extension) the extractor declares.
    pub fn from_format(format: &str) -> Option<Self> {
        Some(match format.to_ascii_lowercase().as_str() {
            "docx" | "docm" => Kind::Docx,
            "xlsx" | "xlsm" => Kind::Xlsx,
            "pptx" | "pptm" => Kind::Pptx,
            _ => return None,
        })
    }

    /// The upper-case label used in messages ("DOCX").
    pub fn label(self) -> &'static str {
        match self {
            Kind::Docx => "DOCX",
            Kind::Xlsx => "XLSX",
            Kind::Pptx => "PPTX",
        }
    }
}

impl Extract for Office {
    fn info() -> Info {
        Info {
            id: "office".into(),
            name: "Office documents (Word, Excel, PowerPoint)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            output: OutputKind::Text,
            formats: ["docx", "xlsx", "pptx", "docm", "xlsm", "pptm"]
                .map(String::from)
                .to_vec(),
            mime_types: [
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.ms-word.document.macroEnabled.12",
                "application/vnd.ms-excel.sheet.macroEnabled.12",
                "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
            ]
            .map(String::from)
            .to_vec(),
            memory_mib: 256,
        }
    }

    fn extract(
        input: Input,
        request: &Request,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ExtractError> {
        let kind = Kind::from_format(&request.format).ok_or_else(|| {
            ExtractError::not_ingestible(format!(
                "the office extractor does not read .{} files",
                request.format
            ))
        })?;
        extract_office(input, kind, &request.limits, sink)
    }
}

p8sync_extractor_sdk::export!(Office);

/// Extracts the text of an Office document into `out`, tidied, within `limits`. Fails with
/// "no text" when the document has none.
pub fn extract_office<R: Read + Seek>(
    reader: R,
    kind: Kind,
    limits: &Limits,
    out: &mut dyn TextSink,
) -> Result<Summary, ExtractError> {
    let budget = Budget::new(limits.max_decompressed_bytes);
    let mut tidy = Tidy::new(out);
    let mut package = package::Package::open(reader, kind.label(), budget)?;
    let summary = match kind {
        Kind::Docx => text::docx(&mut package, &mut tidy)?,
        Kind::Pptx => text::pptx(&mut package, &mut tidy)?,
        Kind::Xlsx => xlsx::xlsx(&mut package, limits, &mut tidy)?,
    };
    if !tidy.has_text() {
        return Err(ExtractError::not_ingestible("no text"));
    }
    Ok(summary)
}
