//! Hostile inputs for p8sync's tests, made by code rather than checked in as binaries: every
//! one is small on disk and enormous, endless or lying once parsed.
//!
//! [`corpus`] gives them all with what each is meant to do; the generators are public for
//! tests that want one. The bombs are built from hand-written DEFLATE streams (fixed Huffman
//! codes, one literal copy of the repeated unit, then back-references), so making a gigabyte
//! bomb takes milliseconds and no gigabyte.

mod deflate;
mod flac;
mod zip;

pub use deflate::{Repeat, raw_deflate_repeat, zlib_repeat_byte};
pub use flac::silent_flac;
pub use zip::{Entry, zip};

/// One hostile file.
#[derive(Debug, Clone)]
pub struct Hostile {
    /// A file name that routes it to the parser it attacks.
    pub name: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// What it does to a parser that trusts it.
    pub attack: &'static str,
}

/// Every hostile file, small on disk (the largest is about 2 MB).
pub fn corpus() -> Vec<Hostile> {
    vec![
        Hostile {
            name: "unique-count.xlsx",
            bytes: xlsx_unique_count_bomb(),
            attack: "sharedStrings.xml claims 8,796,093,022,208 unique strings (a reader that reserves for them asks for ~200 TB)",
        },
        Hostile {
            name: "shared-string-fanout.xlsx",
            bytes: xlsx_shared_string_fanout(4 << 20, 200_000),
            attack: "one 4 MiB shared string referenced by 200,000 cells: 800 GB of cell text from 1 MB",
        },
        Hostile {
            name: "double-flate.pdf",
            bytes: pdf_double_flate_bomb(1 << 30),
            attack: "a content stream FlateDecode twice over 1 GiB of spaces",
        },
        Hostile {
            name: "ten-hours-of-silence.flac",
            bytes: silent_flac(16_000, 10 * 3600),
            attack: "ten hours of digital silence in 2 MB: 1,200 chunks and 1,200 paid transcriptions of nothing",
        },
        Hostile {
            name: "zip-bomb.docx",
            bytes: docx_zip_bomb(300 << 20),
            attack: "word/document.xml inflates to 300 MiB of text in 2 MB (its header says 100 bytes)",
        },
        Hostile {
            name: "billion-laughs.docx",
            bytes: docx_billion_laughs(),
            attack: "XML entities nested nine deep: a billion `lol`s if expanded",
        },
        Hostile {
            name: "deep.json",
            bytes: deeply_nested_json(100_000),
            attack: "arrays nested 100,000 deep",
        },
        Hostile {
            name: "deep.html",
            bytes: deeply_nested_html(100_000),
            attack: "elements nested 100,000 deep",
        },
        Hostile {
            name: "lying-header.wav",
            bytes: wav_lying_header(),
            attack: "a WAV header claiming 2^32 samples over one second of data",
        },
        Hostile {
            name: "reference-loop.pdf",
            bytes: pdf_reference_loop(),
            attack: "a page tree whose node is its own child",
        },
    ]
}

/// A truncated copy of `bytes` (for a truncated MP3: give it a real one).
pub fn truncated(bytes: &[u8], keep_percent: usize) -> Vec<u8> {
    bytes[..bytes.len() * keep_percent.min(100) / 100].to_vec()
}

const CONTENT_TYPES_XLSX: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
const RELS_XLSX: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
const SHEET_TAIL: &str = "</sheetData></worksheet>";

fn xlsx(shared_strings: Entry, sheet: Entry) -> Vec<u8> {
    zip(&[
        Entry::stored("[Content_Types].xml", CONTENT_TYPES_XLSX.as_bytes()),
        Entry::stored("_rels/.rels", RELS_XLSX.as_bytes()),
        Entry::stored("xl/workbook.xml", WORKBOOK.as_bytes()),
        Entry::stored("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        sheet,
        shared_strings,
    ])
}

/// An XLSX of about 1.7 KB whose `xl/sharedStrings.xml` says `uniqueCount="8796093022208"`.
pub fn xlsx_unique_count_bomb() -> Vec<u8> {
    let strings = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="8796093022208" uniqueCount="8796093022208"><si><t>harbour</t></si></sst>"#;
    let sheet = format!(r#"{SHEET_HEAD}<row r="1"><c r="A1" t="s"><v>0</v></c></row>{SHEET_TAIL}"#);
    xlsx(
        Entry::stored("xl/sharedStrings.xml", strings.as_bytes()),
        Entry::stored("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    )
}

/// An XLSX whose one shared string of `string_bytes` is referenced by `cells` cells.
pub fn xlsx_shared_string_fanout(string_bytes: usize, cells: usize) -> Vec<u8> {
    let head = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#;
    let strings = Repeat {
        prefix: head.as_bytes(),
        unit: b"lamp ",
        total: string_bytes as u64,
        suffix: b"</t></si></sst>",
    };
    let mut sheet = String::with_capacity(cells * 48 + 200);
    sheet.push_str(SHEET_HEAD);
    for row in 1..=cells {
        sheet.push_str(&format!(
            r#"<row r="{row}"><c r="A{row}" t="s"><v>0</v></c></row>"#
        ));
    }
    sheet.push_str(SHEET_TAIL);
    xlsx(
        Entry::deflated_repeat("xl/sharedStrings.xml", &strings),
        Entry::deflated("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    )
}

/// A PDF from its objects (numbered from 1), with a correct cross-reference table.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn page_objects(contents: Vec<u8>) -> Vec<Vec<u8>> {
    vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        contents,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ]
}

/// A PDF whose page content stream is FlateDecode twice over `spaces` spaces.
pub fn pdf_double_flate_bomb(spaces: u64) -> Vec<u8> {
    let inner = zlib_repeat_byte(b' ', spaces);
    let outer = miniz_oxide::deflate::compress_to_vec_zlib(&inner, 9);
    let mut stream = format!(
        "<< /Length {} /Filter [/FlateDecode /FlateDecode] >>\nstream\n",
        outer.len()
    )
    .into_bytes();
    stream.extend_from_slice(&outer);
    stream.extend_from_slice(b"\nendstream");
    pdf(&page_objects(stream))
}

/// A PDF whose page tree node lists itself as its child.
pub fn pdf_reference_loop() -> Vec<u8> {
    let text = b"BT /F1 12 Tf 72 720 Td (Round and round) Tj ET";
    let mut stream = format!("<< /Length {} >>\nstream\n", text.len()).into_bytes();
    stream.extend_from_slice(text);
    stream.extend_from_slice(b"\nendstream");
    let mut objects = page_objects(stream);
    objects[1] = b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>".to_vec();
    objects[2] = b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec();
    pdf(&objects)
}

const CONTENT_TYPES_DOCX: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
const RELS_DOCX: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
const DOCX_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"#;
const DOCX_TAIL: &str = "</w:body></w:document>";

fn docx(document: Entry) -> Vec<u8> {
    zip(&[
        Entry::stored("[Content_Types].xml", CONTENT_TYPES_DOCX.as_bytes()),
        Entry::stored("_rels/.rels", RELS_DOCX.as_bytes()),
        document,
    ])
}

/// A DOCX whose `word/document.xml` inflates to `bytes` bytes of one paragraph's text, while
/// its zip headers claim 100 bytes. (A four-byte unit keeps back-references at 13 bits per
/// 258 bytes.)
pub fn docx_zip_bomb(bytes: u64) -> Vec<u8> {
    let head = format!("{DOCX_HEAD}<w:p><w:r><w:t>");
    let tail = format!("</w:t></w:r></w:p>{DOCX_TAIL}");
    let repeat = Repeat {
        prefix: head.as_bytes(),
        unit: b"lol ",
        total: bytes,
        suffix: tail.as_bytes(),
    };
    let mut entry = Entry::deflated_repeat("word/document.xml", &repeat);
    entry.claimed_size = Some(100);
    docx(entry)
}

/// A DOCX whose document declares the "billion laughs" entities and uses the last one.
pub fn docx_billion_laughs() -> Vec<u8> {
    let mut dtd = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE w:document [<!ENTITY lol0 "lol">"#,
    );
    for level in 1..=9 {
        dtd.push_str(&format!("<!ENTITY lol{level} \""));
        for _ in 0..10 {
            dtd.push_str(&format!("&lol{};", level - 1));
        }
        dtd.push_str("\">");
    }
    dtd.push_str("]>");
    let body = format!(
        r#"{dtd}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p><w:p><w:r><w:t>After the laughter.</w:t></w:r></w:p>{DOCX_TAIL}"#
    );
    docx(Entry::stored("word/document.xml", body.as_bytes()))
}

/// JSON arrays nested `depth` deep.
pub fn deeply_nested_json(depth: usize) -> Vec<u8> {
    let mut out = "[".repeat(depth).into_bytes();
    out.extend_from_slice(b"\"bottom\"");
    out.extend_from_slice("]".repeat(depth).as_bytes());
    out
}

/// HTML with `depth` nested `div`s around a sentence.
pub fn deeply_nested_html(depth: usize) -> Vec<u8> {
    let mut out = b"<!doctype html><html><body>".to_vec();
    out.extend_from_slice("<div>".repeat(depth).as_bytes());
    out.extend_from_slice(b"The bottom of the well.");
    out.extend_from_slice("</div>".repeat(depth).as_bytes());
    out.extend_from_slice(b"</body></html>");
    out
}

/// An 8-bit mono 16 kHz WAV whose header claims 2^32 - 1 samples over one second of a tone.
pub fn wav_lying_header() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    out.extend((0..16_000u32).map(|i| (128.0 + 60.0 * (i as f32 * 0.157).sin()) as u8));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_small_on_disk() {
        for h in corpus() {
            assert!(
                h.bytes.len() < 3 << 20,
                "{} is {} bytes",
                h.name,
                h.bytes.len()
            );
        }
    }

    #[test]
    fn pdf_offsets_point_at_objects() {
        let bytes = pdf_reference_loop();
        let find = |needle: &[u8]| {
            bytes
                .windows(needle.len())
                .rposition(|w| w == needle)
                .unwrap()
        };
        let number = |at: usize| -> usize {
            let digits: Vec<u8> = bytes[at..]
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            String::from_utf8(digits).unwrap().parse().unwrap()
        };
        let xref = find(b"xref\n0 ");
        // The entry after the free one is object 1.
        let first = xref + b"xref\n0 6\n0000000000 65535 f \n".len();
        assert!(bytes[number(first)..].starts_with(b"1 0 obj"));
        assert_eq!(number(find(b"startxref\n") + 10), xref);
    }
}
