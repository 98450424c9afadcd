//! The built-in `pdf` extractor: the text layer of a PDF, with pdf-extract (lopdf).
//!
//! pdf-extract trusts the file: it inflates every stream it touches without a bound, follows
//! `/Parent` chains and form XObjects recursively, and walks a page tree that may list the
//! same node again and again. So before it sees the document:
//!
//! 1. [`decode::prescan_object_streams`] inflates, within the budget and without keeping the
//!    result, the object streams and cross-reference streams lopdf decompresses while loading;
//! 2. after loading (and decrypting with the empty password, for owner-password-only files),
//!    [`guard::prepare`] drops image data (never text), inflates every other stream once
//!    within the `max-decompressed-bytes` budget and stores it plain (so pdf-extract never
//!    inflates anything), cuts page-tree and `/Parent` loops, drops form XObject invocations
//!    that recurse or nest deeper than [`guard::MAX_FORM_DEPTH`], and refuses documents whose
//!    forms expand to more than [`guard::MAX_DRAWINGS`] drawings (the PDF billion laughs);
//! 3. pdf-extract writes its text through [`Tidy`] to the sink, and stops when the sink does.
//!
//! pdf-extract still panics on fonts and encodings it doesn't know. Natively that is caught
//! and reported as a corrupt PDF; in the component (no unwinding on wasm) it traps, after the
//! SDK's panic hook has logged the message to the host.

pub mod decode;
pub mod guard;

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use p8sync_extractor_sdk::log::stage;
use p8sync_extractor_sdk::{
    Budget, Extract, ExtractError, Info, Input, Limits, OutputKind, Request, Sink, Summary,
    TextSink, Tidy,
};
use pdf_extract::{ConvertToFmt, Document, PlainTextOutput};

/// The `pdf` extractor.
pub struct Pdf;

impl Extract for Pdf {
    fn info() -> Info {
        Info {
            id: "pdf".into(),
            name: "PDF text layer".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            output: OutputKind::Text,
            formats: vec!["pdf".into()],
            mime_types: vec!["application/pdf".into()],
            memory_mib: 256,
        }
    }

    fn extract(
        mut input: Input,
        request: &Request,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ExtractError> {
        let bytes = input.read_all().map_err(|err| {
            ExtractError::limit(format!(
                "memory: the PDF could not be read into memory ({err})"
            ))
        })?;
        extract_pdf(&bytes, &request.limits, sink)
    }
}

p8sync_extractor_sdk::export!(Pdf);

/// Extracts the text layer of the PDF `bytes` into `out`, tidied, within `limits`. An empty
/// result is "no text layer; OCR is not supported".
pub fn extract_pdf(
    bytes: &[u8],
    limits: &Limits,
    out: &mut dyn TextSink,
) -> Result<Summary, ExtractError> {
    // The header may follow a little junk (the spec allows it within the first KiB).
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(ExtractError::not_ingestible(
            "not a PDF file (no %PDF- header)",
        ));
    }
    let mut tidy = Tidy::new(out);
    // pdf-extract asserts its way through fonts and encodings it doesn't know; a panic there
    // says the file is beyond it, not that the worker is broken.
    panic::catch_unwind(AssertUnwindSafe(|| {
        extract_unguarded(bytes, limits, &mut tidy)
    }))
    .unwrap_or_else(|_| {
        Err(ExtractError::not_ingestible(
            "the PDF could not be read (the PDF parser gave up on its fonts or structure)",
        ))
    })?;
    if !tidy.has_text() {
        return Err(ExtractError::not_ingestible(
            "no text layer; OCR is not supported",
        ));
    }
    Ok(Summary::default())
}

fn extract_unguarded(
    bytes: &[u8],
    limits: &Limits,
    out: &mut dyn TextSink,
) -> Result<(), ExtractError> {
    let budget = Budget::new(limits.max_decompressed_bytes);
    stage("the object streams");
    decode::prescan_object_streams(bytes, &budget)?;
    stage("the document structure");
    let mut doc = Document::load_mem(bytes).map_err(|err| match err {
        pdf_extract::Error::Decryption(_) => encrypted(),
        err => ExtractError::not_ingestible(format!("the PDF is corrupt: {err}")),
    })?;
    if doc.is_encrypted() {
        // Owner-password-only PDFs (copy/print restrictions) open with the empty user
        // password; anything else needs a password we don't have.
        doc.decrypt("").map_err(|_| encrypted())?;
    }
    stage("the streams, the page tree and the forms");
    guard::prepare(&mut doc, &budget)?;
    if doc.get_pages().is_empty() {
        return Err(ExtractError::not_ingestible("the PDF has no pages"));
    }
    let mut writer = SinkWriter {
        sink: out,
        buf: String::new(),
        stopped: false,
    };
    stage("the text of the pages");
    let result = {
        let mut output = PlainTextOutput::new(&mut writer);
        pdf_extract::output_doc(&doc, &mut output)
    };
    writer.flush();
    match result {
        Ok(()) => Ok(()),
        // Our writer failed on purpose: the host has all the text it keeps.
        Err(_) if writer.stopped => Ok(()),
        Err(err) => Err(ExtractError::not_ingestible(format!(
            "the PDF's text could not be read: {err}"
        ))),
    }
}

fn encrypted() -> ExtractError {
    ExtractError::not_ingestible(
        "the PDF is encrypted (password-protected); remove the password to ingest it",
    )
}

/// pdf-extract's output as a `fmt::Write` into the sink, batched; fails (which ends
/// pdf-extract's walk) once the sink says stop.
struct SinkWriter<'a> {
    sink: &'a mut dyn TextSink,
    buf: String,
    stopped: bool,
}

impl SinkWriter<'_> {
    fn flush(&mut self) {
        if !self.stopped && !self.buf.is_empty() && !self.sink.text(&self.buf) {
            self.stopped = true;
        }
        self.buf.clear();
    }
}

impl fmt::Write for SinkWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.stopped {
            return Err(fmt::Error);
        }
        self.buf.push_str(s);
        if self.buf.len() >= 16 * 1024 {
            self.flush();
            if self.stopped {
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

impl<'b, 'a> ConvertToFmt for &'b mut SinkWriter<'a> {
    type Writer = &'b mut SinkWriter<'a>;
    fn convert(self) -> Self::Writer {
        self
    }
}
