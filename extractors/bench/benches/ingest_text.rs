//! Text extraction throughput per format, in MB/s of input file, for each extractor's parser
//! run natively and the same extractor run in the host's sandbox (the built component, a fresh
//! instance per file, the host's caps), in one run; and the sandbox's fixed cost per file.
//!
//! Inputs are generated at start-up (1-4 MB each, pseudo-random prose so the zip formats
//! don't compress to nothing): `scripts/build-components.sh && cargo bench -p
//! p8sync-extract-bench --bench ingest_text`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p8sync::extract::OutputKind;
use p8sync::ingest::text::{ChunkOptions, chunk};
use p8sync_extract_bench::{Sandbox, native};
use p8sync_extractor_html::Html;
use p8sync_extractor_office::Office;
use p8sync_extractor_pdf::Pdf;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zip::write::SimpleFileOptions;

/// Deterministic prose: sentences of words drawn from a small vocabulary.
struct Prose(u64);

impl Prose {
    const WORDS: [&'static str; 32] = [
        "harbour", "vessel", "tide", "lamp", "keeper", "north", "quay", "rope", "anchor", "storm",
        "the", "a", "of", "and", "to", "in", "was", "is", "light", "channel", "buoy", "pilot",
        "cargo", "deck", "signal", "fog", "engine", "crew", "berth", "depth", "chart", "current",
    ];

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn sentence(&mut self) -> String {
        let words = 6 + self.next() % 14;
        let mut s = String::new();
        for i in 0..words {
            let word = Self::WORDS[(self.next() % 32) as usize];
            if i == 0 {
                let mut chars = word.chars();
                s.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                s.push_str(chars.as_str());
            } else {
                s.push(' ');
                s.push_str(word);
            }
        }
        s.push('.');
        s
    }

    fn paragraph(&mut self) -> String {
        let sentences = 2 + self.next() % 6;
        (0..sentences)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

fn write_zip(path: &Path, parts: &[(String, String)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, body) in parts {
        zip.start_file(name.as_str(), SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

fn rels(entries: &[(&str, &str, &str)]) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    );
    for (id, kind, target) in entries {
        write!(xml, r#"<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#).unwrap();
    }
    xml.push_str("</Relationships>");
    xml
}

const TARGET_BYTES: usize = 2 * 1024 * 1024;

fn html(prose: &mut Prose) -> String {
    let mut text = String::from(
        "<!DOCTYPE html><html><head><title>Log</title><style>p{margin:0}</style></head><body>\n",
    );
    while text.len() < TARGET_BYTES {
        writeln!(text, "<div class=\"entry\"><h2>{}</h2><p>{}</p><script>track('x')</script><ul><li>{}</li><li><a href=\"#\">{}</a></li></ul></div>", prose.sentence(), prose.paragraph(), prose.sentence(), prose.sentence()).unwrap();
    }
    text.push_str("</body></html>\n");
    text
}

fn docx(path: &Path, prose: &mut Prose) {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"#,
    );
    while body.len() < 2 * TARGET_BYTES {
        write!(body, r#"<w:p><w:pPr><w:pStyle w:val="Normal"/></w:pPr><w:r><w:rPr><w:b/></w:rPr><w:t>{}</w:t></w:r><w:r><w:t xml:space="preserve"> {}</w:t></w:r></w:p>"#, xml_escape(&prose.sentence()), xml_escape(&prose.paragraph())).unwrap();
    }
    body.push_str("</w:body></w:document>");
    write_zip(
        path,
        &[
            ("[Content_Types].xml".into(), r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.into()),
            ("_rels/.rels".into(), rels(&[("rId1", "officeDocument", "word/document.xml")])),
            ("word/document.xml".into(), body),
        ],
    );
}

fn pptx(path: &Path, prose: &mut Prose) {
    let mut parts = vec![
        ("[Content_Types].xml".to_owned(), r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#.to_owned()),
        ("_rels/.rels".to_owned(), rels(&[("rId1", "officeDocument", "ppt/presentation.xml")])),
    ];
    let mut ids = String::new();
    let mut slide_rels = Vec::new();
    let mut total = 0;
    let mut n = 0;
    while total < 2 * TARGET_BYTES {
        n += 1;
        let mut slide = String::from(
            r#"<?xml version="1.0"?><p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>"#,
        );
        for _ in 0..8 {
            write!(slide, "<p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:rPr lang=\"en-GB\"/><a:t>{}</a:t></a:r></a:p></p:txBody></p:sp>", xml_escape(&prose.paragraph())).unwrap();
        }
        slide.push_str("</p:spTree></p:cSld></p:sld>");
        total += slide.len();
        write!(ids, r#"<p:sldId id="{}" r:id="rId{n}"/>"#, 255 + n).unwrap();
        slide_rels.push((format!("rId{n}"), format!("slides/slide{n}.xml")));
        parts.push((format!("ppt/slides/slide{n}.xml"), slide));
    }
    parts.push((
        "ppt/presentation.xml".into(),
        format!(r#"<?xml version="1.0"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>"#),
    ));
    let entries: Vec<(&str, &str, &str)> = slide_rels
        .iter()
        .map(|(id, target)| (id.as_str(), "slide", target.as_str()))
        .collect();
    parts.push(("ppt/_rels/presentation.xml.rels".into(), rels(&entries)));
    write_zip(path, &parts);
}

fn xlsx(path: &Path, prose: &mut Prose) {
    let mut sheet = String::from(
        r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    let mut row = 0;
    while sheet.len() < 2 * TARGET_BYTES {
        row += 1;
        write!(sheet, r#"<row r="{row}"><c r="A{row}"><v>{row}</v></c><c r="B{row}" t="inlineStr"><is><t>{}</t></is></c><c r="C{row}" t="inlineStr"><is><t>{}</t></is></c><c r="D{row}"><v>{}.25</v></c></row>"#, xml_escape(&prose.sentence()), xml_escape(&prose.sentence()), row * 3).unwrap();
    }
    sheet.push_str("</sheetData></worksheet>");
    write_zip(
        path,
        &[
            ("[Content_Types].xml".into(), r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#.into()),
            ("_rels/.rels".into(), rels(&[("rId1", "officeDocument", "xl/workbook.xml")])),
            ("xl/workbook.xml".into(), r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Log" sheetId="1" r:id="rId1"/></sheets></workbook>"#.into()),
            ("xl/_rels/workbook.xml.rels".into(), rels(&[("rId1", "worksheet", "worksheets/sheet1.xml")])),
            ("xl/worksheets/sheet1.xml".into(), sheet),
        ],
    );
}

/// A PDF with Helvetica text on many pages, written by hand to avoid a PDF-writing dependency.
fn pdf(path: &Path, prose: &mut Prose) {
    const PAGES: usize = 300;
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        String::new(), // the page tree, filled in once page ids are known
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    ];
    let mut kids = Vec::new();
    for _ in 0..PAGES {
        let mut content = String::from("BT /F1 10 Tf 12 TL 50 800 Td\n");
        for _ in 0..60 {
            let line: String = prose.sentence().chars().take(90).collect();
            writeln!(content, "({line}) Tj T*").unwrap();
        }
        content.push_str("ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
        let content_id = objects.len();
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"));
        kids.push(format!("{} 0 R", objects.len()));
    }
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {PAGES} >>",
        kids.join(" ")
    );
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        write!(out, "{} 0 obj\n{object}\nendobj\n", i + 1).unwrap();
    }
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).unwrap();
    for offset in offsets {
        writeln!(out, "{offset:010} 00000 n ").unwrap();
    }
    write!(
        out,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    )
    .unwrap();
    std::fs::write(path, out).unwrap();
}

/// Writes one generated input file.
type WriteInput = fn(&Path, &mut Prose);

/// A parser run natively on a file's bytes; characters of text.
type Native = fn(&str, &[u8]) -> usize;

fn html_file(path: &Path, prose: &mut Prose) {
    std::fs::write(path, html(prose)).unwrap();
}

fn inputs(dir: &Path) -> Vec<(&'static str, PathBuf, Native)> {
    let mut prose = Prose(0x5EED_1234_ABCD_0001);
    let writers: [(&str, WriteInput, Native); 5] = [
        ("html", html_file, native::<Html>),
        ("pdf", pdf, native::<Pdf>),
        ("docx", docx, native::<Office>),
        ("xlsx", xlsx, native::<Office>),
        ("pptx", pptx, native::<Office>),
    ];
    writers
        .into_iter()
        .map(|(format, write, parse)| {
            let path = dir.join(format!("input.{format}"));
            write(&path, &mut prose);
            (format, path, parse)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new();
    let chunking = ChunkOptions::default();
    let mut group = c.benchmark_group("extract");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (format, path, parse) in inputs(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        let extractor = sandbox.extractor(OutputKind::Text, format);
        // Fail loudly on a generator bug rather than benchmark an error path, and check that
        // both ways give the same text.
        let chars = parse(format, &bytes);
        let boxed = sandbox.text(&extractor, format, &path).chars().count();
        assert_eq!(chars, boxed, "{format}: native and sandboxed text differ");
        println!(
            "{format}: {} byte file -> {chars} chars of text",
            bytes.len()
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("native", format), &bytes, |b, bytes| {
            b.iter(|| parse(format, bytes))
        });
        group.bench_with_input(BenchmarkId::new("sandboxed", format), &path, |b, path| {
            b.iter(|| sandbox.text(&extractor, format, path))
        });
        // What ingestion does with a file, and what the host's native extraction before the
        // sandbox was measured doing (`extract+chunk` in the issue-5 benchmark): extract, chunk.
        group.bench_with_input(
            BenchmarkId::new("sandboxed+chunk", format),
            &path,
            |b, path| b.iter(|| chunk(&sandbox.text(&extractor, format, path), &chunking).len()),
        );
    }
    group.finish();

    // The fixed cost of the sandbox per file: a page of one sentence.
    let tiny = dir.path().join("tiny.html");
    std::fs::write(&tiny, "<p>The keeper lit the lamp.</p>").unwrap();
    let bytes = std::fs::read(&tiny).unwrap();
    let extractor = sandbox.extractor(OutputKind::Text, "html");
    let mut group = c.benchmark_group("per-file");
    group.sample_size(50);
    group.bench_function("native/tiny-html", |b| {
        b.iter(|| native::<Html>("html", &bytes))
    });
    group.bench_function("sandboxed/tiny-html", |b| {
        b.iter(|| sandbox.text(&extractor, "html", &tiny))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
