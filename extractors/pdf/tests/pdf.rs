//! The `pdf` extractor's parser, natively: the host's PDF tests, plus hostile documents
//! (FlateDecode twice over 1 GiB, the same bomb in an object stream, reference loops, forms
//! drawing themselves, forms drawing each other a billion times).

use std::io::Write;
use std::time::{Duration, Instant};

use p8sync_extractor_pdf::{Pdf, extract_pdf};
use p8sync_extractor_sdk::{Collector, Extract, ExtractError, Input, Limits, Request};

const MIB: u64 = 1024 * 1024;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../host/tests/fixtures/text/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_with(bytes: &[u8], limits: Limits) -> (Result<(), ExtractError>, Collector) {
    let mut out = Collector::new(&limits);
    let result = extract_pdf(bytes, &limits, &mut out).map(|_| ());
    (result, out)
}

fn text_of(bytes: &[u8]) -> String {
    match run_with(bytes, Limits::default()) {
        (Ok(()), out) => out.text,
        (Err(err), _) => panic!("{err}"),
    }
}

fn reason_of(bytes: &[u8]) -> String {
    match run_with(bytes, Limits::default()).0 {
        Err(ExtractError::NotIngestible(reason)) => reason,
        other => panic!("expected NotIngestible, got {other:?}"),
    }
}

/// A PDF of the given object bodies (object `i + 1` is `objects[i]`), catalog = object 1.
use p8sync_hostile::pdf as pdf_of;

fn obj(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

const FONT: &str = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>";

/// Catalog, pages, one page (object 3) drawing content object 4 with `resources`.
fn one_page(resources: &str, content: Vec<u8>, more: Vec<Vec<u8>>) -> Vec<u8> {
    let mut objects = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {resources} /Contents 4 0 R >>"
        )),
        content,
    ];
    objects.extend(more);
    pdf_of(&objects)
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("compress");
    enc.finish().expect("finish")
}

/// zlib of `count` MiB of spaces, built from one full-flushed compressed MiB repeated (each
/// segment is independent after a full flush), so a 1 GiB stream takes milliseconds to make.
fn zlib_of_spaces(count: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mib = vec![b' '; MIB as usize];
    let mut compress = Compress::new(Compression::best(), false);
    let mut segment = Vec::with_capacity(64 * 1024);
    compress
        .compress_vec(&mib, &mut segment, FlushCompress::Full)
        .expect("compress");
    assert_eq!(compress.total_in(), MIB);
    let mut out = vec![0x78, 0xDA];
    for _ in 0..count {
        out.extend_from_slice(&segment);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    // Adler-32 of n bytes of c: a = 1 + n*c, b = n + c*n*(n+1)/2 (mod 65521).
    let n = u128::from(count * MIB);
    let c = u128::from(b' ');
    let a = (1 + n * c) % 65_521;
    let b = (n + c * n * (n + 1) / 2) % 65_521;
    out.extend_from_slice(&(((b << 16) | a) as u32).to_be_bytes());
    out
}

#[test]
fn info_declares_pdf() {
    let info = Pdf::info();
    assert_eq!(info.id, "pdf");
    assert_eq!(info.formats, ["pdf"]);
    assert_eq!(info.mime_types, ["application/pdf"]);
}

#[test]
fn pdf_yields_text_of_every_page() {
    let bytes = fixture("sample.pdf");
    let limits = Limits::default();
    let mut out = Collector::new(&limits);
    let request = Request::new("pdf", bytes.len() as u64, limits);
    Pdf::extract(Input::from_bytes(bytes), &request, &mut out).expect("sample.pdf");
    assert!(
        out.text
            .contains("Quarterly report for the lighthouse keepers."),
        "{:?}",
        out.text
    );
    assert!(out.text.contains("foghorn maintenance schedule"));
}

#[test]
fn encrypted_pdf_is_refused() {
    let reason = reason_of(&fixture("encrypted.pdf"));
    assert!(reason.contains("encrypted"), "{reason}");
}

#[test]
fn scanned_pdf_is_refused() {
    assert_eq!(
        reason_of(&fixture("scanned.pdf")),
        "no text layer; OCR is not supported"
    );
}

#[test]
fn corrupt_pdf_is_refused() {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend(junk(8192, 3));
    let reason = reason_of(&bytes);
    assert!(reason.contains("PDF"), "{reason}");
    let reason = reason_of(b"hello, not a pdf");
    assert!(reason.contains("PDF"), "{reason}");
}

#[test]
fn junk_never_panics() {
    for seed in 0..8 {
        let result = run_with(&junk(2048, seed), Limits::default()).0;
        assert!(
            matches!(result, Err(ExtractError::NotIngestible(_))),
            "seed {seed}: {result:?}"
        );
        // A real PDF with damaged bytes: readable or refused, never a panic out of here.
        let mut bytes = fixture("sample.pdf");
        let at = 100 + (seed as usize * 1499) % (bytes.len() - 200);
        bytes[at..at + 64].copy_from_slice(&junk(64, seed));
        let _ = run_with(&bytes, Limits::default());
    }
}

#[test]
fn a_page_of_text_we_wrote() {
    let content = stream(
        "",
        b"BT /F1 12 Tf 72 720 Td (Hello from a hand-made page) Tj ET",
    );
    let text = text_of(&one_page(FONT, content, vec![]));
    assert_eq!(text, "Hello from a hand-made page");
}

#[test]
fn output_stops_at_max_chars() {
    let mut ops = String::from("BT /F1 12 Tf 72 720 Td ");
    for _ in 0..2000 {
        ops.push_str("(the same line again and again) Tj 0 -14 Td ");
    }
    ops.push_str("ET");
    let content = stream("/Filter /FlateDecode", &zlib(ops.as_bytes()));
    let limits = Limits {
        max_chars: 500,
        ..Limits::default()
    };
    let (result, out) = run_with(&one_page(FONT, content, vec![]), limits);
    result.expect("capped output is Ok");
    assert_eq!(out.chars, 500);
    assert!(out.text_truncated);
}

/// Hostile: a content stream FlateDecoded twice over 1 GiB of spaces (a few KiB on disk).
/// Inflating it stops at the budget, naming the stream.
#[test]
fn double_flate_gigabyte_stream_stops_at_the_budget() {
    let inner = zlib_of_spaces(1024);
    let outer = zlib(&inner);
    assert!(outer.len() < 256 * 1024, "{}", outer.len());
    let content = stream("/Filter [/FlateDecode /FlateDecode]", &outer);
    let bytes = one_page(FONT, content, vec![]);
    let limits = Limits {
        max_decompressed_bytes: 64 * MIB,
        ..Limits::default()
    };
    let started = Instant::now();
    match run_with(&bytes, limits).0 {
        Err(ExtractError::Limit(reason)) => {
            assert!(reason.contains("decompressed bytes: 64 MiB"), "{reason}");
            assert!(reason.contains("stream 4 0 R"), "{reason}");
        }
        other => panic!("expected Limit, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // Within a big enough budget the same shape of stream is read (16 MiB of spaces).
    let content = stream(
        "/Filter [/FlateDecode /FlateDecode]",
        &zlib(&zlib_of_spaces(16)),
    );
    let page = one_page(FONT, content, vec![]);
    assert_eq!(reason_of(&page), "no text layer; OCR is not supported");
}

/// Hostile: the bomb in an object stream, which lopdf inflates while loading; the raw pre-scan
/// stops it first.
#[test]
fn object_stream_bomb_is_stopped_before_loading() {
    let inner = zlib_of_spaces(1024);
    let outer = zlib(&inner);
    let content = stream("", b"BT /F1 12 Tf 72 720 Td (visible) Tj ET");
    let objstm = stream(
        "/Type /ObjStm /N 1 /First 4 /Filter [/FlateDecode /FlateDecode]",
        &outer,
    );
    let bytes = one_page(FONT, content, vec![objstm]);
    let limits = Limits {
        max_decompressed_bytes: 64 * MIB,
        ..Limits::default()
    };
    let started = Instant::now();
    match run_with(&bytes, limits).0 {
        Err(ExtractError::Limit(reason)) => assert!(reason.contains("object stream"), "{reason}"),
        other => panic!("expected Limit, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

/// Hostile: one stream listed 100,000 times as a page's contents (pdf-extract would
/// concatenate 100 GB).
#[test]
fn repeated_contents_are_refused() {
    let refs = "4 0 R ".repeat(100_000);
    let objects = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {FONT} /Contents [{refs}] >>"
        )),
        stream("/Filter /FlateDecode", &zlib(&vec![b' '; MIB as usize])),
    ];
    let limits = Limits {
        max_decompressed_bytes: 64 * MIB,
        ..Limits::default()
    };
    match run_with(&pdf_of(&objects), limits).0 {
        Err(ExtractError::Limit(reason)) => assert!(reason.contains("page 1"), "{reason}"),
        other => panic!("expected Limit, got {other:?}"),
    }
}

fn ends_within(limit: Duration, what: &str, bytes: &[u8]) -> Result<String, ExtractError> {
    let started = Instant::now();
    let (result, out) = run_with(bytes, Limits::default());
    assert!(started.elapsed() < limit, "{what}: {:?}", started.elapsed());
    result.map(|()| out.text)
}

/// Hostile: reference loops. Each ends quickly, with the text when there is some.
#[test]
fn reference_loops_end() {
    let content = || stream("", b"BT /F1 12 Tf 72 720 Td (looped) Tj ET");
    let limit = Duration::from_secs(20);

    // A page tree whose node lists itself (twice) among its kids.
    let kids_loop = pdf_of(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] /Count 3 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {FONT} /Contents 4 0 R >>"
        )),
        content(),
    ]);
    assert_eq!(
        ends_within(limit, "kids loop", &kids_loop).expect("kids loop"),
        "looped"
    );

    // Two page-tree nodes listing each other, each with many kids (exponential if walked).
    let mut kids = String::new();
    for _ in 0..64 {
        kids.push_str("5 0 R 2 0 R ");
    }
    let tree_loop = pdf_of(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj(&format!("<< /Type /Pages /Kids [3 0 R {kids}] /Count 1 >>")),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {FONT} /Contents 4 0 R >>"
        )),
        content(),
        obj(&format!(
            "<< /Type /Pages /Parent 2 0 R /Kids [{kids}] /Count 1 >>"
        )),
    ]);
    assert_eq!(
        ends_within(limit, "tree loop", &tree_loop).expect("tree loop"),
        "looped"
    );

    // A /Parent loop, with the attributes pdf-extract inherits missing from the page.
    let parent_loop = pdf_of(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 5 0 R >>"),
        obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>"),
        content(),
        obj("<< /Type /Pages /Kids [] /Count 0 /Parent 2 0 R >>"),
    ]);
    let result = ends_within(limit, "parent loop", &parent_loop);
    assert!(
        matches!(result, Err(ExtractError::NotIngestible(_))),
        "{result:?}"
    );

    // Objects that are references to each other.
    let ref_loop = pdf_of(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {FONT} /Contents 4 0 R >>"
        )),
        obj("5 0 R"),
        obj("4 0 R"),
    ]);
    let result = ends_within(limit, "reference loop", &ref_loop);
    assert!(
        matches!(result, Err(ExtractError::NotIngestible(_))),
        "{result:?}"
    );

    // A catalog whose Pages is itself.
    let self_pages = pdf_of(&[obj("<< /Type /Catalog /Pages 1 0 R /Kids [1 0 R] >>")]);
    let result = ends_within(limit, "self pages", &self_pages);
    assert!(
        matches!(result, Err(ExtractError::NotIngestible(_))),
        "{result:?}"
    );
}

/// Hostile: a form XObject that draws itself (pdf-extract would recurse until the stack
/// overflows); the recursive `Do` is dropped and the form's own text kept.
#[test]
fn self_drawing_form_is_defused() {
    let resources = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> /XObject << /X0 5 0 R >> >>";
    let page = stream("", b"/X0 Do");
    let form = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792]",
        b"BT /F1 12 Tf 72 720 Td (inside the form) Tj ET /X0 Do",
    );
    let bytes = one_page(resources, page, vec![form]);
    assert_eq!(
        ends_within(Duration::from_secs(20), "self form", &bytes).expect("self form"),
        "inside the form"
    );
    // Two forms drawing each other, with resources inherited from the page.
    let page = stream("", b"/X0 Do");
    let a = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792]",
        b"BT /F1 12 Tf 72 720 Td (a) Tj ET /X1 Do",
    );
    let b = stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792]",
        b"BT /F1 12 Tf 72 700 Td (b) Tj ET /X0 Do",
    );
    let resources = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> /XObject << /X0 5 0 R /X1 6 0 R >> >>";
    let bytes = one_page(resources, page, vec![a, b]);
    let text = ends_within(Duration::from_secs(20), "form pair", &bytes).expect("form pair");
    assert!(text.contains('a') && text.contains('b'), "{text:?}");
}

/// Hostile: ten forms, each drawing the next ten times (10^10 drawings).
#[test]
fn form_billion_laughs_is_refused() {
    let mut resources = String::from(
        "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> /XObject << ",
    );
    for i in 0..10 {
        resources.push_str(&format!("/X{i} {} 0 R ", 5 + i));
    }
    resources.push_str(">> >>");
    let mut forms = Vec::new();
    for i in 0..10 {
        let ops = if i == 9 {
            "BT /F1 12 Tf 72 720 Td (lol) Tj ET".to_string()
        } else {
            format!("/X{} Do ", i + 1).repeat(10)
        };
        forms.push(stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 612 792]",
            ops.as_bytes(),
        ));
    }
    let bytes = one_page(&resources, stream("", b"/X0 Do"), forms);
    let reason = match ends_within(Duration::from_secs(20), "form laughs", &bytes) {
        Err(ExtractError::NotIngestible(reason)) => reason,
        other => panic!("expected NotIngestible, got {other:?}"),
    };
    assert!(reason.contains("form XObjects"), "{reason}");
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn junk(len: usize, seed: u64) -> Vec<u8> {
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
