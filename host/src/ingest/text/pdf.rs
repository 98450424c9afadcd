//! PDF text layer extraction.

use std::panic::{self, AssertUnwindSafe};

use pdf_extract::{Document, PlainTextOutput};

use super::ExtractError;

/// Extracts the text layer of a PDF; an empty result means there is none (a scan).
pub(super) fn extract(bytes: &[u8]) -> Result<String, ExtractError> {
    // The header may follow a little junk (the spec allows it within the first KiB).
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(ExtractError::not_ingestible(
            "not a PDF file (no %PDF- header)",
        ));
    }
    // pdf-extract asserts its way through fonts and encodings it doesn't know; a panic there
    // says the file is beyond it, not that the worker is broken.
    panic::catch_unwind(AssertUnwindSafe(|| extract_unguarded(bytes))).unwrap_or_else(|_| {
        Err(ExtractError::not_ingestible(
            "the PDF could not be read (the PDF parser gave up on its fonts or structure)",
        ))
    })
}

fn extract_unguarded(bytes: &[u8]) -> Result<String, ExtractError> {
    let mut doc = Document::load_mem(bytes).map_err(|err| match err {
        pdf_extract::Error::Decryption(_) => encrypted(),
        err => ExtractError::not_ingestible(format!("the PDF is corrupt: {err}")),
    })?;
    if doc.is_encrypted() {
        // Owner-password-only PDFs (copy/print restrictions) open with the empty user
        // password; anything else needs a password we don't have.
        doc.decrypt("").map_err(|_| encrypted())?;
    }
    if doc.get_pages().is_empty() {
        return Err(ExtractError::not_ingestible("the PDF has no pages"));
    }
    let mut text = String::new();
    {
        let mut output = PlainTextOutput::new(&mut text);
        pdf_extract::output_doc(&doc, &mut output).map_err(|err| {
            ExtractError::not_ingestible(format!("the PDF's text could not be read: {err}"))
        })?;
    }
    Ok(text)
}

fn encrypted() -> ExtractError {
    ExtractError::not_ingestible(
        "the PDF is encrypted (password-protected); remove the password to ingest it",
    )
}
