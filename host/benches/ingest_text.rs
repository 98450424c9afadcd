//! Text ingestion throughput: `extract` + `chunk` per format, in MB/s of input file.
//!
//! Inputs are generated at start-up (1-4 MB each, pseudo-random prose so the zip formats
//! don't compress to nothing): `cargo bench -p p8sync --bench ingest_text`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use p8sync::ingest::text::{ChunkOptions, ExtractOptions, Format, chunk, extract};
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

fn plain(prose: &mut Prose) -> String {
    let mut text = String::new();
    while text.len() < TARGET_BYTES {
        text.push_str(&prose.paragraph());
        text.push_str("\n\n");
    }
    text
}

fn markdown(prose: &mut Prose) -> String {
    let mut text = String::new();
    let mut section = 0;
    while text.len() < TARGET_BYTES {
        section += 1;
        writeln!(text, "## Section {section}\n\n{}\n", prose.paragraph()).unwrap();
        writeln!(text, "- {}\n- **{}**\n", prose.sentence(), prose.sentence()).unwrap();
    }
    text
}

fn csv(prose: &mut Prose) -> String {
    let mut text = String::from("id,name,notes\n");
    let mut row = 0;
    while text.len() < TARGET_BYTES {
        row += 1;
        writeln!(
            text,
            "{row},\"{}\",\"{}\"",
            prose.sentence(),
            prose.sentence()
        )
        .unwrap();
    }
    text
}

fn json(prose: &mut Prose) -> String {
    let mut text = String::from("[\n");
    let mut row = 0;
    while text.len() < TARGET_BYTES {
        row += 1;
        writeln!(
            text,
            "  {{\"id\": {row}, \"title\": \"{}\", \"body\": \"{}\"}},",
            prose.sentence(),
            prose.paragraph()
        )
        .unwrap();
    }
    text.push_str("  {}\n]\n");
    text
}

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

fn inputs(dir: &Path) -> Vec<(Format, PathBuf)> {
    let mut prose = Prose(0x5EED_1234_ABCD_0001);
    let mut files = Vec::new();
    for (format, name, text) in [
        (Format::Plain, "input.txt", plain(&mut prose)),
        (Format::Markdown, "input.md", markdown(&mut prose)),
        (Format::Csv, "input.csv", csv(&mut prose)),
        (Format::Json, "input.json", json(&mut prose)),
        (Format::Html, "input.html", html(&mut prose)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        files.push((format, path));
    }
    let writers: [(Format, &str, WriteInput); 4] = [
        (Format::Pdf, "input.pdf", pdf),
        (Format::Docx, "input.docx", docx),
        (Format::Xlsx, "input.xlsx", xlsx),
        (Format::Pptx, "input.pptx", pptx),
    ];
    for (format, name, write) in writers {
        let path = dir.join(name);
        write(&path, &mut prose);
        files.push((format, path));
    }
    files
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let extract_options = ExtractOptions::default();
    let chunk_options = ChunkOptions::default();
    let mut group = c.benchmark_group("extract+chunk");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (format, path) in inputs(dir.path()) {
        let size = std::fs::metadata(&path).unwrap().len();
        // Fail loudly on a generator bug rather than benchmark an error path.
        let text = extract(format, &path, &extract_options).unwrap();
        let chunks = chunk(&text, &chunk_options).len();
        println!(
            "{}: {size} byte file -> {} chars of text, {chunks} chunks",
            format.as_str(),
            text.chars().count()
        );
        group.throughput(Throughput::Bytes(size));
        group.bench_with_input(
            BenchmarkId::from_parameter(format.as_str()),
            &path,
            |b, path| {
                b.iter(|| {
                    let text = extract(format, path, &extract_options).unwrap();
                    chunk(&text, &chunk_options)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
