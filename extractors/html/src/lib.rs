//! The built-in `html` extractor: the visible text of an HTML page.
//!
//! The bytes are decoded like a plain text file (UTF-8, UTF-16 with a BOM, else
//! Windows-1252; binary data is refused), tokenized with html5ever, and the text runs are
//! streamed out with one paragraph per block element; script, style and template contents are
//! dropped. [`extract_html`] is the whole extractor as a plain function.

mod text;

use p8sync_extractor_sdk::{
    Extract, ExtractError, Info, Input, OutputKind, Request, Sink, Summary, TextSink, Tidy,
};

pub use p8sync_extractor_sdk::decode_text;
pub use text::html_text;

/// The `html` extractor.
pub struct Html;

impl Extract for Html {
    fn info() -> Info {
        Info {
            id: "html".into(),
            name: "HTML pages".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            output: OutputKind::Text,
            formats: ["html", "htm", "xhtml"].map(String::from).to_vec(),
            mime_types: ["text/html", "application/xhtml+xml"]
                .map(String::from)
                .to_vec(),
            memory_mib: 256,
        }
    }

    fn extract(
        mut input: Input,
        _request: &Request,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ExtractError> {
        let bytes = input.read_all().map_err(|err| {
            ExtractError::limit(format!(
                "memory: the HTML could not be read into memory ({err})"
            ))
        })?;
        extract_html(&bytes, sink)
    }
}

p8sync_extractor_sdk::export!(Html);

/// Extracts the visible text of the HTML page `bytes` into `out`, tidied. Fails with "no text"
/// when nothing visible is left.
pub fn extract_html(bytes: &[u8], out: &mut dyn TextSink) -> Result<Summary, ExtractError> {
    p8sync_extractor_sdk::log::stage("the page's bytes");
    let html = decode_text(bytes)?;
    p8sync_extractor_sdk::log::stage("the page's markup");
    let mut tidy = Tidy::new(out);
    html_text(&html, &mut tidy);
    if !tidy.has_text() {
        return Err(ExtractError::not_ingestible("no text"));
    }
    Ok(Summary::default())
}
