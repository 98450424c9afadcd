//! The `office` extractor's parser, natively: the host's DOCX/XLSX/PPTX tests, plus hostile
//! packages (zip bombs, absurd `uniqueCount`, a huge shared string referenced 200,000 times, a
//! billion-laughs DTD).

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use p8sync_extractor_office::{Kind, MAX_ENTRIES, Office, extract_office};
use p8sync_extractor_sdk::{Collector, Extract, ExtractError, Input, Limits, Request, Summary};
use zip::write::SimpleFileOptions;

const MIB: u64 = 1024 * 1024;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../host/tests/fixtures/text/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_with(
    bytes: &[u8],
    kind: Kind,
    limits: Limits,
) -> (Result<Summary, ExtractError>, Collector) {
    let mut out = Collector::new(&limits);
    let result = extract_office(Cursor::new(bytes), kind, &limits, &mut out);
    (result, out)
}

fn text_of(bytes: &[u8], kind: Kind) -> String {
    match run_with(bytes, kind, Limits::default()) {
        (Ok(_), out) => out.text,
        (Err(err), _) => panic!("{kind:?}: {err}"),
    }
}

fn reason_of(bytes: &[u8], kind: Kind) -> String {
    match run_with(bytes, kind, Limits::default()).0 {
        Err(ExtractError::NotIngestible(reason)) => reason,
        other => panic!("{kind:?}: expected NotIngestible, got {other:?}"),
    }
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(*name, SimpleFileOptions::default())
            .expect("start file");
        writer.write_all(bytes).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A minimal workbook: one sheet "S" with `sheet` as its XML and `strings` as the shared
/// strings part, plus optional styles.
fn xlsx_of(sheet: &[u8], strings: &[u8], styles: Option<&[u8]>) -> Vec<u8> {
    let rels = br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let workbook = br#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let workbook_rels = br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("_rels/.rels", rels),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", workbook_rels),
        ("xl/sharedStrings.xml", strings),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    if let Some(styles) = styles {
        entries.push(("xl/styles.xml", styles));
    }
    zip_of(&entries)
}

fn docx_of(document: &[u8]) -> Vec<u8> {
    zip_of(&[("word/document.xml", document)])
}

#[test]
fn info_declares_the_three_formats() {
    let info = Office::info();
    assert_eq!(info.id, "office");
    for format in ["docx", "xlsx", "pptx"] {
        assert!(info.formats.contains(&format.to_string()), "{format}");
    }
    assert_eq!(info.memory_mib, 256);
}

#[test]
fn extract_dispatches_on_format() {
    let bytes = fixture("sample.docx");
    let limits = Limits::default();
    let mut out = Collector::new(&limits);
    let request = Request::new("DOCX", bytes.len() as u64, limits);
    Office::extract(Input::from_bytes(bytes), &request, &mut out).expect("docx");
    assert!(out.text.starts_with("Harbour Operations Manual\n"));
    let request = Request::new("doc", 10, limits);
    let err = Office::extract(Input::from_bytes(vec![0; 10]), &request, &mut out).unwrap_err();
    assert!(err.message().contains(".doc"), "{err}");
}

#[test]
fn docx_yields_paragraphs_and_tables() {
    let text = text_of(&fixture("sample.docx"), Kind::Docx);
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
    let text = text_of(&fixture("sample.xlsx"), Kind::Xlsx);
    assert!(
        text.contains("Inventory\nItem\tQuantity\tLocation\nRope\t40\tShed A"),
        "{text:?}"
    );
    assert!(
        text.contains("Staff\nName\tRole\nAda\tHarbour master"),
        "{text:?}"
    );
    let inventory = text.find("Inventory").expect("first sheet");
    let staff = text.find("Staff").expect("second sheet");
    assert!(inventory < staff);
}

#[test]
fn pptx_yields_slides_in_order() {
    let text = text_of(&fixture("sample.pptx"), Kind::Pptx);
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
    let reason = reason_of(&fixture("encrypted.docx"), Kind::Docx);
    assert!(reason.contains("encrypted"), "{reason}");
}

#[test]
fn legacy_compound_files_are_refused() {
    let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    ole.extend(junk(600_000, 1));
    let reason = reason_of(&ole, Kind::Xlsx);
    assert!(reason.contains("legacy binary Office document"), "{reason}");
    // The marker straddling the scanner's window boundary is still found.
    let marker: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let at = 256 * 1024 - 7;
    ole.splice(at..at + marker.len(), marker);
    let reason = reason_of(&ole, Kind::Xlsx);
    assert!(reason.contains("encrypted"), "{reason}");
}

#[test]
fn corrupt_office_files_are_refused() {
    for kind in [Kind::Docx, Kind::Xlsx, Kind::Pptx] {
        let reason = reason_of(&junk(4096, 7), kind);
        assert!(reason.contains(kind.label()), "{reason}");
    }
    // A real zip that is not a Word document.
    let reason = reason_of(&fixture("sample.xlsx"), Kind::Docx);
    assert!(!reason.is_empty());
    // A truncated zip.
    let bytes = fixture("sample.docx");
    let reason = reason_of(&bytes[..bytes.len() / 2], Kind::Docx);
    assert!(reason.contains("DOCX"), "{reason}");
    // Not XML inside.
    let reason = reason_of(&docx_of(b"<w:document><w:p><w:t>a</w:x"), Kind::Docx);
    assert!(!reason.is_empty(), "{reason}");
}

#[test]
fn junk_never_panics_in_any_format() {
    for seed in 0..8 {
        let mut bytes = junk(2048, seed);
        for kind in [Kind::Docx, Kind::Xlsx, Kind::Pptx] {
            let result = run_with(&bytes, kind, Limits::default()).0;
            assert!(
                matches!(result, Err(ExtractError::NotIngestible(_))),
                "{kind:?} seed {seed}: {result:?}"
            );
        }
        // Junk behind a zip signature, and a real package with damaged bytes.
        bytes[..4].copy_from_slice(b"PK\x03\x04");
        for kind in [Kind::Docx, Kind::Xlsx, Kind::Pptx] {
            let result = run_with(&bytes, kind, Limits::default()).0;
            assert!(result.is_err(), "{kind:?} seed {seed}: {result:?}");
        }
        for (name, kind) in [
            ("sample.docx", Kind::Docx),
            ("sample.xlsx", Kind::Xlsx),
            ("sample.pptx", Kind::Pptx),
        ] {
            let mut bytes = fixture(name);
            let noise = junk(64, seed);
            let at = 200 + (seed as usize * 997) % (bytes.len() - 300);
            bytes[at..at + 64].copy_from_slice(&noise);
            // Either still readable or refused; never a panic.
            let _ = run_with(&bytes, kind, Limits::default());
        }
    }
}

#[test]
fn empty_document_has_no_text() {
    let reason = reason_of(
        &docx_of(b"<w:document><w:body><w:p/></w:body></w:document>"),
        Kind::Docx,
    );
    assert_eq!(reason, "no text");
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("f{i}.xml")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let reason = reason_of(&zip_of(&entries), Kind::Pptx);
    assert!(reason.contains("zip entries"), "{reason}");
}

#[test]
fn xlsx_values_dates_and_inline_strings() {
    let styles = br#"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="[h]:mm"/></numFmts>
        <cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>
        <cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/></cellXfs></styleSheet>"#;
    let strings = br#"<sst><si><t>fish &amp; chips</t></si><si><t>line_x000D_break</t></si></sst>"#;
    let sheet = br#"<worksheet><sheetData>
        <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>40</v></c><c r="C1"><v>2.5</v></c><c r="D1" t="b"><v>1</v></c></row>
        <row r="2"><c r="A2" s="1"><v>45000</v></c><c r="B2" s="1"><v>45000.75</v></c><c r="C2" s="2"><v>1.5</v></c></row>
        <row r="4"><c r="A4" t="inlineStr"><is><r><t>in</t></r><r><t>line</t></r><rPh><t>x</t></rPh></is></c><c r="B4" t="e"><v>#DIV/0!</v></c><c r="C4" t="str"><f>A1</f><v>formula text</v></c></row>
        <row r="5"><c r="A5" t="s"><v>1</v></c><c r="B5" t="s"><v>99</v></c><c r="C5"/></row>
        </sheetData></worksheet>"#;
    let text = text_of(&xlsx_of(sheet, strings, Some(styles)), Kind::Xlsx);
    assert_eq!(
        text,
        "S\nfish & chips\t40\t2.5\tTRUE\n2023-03-15\t2023-03-15 18:00:00\t1.5\ninline\t#DIV/0!\tformula text\nline break"
    );
}

/// The host's own zip-bomb test: highly compressible data declared at its true size.
#[test]
fn zip_bomb_is_refused() {
    let body = vec![b'a'; 2 * 1024 * 1024];
    let limits = Limits {
        max_decompressed_bytes: MIB,
        ..Limits::default()
    };
    let (result, _) = run_with(&docx_of(&body), Kind::Docx, limits);
    match result {
        Err(ExtractError::Limit(reason)) => {
            assert!(reason.contains("decompressed bytes"), "{reason}");
            assert!(reason.contains("word/document.xml"), "{reason}");
        }
        other => panic!("expected Limit, got {other:?}"),
    }
}

/// Raw deflate of `total` bytes of `byte`, built from one full-flushed compressed segment
/// repeated (each segment is independent after a full flush), so a 1 GiB bomb takes
/// milliseconds to make.
fn deflate_bomb(byte: u8, segment: usize, count: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let input = vec![byte; segment];
    let mut compress = Compress::new(Compression::best(), false);
    let mut piece = Vec::with_capacity(segment / 100 + 1024);
    compress
        .compress_vec(&input, &mut piece, FlushCompress::Full)
        .expect("compress");
    assert_eq!(compress.total_in() as usize, segment);
    let mut out = Vec::with_capacity(piece.len() * count + 2);
    for _ in 0..count {
        out.extend_from_slice(&piece);
    }
    // A final, empty fixed-Huffman block.
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

/// A one-entry zip written by hand, so the header can claim any size.
fn raw_zip(name: &str, deflated: &[u8], claimed_size: u32) -> Vec<u8> {
    let mut zip = Vec::new();
    let le16 = |v: u16| v.to_le_bytes();
    let le32 = |v: u32| v.to_le_bytes();
    let compressed = deflated.len() as u32;
    zip.extend_from_slice(&le32(0x0403_4b50));
    for v in [20u16, 0, 8, 0, 0] {
        zip.extend_from_slice(&le16(v));
    }
    zip.extend_from_slice(&le32(0)); // crc: never reached
    zip.extend_from_slice(&le32(compressed));
    zip.extend_from_slice(&le32(claimed_size));
    zip.extend_from_slice(&le16(name.len() as u16));
    zip.extend_from_slice(&le16(0));
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(deflated);
    let central = zip.len() as u32;
    zip.extend_from_slice(&le32(0x0201_4b50));
    for v in [20u16, 20, 0, 8, 0, 0] {
        zip.extend_from_slice(&le16(v));
    }
    zip.extend_from_slice(&le32(0));
    zip.extend_from_slice(&le32(compressed));
    zip.extend_from_slice(&le32(claimed_size));
    for v in [name.len() as u16, 0, 0, 0, 0] {
        zip.extend_from_slice(&le16(v));
    }
    zip.extend_from_slice(&le32(0));
    zip.extend_from_slice(&le32(0)); // local header offset
    zip.extend_from_slice(name.as_bytes());
    let central_len = zip.len() as u32 - central;
    zip.extend_from_slice(&le32(0x0605_4b50));
    for v in [0u16, 0, 1, 1] {
        zip.extend_from_slice(&le16(v));
    }
    zip.extend_from_slice(&le32(central_len));
    zip.extend_from_slice(&le32(central));
    zip.extend_from_slice(&le16(0));
    zip
}

/// Hostile: a 1 GiB zip bomb (about 1 MiB on disk). Declared honestly it is refused before a
/// byte is inflated; declared as 1 KiB it is stopped by the zip reader's own check of the
/// declared size. (Entries that each fit but together don't: `budget_is_shared_by_all_entries`.)
#[test]
fn gigabyte_zip_bomb_ends_quickly() {
    let bomb = deflate_bomb(b' ', 1 << 20, 1024);
    assert!(bomb.len() < 4 * 1024 * 1024, "{}", bomb.len());
    let limits = Limits {
        max_decompressed_bytes: 64 * MIB,
        ..Limits::default()
    };

    let started = Instant::now();
    let honest = raw_zip("word/document.xml", &bomb, 1 << 30);
    match run_with(&honest, Kind::Docx, limits).0 {
        Err(ExtractError::Limit(reason)) => {
            assert!(
                reason.contains("word/document.xml declares 1024 MiB"),
                "{reason}"
            )
        }
        other => panic!("expected Limit, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Lying about its size does not help: the zip reader stops an entry at its declared size.
    let started = Instant::now();
    let liar = raw_zip("word/document.xml", &bomb, 1024);
    match run_with(&liar, Kind::Docx, limits).0 {
        Err(ExtractError::NotIngestible(reason)) => {
            assert!(
                reason.contains("larger than its declared uncompressed size"),
                "{reason}"
            )
        }
        other => panic!("expected NotIngestible, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Hostile: many entries that are each fine, together past the budget.
#[test]
fn budget_is_shared_by_all_entries() {
    let body = vec![b' '; 3 * MIB as usize];
    let slide = |i: usize| format!("ppt/slides/slide{i}.xml");
    let names: Vec<String> = (1..=8).map(slide).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &body[..])).collect();
    let limits = Limits {
        max_decompressed_bytes: 16 * MIB,
        ..Limits::default()
    };
    match run_with(&zip_of(&entries), Kind::Pptx, limits).0 {
        Err(ExtractError::Limit(reason)) => {
            assert!(reason.contains("ppt/slides/slide"), "{reason}")
        }
        other => panic!("expected Limit, got {other:?}"),
    }
}

/// Hostile: the 1.7 KB XLSX that asks for 8 TiB of shared strings. The claim is ignored.
#[test]
fn absurd_unique_count_is_ignored() {
    let strings = br#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="8796093022208" uniqueCount="8796093022208"><si><t>harmless</t></si></sst>"#;
    let sheet = br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>"#;
    let bytes = xlsx_of(sheet, strings, None);
    assert!(bytes.len() < 4096, "{}", bytes.len());
    assert_eq!(text_of(&bytes, Kind::Xlsx), "S\nharmless");
}

/// Hostile: one 4 MiB shared string referenced by 200,000 cells (800 GB of text if expanded).
/// Output stops at max-chars after the first cells; the string is kept once, cut at max-chars.
#[test]
fn huge_shared_string_times_many_cells_stops_at_max_chars() {
    let big = "x".repeat(4 * 1024 * 1024);
    let strings = format!("<sst uniqueCount=\"1\"><si><t>{big}</t></si></sst>");
    let mut sheet = String::from("<worksheet><sheetData>");
    for row in 1..=200_000 {
        sheet.push_str(&format!(
            "<row r=\"{row}\"><c r=\"A{row}\" t=\"s\"><v>0</v></c></row>"
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let bytes = xlsx_of(sheet.as_bytes(), strings.as_bytes(), None);

    for max_chars in [1_000_000u64, 10_000_000] {
        let limits = Limits {
            max_chars,
            ..Limits::default()
        };
        let started = Instant::now();
        let (result, out) = run_with(&bytes, Kind::Xlsx, limits);
        result.expect("capped output is Ok");
        assert_eq!(out.chars, max_chars);
        assert!(out.text_truncated);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    // With a budget smaller than the shared strings, the part is refused before it is read.
    let limits = Limits {
        max_decompressed_bytes: 2 * MIB,
        ..Limits::default()
    };
    match run_with(&bytes, Kind::Xlsx, limits).0 {
        Err(ExtractError::Limit(reason)) => {
            assert!(reason.contains("xl/sharedStrings.xml"), "{reason}")
        }
        other => panic!("expected Limit, got {other:?}"),
    }
}

/// Hostile: a billion-laughs DTD inside a DOCX. quick-xml never expands entities and OOXML
/// defines none, so the references are dropped: no blow-up, the real text survives.
#[test]
fn billion_laughs_docx_expands_to_nothing() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let prev = if level == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", level - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>before &lol9; after</w:t></w:r></w:p></w:body></w:document>");
    let started = Instant::now();
    let text = text_of(&docx_of(doc.as_bytes()), Kind::Docx);
    assert_eq!(text, "before  after");
    assert!(started.elapsed() < Duration::from_secs(5));
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
