//! An Office Open XML package: a zip of XML parts, read within the decompression budget.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use p8sync_extractor_sdk::{Budget, BudgetReader, ExtractError};
use zip::ZipArchive;
use zip::result::ZipError;

use crate::rels::{relationships, resolve_part};

/// Real documents have tens to a few thousand parts; more is an attack or not a document.
pub const MAX_ENTRIES: usize = 10_000;

const OFFICE_DOCUMENT_REL: &str = "/officeDocument";

/// Buffer between a zip entry's inflater and the XML parser.
const PART_BUFFER: usize = 64 * 1024;

/// An opened OOXML zip whose every read is charged to a [`Budget`].
pub(crate) struct Package<R> {
    archive: ZipArchive<R>,
    pub(crate) label: &'static str,
    pub(crate) budget: Budget,
}

impl<R: Read + Seek> Package<R> {
    pub(crate) fn open(
        mut reader: R,
        label: &'static str,
        budget: Budget,
    ) -> Result<Self, ExtractError> {
        let mut magic = [0u8; 8];
        let read = read_up_to(&mut reader, &mut magic).map_err(|e| io_error(label, &e))?;
        let magic = &magic[..read];
        if magic == b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" {
            return Err(compound_file_error(reader, label));
        }
        if !magic.starts_with(b"PK") {
            return Err(ExtractError::not_ingestible(format!(
                "the file is not a valid {label} (it is not a zip archive)"
            )));
        }
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| io_error(label, &e))?;
        let archive = ZipArchive::new(reader).map_err(|err| zip_error(label, err))?;
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
        })
    }

    /// Runs `parse` over the decompressed part `name`, or gives `None` if there is no such
    /// part. Every byte inflated is charged to the budget; a part that declares more than is
    /// left is refused before it is inflated.
    pub(crate) fn parse<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&mut dyn BufRead) -> Result<T, quick_xml::Error>,
    ) -> Result<Option<T>, ExtractError> {
        let label = self.label;
        p8sync_extractor_sdk::log::stage(name);
        let entry = match self.archive.by_name(name) {
            Ok(entry) => entry,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(err) => {
                return Err(self
                    .budget
                    .exceeded()
                    .unwrap_or_else(|| zip_error(label, err)));
            }
        };
        if entry.encrypted() {
            return Err(encrypted(label));
        }
        self.budget.check_declared(entry.size(), name)?;
        let mut reader = BufReader::with_capacity(PART_BUFFER, self.budget.reader(entry, name));
        let result = parse(&mut reader);
        drop(reader);
        match result {
            Ok(value) => Ok(Some(value)),
            Err(err) => Err(self.xml_error(name, err)),
        }
    }

    /// A small part (relationships, the workbook, the presentation) as a string.
    pub(crate) fn read_xml(&mut self, name: &str) -> Result<Option<String>, ExtractError> {
        let label = self.label;
        let bytes = self.parse(name, |reader| {
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .map_err(quick_xml::Error::from)?;
            Ok(bytes)
        })?;
        bytes
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    ExtractError::not_ingestible(format!(
                        "the {label} part {name} is not UTF-8 XML; the file is corrupt"
                    ))
                })
            })
            .transpose()
    }

    /// The package's main part (word/document.xml, ppt/presentation.xml, ...), per its rels.
    pub(crate) fn main_part(&mut self) -> Result<Option<String>, ExtractError> {
        let Some(rels) = self.read_xml("_rels/.rels")? else {
            return Ok(None);
        };
        let rels = relationships(&rels).map_err(|err| self.xml_error("_rels/.rels", err))?;
        Ok(rels
            .into_iter()
            .find(|rel| rel.kind.ends_with(OFFICE_DOCUMENT_REL))
            .map(|rel| resolve_part("", &rel.target)))
    }

    /// The relationships of part `part` (from `dir/_rels/file.rels`), with targets resolved.
    pub(crate) fn part_relationships(
        &mut self,
        part: &str,
    ) -> Result<Option<Vec<crate::rels::Relationship>>, ExtractError> {
        let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
        let rels_name = if dir.is_empty() {
            format!("_rels/{file}.rels")
        } else {
            format!("{dir}/_rels/{file}.rels")
        };
        let Some(xml) = self.read_xml(&rels_name)? else {
            return Ok(None);
        };
        let mut rels = relationships(&xml).map_err(|err| self.xml_error(&rels_name, err))?;
        for rel in &mut rels {
            rel.target = resolve_part(dir, &rel.target);
        }
        Ok(Some(rels))
    }

    /// Names of the package's parts.
    pub(crate) fn file_names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|name| name.ok())
            .map(|name| name.into_owned())
            .collect()
    }

    /// What a failure while parsing `part` means: the budget, damaged compressed data, or
    /// malformed XML.
    pub(crate) fn xml_error(&self, part: &str, err: quick_xml::Error) -> ExtractError {
        if let Some(limit) = self.budget.exceeded() {
            return limit;
        }
        match err {
            quick_xml::Error::Io(err) => io_error(self.label, &err),
            err => ExtractError::not_ingestible(format!(
                "the {} part {part} is not well-formed XML ({err}); the file is corrupt",
                self.label
            )),
        }
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Password-protected OOXML is stored as an OLE compound file holding an `EncryptedPackage`
/// stream; legacy .doc/.xls/.ppt use the same container without it. Scanned a window at a
/// time, so a big legacy file costs no memory.
fn compound_file_error(mut reader: impl Read + Seek, label: &'static str) -> ExtractError {
    let marker: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut found = false;
    if reader.seek(SeekFrom::Start(0)).is_ok() {
        let mut window = vec![0u8; 256 * 1024];
        let mut kept = 0usize;
        while let Ok(n) = read_up_to(&mut reader, &mut window[kept..]) {
            let filled = kept + n;
            if window[..filled].windows(marker.len()).any(|w| w == marker) {
                found = true;
                break;
            }
            if n == 0 {
                break;
            }
            // Keep the tail, in case the marker straddles two windows.
            kept = (marker.len() - 1).min(filled);
            window.copy_within(filled - kept..filled, 0);
        }
    }
    if found {
        encrypted(label)
    } else {
        ExtractError::not_ingestible(format!(
            "the file is a legacy binary Office document (.doc/.xls/.ppt), not a {label}; save it as {label} to ingest it"
        ))
    }
}

pub(crate) fn encrypted(label: &str) -> ExtractError {
    ExtractError::not_ingestible(format!(
        "the {label} is encrypted (password-protected); remove the password to ingest it"
    ))
}

fn zip_error(label: &str, err: ZipError) -> ExtractError {
    match err {
        ZipError::Io(err) => io_error(label, &err),
        ZipError::InvalidPassword => encrypted(label),
        ZipError::UnsupportedArchive(what) if what.to_ascii_lowercase().contains("password") => {
            encrypted(label)
        }
        err => ExtractError::not_ingestible(format!(
            "the {label} is not a readable zip archive ({err}); the file is corrupt"
        )),
    }
}

/// Inside the sandbox reading the input cannot fail, so an I/O error is the budget or damaged
/// compressed data.
fn io_error(label: &str, err: &io::Error) -> ExtractError {
    if let Some(limit) = BudgetReader::<()>::limit_error(err) {
        return limit;
    }
    ExtractError::not_ingestible(format!(
        "the {label}'s compressed data is damaged ({err}); the file is corrupt"
    ))
}
