//! Office Open XML (DOCX, XLSX, PPTX) text extraction.
//!
//! These are zip packages of XML parts. Everything read from the zip goes through
//! [`Package`], which caps the entry count and the total bytes decompressed, so a zip bomb
//! costs at most [`MAX_UNCOMPRESSED_BYTES`] of work instead of the machine's memory.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use calamine::{DataRef, Reader as _, SheetType, Xlsx, XlsxError};
use quick_xml::events::{BytesRef, Event};
use quick_xml::{Reader as XmlReader, XmlVersion};
use zip::ZipArchive;
use zip::result::ZipError;

use super::ExtractError;

/// Total decompressed bytes one document may expand to.
const MAX_UNCOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;
/// Real documents have tens to a few thousand parts; more is an attack or not a document.
const MAX_ENTRIES: usize = 10_000;

const OFFICE_DOCUMENT_REL: &str = "/officeDocument";
const SLIDE_REL: &str = "/slide";

/// Extracts the body text of a Word document, one line per paragraph.
pub(super) fn extract_docx(file: File) -> Result<String, ExtractError> {
    extract_docx_within(file, MAX_UNCOMPRESSED_BYTES)
}

fn extract_docx_within(file: File, budget: u64) -> Result<String, ExtractError> {
    let mut package = Package::open(file, "DOCX", budget)?;
    let main = package
        .main_part()?
        .unwrap_or_else(|| "word/document.xml".to_owned());
    let Some(xml) = package.read_xml(&main)? else {
        return Err(ExtractError::not_ingestible(
            "the DOCX has no document part (word/document.xml); it is not a Word document",
        ));
    };
    let mut out = String::new();
    paragraphs_text(&xml, &mut out).map_err(|err| package.bad_xml(&main, err))?;
    Ok(out)
}

/// Extracts the text of every slide, in presentation order, slides separated by blank lines.
pub(super) fn extract_pptx(file: File) -> Result<String, ExtractError> {
    let mut package = Package::open(file, "PPTX", MAX_UNCOMPRESSED_BYTES)?;
    let slides = package.slide_parts()?;
    if slides.is_empty() {
        return Err(ExtractError::not_ingestible(
            "the PPTX has no slides; it is not a PowerPoint presentation",
        ));
    }
    let mut out = String::new();
    for slide in slides {
        let Some(xml) = package.read_xml(&slide)? else {
            continue;
        };
        paragraphs_text(&xml, &mut out).map_err(|err| package.bad_xml(&slide, err))?;
        out.push('\n');
    }
    Ok(out)
}

/// Extracts every worksheet as a block: the sheet name, then one line per row, cells
/// tab-separated.
pub(super) fn extract_xlsx(file: File) -> Result<String, ExtractError> {
    let mut package = Package::open(file, "XLSX", MAX_UNCOMPRESSED_BYTES)?;
    // calamine reads the zip itself, past our budget; so first prove, by decompressing them
    // once, that the parts it will parse stay within it.
    package.check_xml_parts_fit()?;
    let mut file = package.archive.into_inner();
    file.seek(SeekFrom::Start(0))?;
    let mut workbook: Xlsx<_> = Xlsx::new(BufReader::new(file)).map_err(xlsx_error)?;
    let sheets: Vec<String> = workbook
        .sheets_metadata()
        .iter()
        .filter(|sheet| sheet.typ == SheetType::WorkSheet)
        .map(|sheet| sheet.name.clone())
        .collect();
    let mut out = String::new();
    for name in sheets {
        let mut cells = workbook.worksheet_cells_reader(&name).map_err(xlsx_error)?;
        let mut block = String::new();
        let mut current_row = None;
        while let Some(cell) = cells.next_cell().map_err(xlsx_error)? {
            let value = cell_text(cell.get_value());
            if value.is_empty() {
                continue;
            }
            let (row, _column) = cell.get_position();
            if current_row == Some(row) {
                block.push('\t');
            } else {
                block.push('\n');
                current_row = Some(row);
            }
            // A line is a row: line breaks and tabs inside a cell would break that.
            block.extend(value.chars().map(|c| {
                if c == '\t' || c == '\n' || c == '\r' {
                    ' '
                } else {
                    c
                }
            }));
        }
        // Empty sheets would otherwise leave just their name, which isn't content.
        if !block.is_empty() {
            out.push_str(&name);
            out.push_str(&block);
            out.push_str("\n\n");
        }
    }
    Ok(out)
}

fn cell_text<'a>(value: &'a DataRef<'a>) -> Cow<'a, str> {
    match value {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Cow::Borrowed(s.as_str())
        }
        DataRef::SharedString(s) => Cow::Borrowed(s),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) => Cow::Owned(f.to_string()),
        DataRef::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(dt) => match dt.as_datetime() {
            Some(when) if dt.is_datetime() => {
                let format = if when.time() == chrono::NaiveTime::MIN {
                    "%Y-%m-%d"
                } else {
                    "%Y-%m-%d %H:%M:%S"
                };
                Cow::Owned(when.format(format).to_string())
            }
            _ => Cow::Owned(dt.as_f64().to_string()),
        },
        DataRef::Error(err) => Cow::Owned(err.to_string()),
    }
}

fn xlsx_error(err: XlsxError) -> ExtractError {
    match err {
        XlsxError::Password => encrypted("XLSX"),
        XlsxError::Zip(err) => zip_error("XLSX", err),
        XlsxError::Io(err) => io_error("XLSX", err),
        err => ExtractError::not_ingestible(format!("the XLSX could not be read: {err}")),
    }
}

/// An opened OOXML zip with a decompression budget.
struct Package {
    archive: ZipArchive<File>,
    label: &'static str,
    /// Bytes still allowed to be decompressed.
    budget: u64,
    limit: u64,
}

impl Package {
    fn open(mut file: File, label: &'static str, budget: u64) -> Result<Self, ExtractError> {
        let mut magic = [0u8; 8];
        let read = read_up_to(&mut file, &mut magic)?;
        let magic = &magic[..read];
        if magic == b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" {
            return Err(compound_file_error(file, label));
        }
        if !magic.starts_with(b"PK") {
            return Err(ExtractError::not_ingestible(format!(
                "the file is not a valid {label} (it is not a zip archive)"
            )));
        }
        file.seek(SeekFrom::Start(0))?;
        let archive = ZipArchive::new(file).map_err(|err| zip_error(label, err))?;
        if archive.len() > MAX_ENTRIES {
            return Err(ExtractError::not_ingestible(format!(
                "the {label} has {} zip entries, more than the {MAX_ENTRIES} a document plausibly has (zip bomb?)",
                archive.len()
            )));
        }
        Ok(Self {
            archive,
            label,
            budget,
            limit: budget,
        })
    }

    /// Reads a part as UTF-8 XML, or `None` if the package has no such part.
    fn read_xml(&mut self, name: &str) -> Result<Option<String>, ExtractError> {
        let label = self.label;
        let mut entry = match self.archive.by_name(name) {
            Ok(entry) => entry,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(err) => return Err(zip_error(label, err)),
        };
        if entry.encrypted() {
            return Err(encrypted(label));
        }
        if entry.size() > self.budget {
            return Err(too_big(label, self.limit));
        }
        // The declared size is only a claim; the cap on what we actually read is the guard.
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        (&mut entry)
            .take(self.budget + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| io_error(label, err))?;
        drop(entry);
        self.spend(bytes.len() as u64)?;
        String::from_utf8(bytes).map(Some).map_err(|_| {
            ExtractError::not_ingestible(format!(
                "the {label} part {name} is not UTF-8 XML; the file is corrupt"
            ))
        })
    }

    fn spend(&mut self, bytes: u64) -> Result<(), ExtractError> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or_else(|| too_big(self.label, self.limit))?;
        Ok(())
    }

    /// Decompresses every XML part without keeping it, charging the budget.
    fn check_xml_parts_fit(&mut self) -> Result<(), ExtractError> {
        let label = self.label;
        for index in 0..self.archive.len() {
            let mut entry = self
                .archive
                .by_index(index)
                .map_err(|err| zip_error(label, err))?;
            let name = entry
                .name()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default();
            // Media (images, embedded files) is never parsed, and may legitimately be big.
            if !(name.ends_with(".xml") || name.ends_with(".rels")) {
                continue;
            }
            if entry.encrypted() {
                return Err(encrypted(label));
            }
            let read = io::copy(&mut (&mut entry).take(self.budget + 1), &mut io::sink())
                .map_err(|err| io_error(label, err))?;
            drop(entry);
            self.spend(read)?;
        }
        Ok(())
    }

    /// The package's main part (word/document.xml, ppt/presentation.xml, ...), per its rels.
    fn main_part(&mut self) -> Result<Option<String>, ExtractError> {
        let Some(rels) = self.read_xml("_rels/.rels")? else {
            return Ok(None);
        };
        let rels = relationships(&rels).map_err(|err| self.bad_xml("_rels/.rels", err))?;
        Ok(rels
            .into_iter()
            .find(|rel| rel.kind.ends_with(OFFICE_DOCUMENT_REL))
            .map(|rel| resolve_part("", &rel.target)))
    }

    /// Slide part names in presentation order.
    fn slide_parts(&mut self) -> Result<Vec<String>, ExtractError> {
        let presentation = self
            .main_part()?
            .unwrap_or_else(|| "ppt/presentation.xml".to_owned());
        let (dir, file) = presentation.rsplit_once('/').unwrap_or(("", &presentation));
        let rels_name = if dir.is_empty() {
            format!("_rels/{file}.rels")
        } else {
            format!("{dir}/_rels/{file}.rels")
        };
        let (Some(xml), Some(rels_xml)) =
            (self.read_xml(&presentation)?, self.read_xml(&rels_name)?)
        else {
            return Ok(self.numbered_slides());
        };
        let ids = slide_ids(&xml).map_err(|err| self.bad_xml(&presentation, err))?;
        let rels = relationships(&rels_xml).map_err(|err| self.bad_xml(&rels_name, err))?;
        let slides: Vec<String> = ids
            .iter()
            .filter_map(|id| {
                rels.iter()
                    .find(|rel| &rel.id == id && rel.kind.ends_with(SLIDE_REL))
                    .map(|rel| resolve_part(dir, &rel.target))
            })
            .collect();
        if slides.is_empty() {
            return Ok(self.numbered_slides());
        }
        Ok(slides)
    }

    /// Fallback when the presentation part can't tell the order: slideN.xml by N.
    fn numbered_slides(&self) -> Vec<String> {
        let mut slides: Vec<(u32, String)> = self
            .archive
            .file_names()
            .filter_map(|name| name.ok())
            .filter_map(|name| {
                let number = name
                    .strip_prefix("ppt/slides/slide")?
                    .strip_suffix(".xml")?
                    .parse()
                    .ok()?;
                Some((number, name.into_owned()))
            })
            .collect();
        slides.sort();
        slides.into_iter().map(|(_, name)| name).collect()
    }

    fn bad_xml(&self, part: &str, err: quick_xml::Error) -> ExtractError {
        ExtractError::not_ingestible(format!(
            "the {} part {part} is not well-formed XML ({err}); the file is corrupt",
            self.label
        ))
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Password-protected OOXML is stored as an OLE compound file holding an `EncryptedPackage`
/// stream; legacy .doc/.xls/.ppt use the same container without it.
fn compound_file_error(mut file: File, label: &'static str) -> ExtractError {
    let mut bytes = Vec::new();
    if let Err(err) = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
    {
        return ExtractError::Io(err);
    }
    let marker: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if bytes.windows(marker.len()).any(|w| w == marker) {
        encrypted(label)
    } else {
        ExtractError::not_ingestible(format!(
            "the file is a legacy binary Office document (.doc/.xls/.ppt), not a {label}; save it as {label} to ingest it"
        ))
    }
}

fn encrypted(label: &str) -> ExtractError {
    ExtractError::not_ingestible(format!(
        "the {label} is encrypted (password-protected); remove the password to ingest it"
    ))
}

fn too_big(label: &str, limit: u64) -> ExtractError {
    ExtractError::not_ingestible(format!(
        "the {label} expands to more than the {} MiB allowed when unzipped (zip bomb?)",
        limit / (1024 * 1024)
    ))
}

fn zip_error(label: &str, err: ZipError) -> ExtractError {
    match err {
        ZipError::Io(err) => io_error(label, err),
        ZipError::InvalidPassword => encrypted(label),
        ZipError::UnsupportedArchive(what) if what.to_ascii_lowercase().contains("password") => {
            encrypted(label)
        }
        err => ExtractError::not_ingestible(format!(
            "the {label} is not a readable zip archive ({err}); the file is corrupt"
        )),
    }
}

/// Broken compressed data surfaces as I/O errors; only real I/O failures are worth a retry.
fn io_error(label: &str, err: io::Error) -> ExtractError {
    let from_zip = err.get_ref().is_some_and(|inner| inner.is::<ZipError>());
    match err.kind() {
        io::ErrorKind::InvalidData
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::Unsupported => ExtractError::not_ingestible(format!(
            "the {label}'s compressed data is damaged ({err}); the file is corrupt"
        )),
        _ if from_zip => ExtractError::not_ingestible(format!(
            "the {label} is not a readable zip archive ({err}); the file is corrupt"
        )),
        _ => ExtractError::Io(err),
    }
}

/// Resolves a relationship target against the directory of the part that owns the rels.
fn resolve_part(base_dir: &str, target: &str) -> String {
    let joined = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_owned(),
        None if base_dir.is_empty() => target.to_owned(),
        None => format!("{base_dir}/{target}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            segment => parts.push(segment),
        }
    }
    parts.join("/")
}

struct Relationship {
    id: String,
    kind: String,
    target: String,
}

fn xml_reader(xml: &str) -> XmlReader<&[u8]> {
    let mut reader = XmlReader::from_str(xml);
    // Text extraction should survive sloppy producers rather than insist on perfect XML.
    reader.config_mut().check_end_names = false;
    reader
}

fn relationships(xml: &str) -> Result<Vec<Relationship>, quick_xml::Error> {
    let mut reader = xml_reader(xml);
    let mut rels = Vec::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let (mut id, mut kind, mut target) = (String::new(), String::new(), String::new());
                for attr in e.attributes().flatten() {
                    let value = attr.normalized_value(XmlVersion::Implicit1_0)?.into_owned();
                    match attr.key.as_ref() {
                        "Id" => id = value,
                        "Type" => kind = value,
                        "Target" => target = value,
                        _ => {}
                    }
                }
                rels.push(Relationship { id, kind, target });
            }
            Event::Eof => return Ok(rels),
            _ => {}
        }
    }
}

/// The `r:id`s of `p:sldIdLst/p:sldId`, which is the slide order.
fn slide_ids(xml: &str) -> Result<Vec<String>, quick_xml::Error> {
    let mut reader = xml_reader(xml);
    let mut ids = Vec::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sldId" => {
                for attr in e.attributes().flatten() {
                    // `id` is the numeric slide id; the namespaced `r:id` names the relationship.
                    if attr.key.prefix().is_some() && attr.key.local_name().as_ref() == "id" {
                        ids.push(attr.normalized_value(XmlVersion::Implicit1_0)?.into_owned());
                    }
                }
            }
            Event::Eof => return Ok(ids),
            _ => {}
        }
    }
}

/// Appends the text of WordprocessingML or DrawingML: `t` runs, one line per paragraph `p`,
/// and table rows `tr` as lines of tab-separated cells `tc`, like spreadsheet rows.
fn paragraphs_text(xml: &str, out: &mut String) -> Result<(), quick_xml::Error> {
    let mut reader = xml_reader(xml);
    let mut in_text = false;
    let mut run_depth = 0usize;
    let mut table_depth = 0usize;
    // mc:Fallback repeats the mc:Choice content for old readers; reading both doubles it.
    let mut skip_depth = 0usize;
    loop {
        let event = reader.read_event()?;
        if skip_depth > 0 {
            match event {
                Event::Start(_) => skip_depth += 1,
                Event::End(_) => skip_depth -= 1,
                Event::Eof => return Ok(()),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "r" => run_depth += 1,
                "tbl" => table_depth += 1,
                "Fallback" => skip_depth = 1,
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "br" | "cr" => out.push('\n'),
                // Outside a run, `tab` is a tab-stop definition, not a character.
                "tab" if run_depth > 0 => out.push('\t'),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "r" => run_depth = run_depth.saturating_sub(1),
                "p" if table_depth > 0 => out.push(' '),
                "p" => out.push('\n'),
                "tc" => {
                    out.truncate(out.trim_end_matches(' ').len());
                    out.push('\t');
                }
                "tr" => {
                    out.truncate(out.trim_end_matches([' ', '\t']).len());
                    out.push('\n');
                }
                "tbl" => table_depth = table_depth.saturating_sub(1),
                _ => {}
            },
            Event::Text(t) if in_text => out.push_str(&t.xml10_content()),
            Event::CData(t) if in_text => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => push_reference(&r, out),
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn push_reference(reference: &BytesRef<'_>, out: &mut String) {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        out.push(c);
        return;
    }
    let c = match &**reference {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        // OOXML has no DTD, so no other entity can be defined; drop it.
        _ => return,
    };
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_file(entries: &[(&str, &[u8])]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.zip");
        let mut writer = zip::ZipWriter::new(File::create(&path).expect("create"));
        for (name, bytes) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .expect("start file");
            writer.write_all(bytes).expect("write entry");
        }
        writer.finish().expect("finish zip");
        let file = File::open(&path).expect("reopen");
        (dir, file)
    }

    fn reason(result: Result<String, ExtractError>) -> String {
        match result {
            Err(ExtractError::NotIngestible { reason }) => reason,
            other => panic!("expected NotIngestible, got {other:?}"),
        }
    }

    #[test]
    fn zip_bomb_is_refused() {
        // Highly compressible data declared at its true size; the budget must stop it.
        let body = vec![b'a'; 2 * 1024 * 1024];
        let (_dir, file) = zip_file(&[("word/document.xml", &body)]);
        let reason = reason(extract_docx_within(file, 1024 * 1024));
        assert!(reason.contains("zip bomb"), "{reason}");
    }

    #[test]
    fn fallback_content_and_tab_stops_are_skipped() {
        let xml = r#"<w:document xmlns:w="w" xmlns:mc="mc"><w:body>
            <w:p><w:pPr><w:tabs><w:tab w:val="left"/></w:tabs></w:pPr>
              <w:r><w:t>one</w:t><w:tab/><w:t xml:space="preserve">two &amp; &#x33;</w:t></w:r></w:p>
            <mc:AlternateContent><mc:Choice><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Choice>
              <mc:Fallback><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent>
            <w:p><w:r><w:delText>deleted</w:delText><w:t>kept</w:t></w:r></w:p>
            </w:body></w:document>"#;
        let mut out = String::new();
        paragraphs_text(xml, &mut out).expect("xml");
        assert_eq!(out, "one\ttwo & 3\nbox\nkept\n");
    }

    #[test]
    fn relationship_targets_resolve() {
        assert_eq!(
            resolve_part("ppt", "slides/slide1.xml"),
            "ppt/slides/slide1.xml"
        );
        assert_eq!(
            resolve_part("ppt", "/ppt/slides/slide2.xml"),
            "ppt/slides/slide2.xml"
        );
        assert_eq!(
            resolve_part("ppt/slides", "../media/a.png"),
            "ppt/media/a.png"
        );
        assert_eq!(resolve_part("", "word/document.xml"), "word/document.xml");
    }

    #[test]
    fn too_many_entries_are_refused() {
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("f{i}.xml")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let (_dir, file) = zip_file(&entries);
        let reason = reason(extract_pptx(file));
        assert!(reason.contains("zip entries"), "{reason}");
    }
}
