//! XLSX: the workbook's worksheets, cell by cell, from a streaming reader of our own.
//!
//! Why not calamine: it pre-sizes the shared-string table from the file's `uniqueCount` claim
//! (a 1.7 KB file asking for 8 TiB), keeps every string whole and reads the zip itself, past
//! our budget. Here every part goes through the package's budget, nothing is sized from a
//! claim, a shared string is kept only up to `max-chars` characters (no cell can contribute
//! more), and sheets stream to the output, which stops at `max-chars`.
//!
//! The text matches what the host produced with calamine: one block per worksheet (its name,
//! then one line per row, cells tab-separated, tabs and line breaks inside a cell as spaces),
//! numbers as Rust prints an `f64`, booleans as TRUE/FALSE, date-formatted numbers as
//! `YYYY-MM-DD` (plus ` HH:MM:SS` when not midnight), errors as Excel shows them.

use std::io::{BufRead, Read, Seek};

use p8sync_extractor_sdk::{ExtractError, Limits, Summary, TextSink};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader as XmlReader, XmlVersion};

use crate::package::Package;
use crate::rels::xml_reader;
use crate::text::LineOut;

/// Extracts every worksheet as a block.
pub(crate) fn xlsx<R: Read + Seek>(
    package: &mut Package<R>,
    limits: &Limits,
    sink: &mut dyn TextSink,
) -> Result<Summary, ExtractError> {
    let workbook_part = package
        .main_part()?
        .unwrap_or_else(|| "xl/workbook.xml".to_owned());
    let Some(xml) = package.read_xml(&workbook_part)? else {
        return Err(ExtractError::not_ingestible(
            "the XLSX has no workbook part (xl/workbook.xml); it is not an Excel workbook",
        ));
    };
    let workbook = parse_workbook(&xml).map_err(|err| package.xml_error(&workbook_part, err))?;
    let dir = workbook_part.rsplit_once('/').map_or("", |(dir, _)| dir);
    let rels = package
        .part_relationships(&workbook_part)?
        .unwrap_or_default();
    let related = |suffix: &str, default: &str| {
        rels.iter()
            .find(|rel| rel.kind.ends_with(suffix))
            .map(|rel| rel.target.clone())
            .unwrap_or_else(|| crate::rels::resolve_part(dir, default))
    };

    // No cell can contribute more than the host keeps, so no string is kept longer.
    let max_cell_chars = usize::try_from(limits.max_chars).unwrap_or(usize::MAX);
    let strings_part = related("/sharedStrings", "sharedStrings.xml");
    let strings = package
        .parse(&strings_part, |reader| {
            SharedStrings::parse(reader, max_cell_chars)
        })?
        .unwrap_or_default();
    let styles_part = related("/styles", "styles.xml");
    let styles = package
        .parse(&styles_part, parse_styles)?
        .unwrap_or_default();

    let mut out = LineOut::new(sink);
    let mut worksheets = 0usize;
    let mut empty = 0usize;
    for sheet in &workbook.sheets {
        let Some(rel) = rels
            .iter()
            .find(|rel| rel.id == sheet.rel_id && rel.kind.ends_with("/worksheet"))
        else {
            // Chart sheets, dialog sheets, macro sheets: no cells to read.
            continue;
        };
        worksheets += 1;
        let context = SheetContext {
            name: &sheet.name,
            strings: &strings,
            styles: &styles,
            date1904: workbook.date1904,
            max_cell_chars,
        };
        let had_cells = package
            .parse(&rel.target, |reader| sheet_text(reader, &context, &mut out))?
            .unwrap_or(false);
        if !had_cells {
            empty += 1;
        }
        if out.stopped {
            break;
        }
    }
    out.finish();
    let mut summary = Summary::default();
    if empty > 0 && !out.stopped {
        summary
            .notes
            .push(format!("{empty} of {worksheets} worksheets were empty"));
    }
    Ok(summary)
}

struct Workbook {
    sheets: Vec<SheetRef>,
    date1904: bool,
}

struct SheetRef {
    name: String,
    rel_id: String,
}

fn attr_value(e: &BytesStart<'_>, local: &str) -> Result<Option<String>, quick_xml::Error> {
    for attr in e.attributes().flatten() {
        if attr.key.local_name().as_ref() == local {
            return Ok(Some(
                attr.normalized_value(XmlVersion::Implicit1_0)?.into_owned(),
            ));
        }
    }
    Ok(None)
}

/// The `r:id` attribute (namespaced `id`, as opposed to `sheetId`).
fn rel_id(e: &BytesStart<'_>) -> Result<Option<String>, quick_xml::Error> {
    for attr in e.attributes().flatten() {
        if attr.key.prefix().is_some() && attr.key.local_name().as_ref() == "id" {
            return Ok(Some(
                attr.normalized_value(XmlVersion::Implicit1_0)?.into_owned(),
            ));
        }
    }
    Ok(None)
}

fn parse_workbook(xml: &str) -> Result<Workbook, quick_xml::Error> {
    let mut reader = xml_reader(xml);
    let mut workbook = Workbook {
        sheets: Vec::new(),
        date1904: false,
    };
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "workbookPr" => {
                    if let Some(v) = attr_value(&e, "date1904")? {
                        workbook.date1904 = v == "1" || v.eq_ignore_ascii_case("true");
                    }
                }
                "sheet" => {
                    let name = attr_value(&e, "name")?.unwrap_or_default();
                    if let Some(rel_id) = rel_id(&e)? {
                        workbook.sheets.push(SheetRef { name, rel_id });
                    }
                }
                _ => {}
            },
            Event::Eof => return Ok(workbook),
            _ => {}
        }
    }
}

/// The shared-string table: one arena, each string cut at `max_chars` characters.
#[derive(Default)]
pub(crate) struct SharedStrings {
    arena: String,
    ends: Vec<usize>,
}

impl SharedStrings {
    fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        Some(&self.arena[start..end])
    }

    /// Reads `sst`: each `si` is the text of its `t` elements (rich runs included, phonetic
    /// `rPh` runs not). `uniqueCount` is ignored: it is a claim, not a size to reserve.
    fn parse(reader: &mut dyn BufRead, max_chars: usize) -> Result<Self, quick_xml::Error> {
        let mut reader = XmlReader::from_reader(reader);
        reader.config_mut().check_end_names = false;
        let mut strings = SharedStrings::default();
        let mut buf = Vec::new();
        let mut current = CappedString::new(max_chars);
        let (mut in_si, mut in_t, mut in_rph) = (false, false, false);
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf)? {
                Event::Start(e) => match e.local_name().as_ref() {
                    "si" => {
                        in_si = true;
                        current.clear();
                    }
                    "t" if in_si => in_t = true,
                    "rPh" => in_rph = true,
                    _ => {}
                },
                Event::Empty(e) if e.local_name().as_ref() == "si" => strings.push(""),
                Event::End(e) => match e.local_name().as_ref() {
                    "si" if in_si => {
                        in_si = false;
                        strings.push(&unescape_x(&current.text));
                    }
                    "t" => in_t = false,
                    "rPh" => in_rph = false,
                    _ => {}
                },
                Event::Text(t) if in_t && !in_rph => current.push_str(&t.xml10_content()),
                Event::CData(t) if in_t && !in_rph => current.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if in_t && !in_rph => {
                    if let Some(c) = reference_char(&r) {
                        current.push(c);
                    }
                }
                Event::Eof => return Ok(strings),
                _ => {}
            }
        }
    }

    fn push(&mut self, s: &str) {
        self.arena.push_str(s);
        self.ends.push(self.arena.len());
    }
}

/// A string that stops growing at `max_chars` characters.
struct CappedString {
    text: String,
    chars: usize,
    max_chars: usize,
}

impl CappedString {
    fn new(max_chars: usize) -> Self {
        Self {
            text: String::new(),
            chars: 0,
            max_chars,
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.chars = 0;
    }

    fn push(&mut self, c: char) {
        if self.chars < self.max_chars {
            self.text.push(c);
            self.chars += 1;
        }
    }

    fn push_str(&mut self, s: &str) {
        let room = self.max_chars - self.chars;
        if room == 0 {
            return;
        }
        match s.char_indices().nth(room) {
            None => {
                self.text.push_str(s);
                self.chars += s.chars().count();
            }
            Some((cut, _)) => {
                self.text.push_str(&s[..cut]);
                self.chars = self.max_chars;
            }
        }
    }
}

/// OOXML escapes characters XML can't carry as `_xHHHH_` (`_x000D_` is a carriage return,
/// `_x005F_` a literal underscore).
fn unescape_x(s: &str) -> std::borrow::Cow<'_, str> {
    if find_x(s).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = find_x(rest) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let code = tail
            .get(2..6)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .filter(|_| tail.as_bytes().get(6) == Some(&b'_'))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        match code {
            Some(c) => {
                out.push(c);
                rest = &tail[7..];
            }
            None => {
                out.push('_');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Where `_x` first occurs in `s`: a byte scan, much cheaper than a substring search for the
/// strings of every cell.
fn find_x(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(n) = bytes[from..].iter().position(|&b| b == b'_') {
        let at = from + n;
        if bytes.get(at + 1) == Some(&b'x') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// How a cell style shows numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum NumberShape {
    #[default]
    Number,
    Date,
    /// `[h]:mm` and the like: shown as a number, like calamine does.
    Duration,
}

/// `cellXfs` styles by index: how each shows numbers.
#[derive(Default)]
pub(crate) struct Styles {
    cell_shapes: Vec<NumberShape>,
}

fn parse_styles(reader: &mut dyn BufRead) -> Result<Styles, quick_xml::Error> {
    let mut reader = XmlReader::from_reader(reader);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut custom: Vec<(u32, NumberShape)> = Vec::new();
    let mut xf_ids: Vec<u32> = Vec::new();
    let mut in_cell_xfs = false;
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "numFmt" => {
                    let id = attr_value(&e, "numFmtId")?.and_then(|v| v.parse().ok());
                    let code = attr_value(&e, "formatCode")?.unwrap_or_default();
                    if let Some(id) = id {
                        custom.push((id, format_shape(&code)));
                    }
                }
                "cellXfs" => in_cell_xfs = true,
                "xf" if in_cell_xfs => {
                    let id = attr_value(&e, "numFmtId")?
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    xf_ids.push(id);
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "cellXfs" => in_cell_xfs = false,
            Event::Eof => break,
            _ => {}
        }
    }
    let cell_shapes = xf_ids
        .into_iter()
        .map(|id| {
            custom
                .iter()
                .find(|(custom_id, _)| *custom_id == id)
                .map_or_else(|| builtin_shape(id), |(_, shape)| *shape)
        })
        .collect();
    Ok(Styles { cell_shapes })
}

/// The built-in number formats that show dates or times (ECMA-376 18.8.30, plus the
/// East Asian date formats).
fn builtin_shape(id: u32) -> NumberShape {
    match id {
        46 => NumberShape::Duration,
        14..=22 | 27..=36 | 45 | 47 | 50..=58 => NumberShape::Date,
        _ => NumberShape::Number,
    }
}

/// Whether a custom format code shows a date or time: a d, m, y, h or s outside quoted text,
/// escapes and `[...]` sections; `[h]`, `[m]`, `[s]` make it a duration.
fn format_shape(code: &str) -> NumberShape {
    let mut chars = code.chars();
    let mut date = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let mut section = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    section.push(c);
                }
                let section = section.to_ascii_lowercase();
                if !section.is_empty() && section.chars().all(|c| matches!(c, 'h' | 'm' | 's')) {
                    return NumberShape::Duration;
                }
            }
            // The "General" format has none of these letters, nor do number formats.
            c if matches!(c.to_ascii_lowercase(), 'd' | 'm' | 'y' | 'h' | 's') => date = true,
            _ => {}
        }
    }
    if date {
        NumberShape::Date
    } else {
        NumberShape::Number
    }
}

struct SheetContext<'a> {
    name: &'a str,
    strings: &'a SharedStrings,
    styles: &'a Styles,
    date1904: bool,
    max_cell_chars: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CellType {
    Number,
    Shared,
    Str,
    Inline,
    Bool,
    Error,
    Date,
}

/// Streams one worksheet's cells into `out`; true if it had any non-empty cell.
fn sheet_text(
    reader: &mut dyn BufRead,
    context: &SheetContext<'_>,
    out: &mut LineOut<'_>,
) -> Result<bool, quick_xml::Error> {
    let mut reader = XmlReader::from_reader(reader);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut value = CappedString::new(context.max_cell_chars);
    let mut row_number: u64 = 0;
    let mut current_row: Option<u64> = None;
    let mut started = false;
    // The cell being read: its row, type and style.
    let mut cell: Option<(u64, CellType, usize)> = None;
    let (mut in_v, mut in_is_t, mut in_rph) = (false, false, false);
    loop {
        if out.stopped {
            return Ok(started);
        }
        buf.clear();
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) => match e.local_name().as_ref() {
                "row" => row_number = row_of(&e, row_number)?,
                "c" => {
                    cell = Some(cell_start(&e, row_number)?);
                    value.clear();
                }
                "v" if cell.is_some() => in_v = true,
                "t" if cell.is_some() => in_is_t = true,
                "rPh" => in_rph = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "row" => {
                row_number = row_of(&e, row_number)?;
            }
            Event::End(e) => match e.local_name().as_ref() {
                "v" => in_v = false,
                "t" => in_is_t = false,
                "rPh" => in_rph = false,
                "c" => {
                    if let Some((row, kind, style)) = cell.take() {
                        let text = cell_text(kind, style, &value.text, context);
                        if !text.is_empty() {
                            if !started {
                                out.push_str(context.name);
                                started = true;
                            }
                            if current_row == Some(row) {
                                out.push('\t');
                            } else {
                                out.push('\n');
                                current_row = Some(row);
                            }
                            // A line is a row: line breaks and tabs inside a cell would break that.
                            if text.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) {
                                out.push_str(&text.replace(['\t', '\n', '\r'], " "));
                            } else {
                                out.push_str(&text);
                            }
                        }
                    }
                    in_v = false;
                    in_is_t = false;
                }
                _ => {}
            },
            Event::Text(t) if in_v || (in_is_t && !in_rph) => {
                value.push_str(&t.xml10_content());
            }
            Event::CData(t) if in_v || (in_is_t && !in_rph) => {
                value.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if in_v || (in_is_t && !in_rph) => {
                if let Some(c) = reference_char(&r) {
                    value.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if started {
        out.push_str("\n\n");
    }
    Ok(started)
}

fn row_of(e: &BytesStart<'_>, previous: u64) -> Result<u64, quick_xml::Error> {
    Ok(attr_value(e, "r")?
        .and_then(|r| r.parse().ok())
        .unwrap_or(previous + 1))
}

fn cell_start(e: &BytesStart<'_>, row: u64) -> Result<(u64, CellType, usize), quick_xml::Error> {
    let mut cell_row = row;
    let mut kind = CellType::Number;
    let mut style = 0usize;
    for attr in e.attributes().flatten() {
        let value = attr.normalized_value(XmlVersion::Implicit1_0)?;
        match attr.key.local_name().as_ref() {
            "r" => {
                let digits = value.trim_start_matches(|c: char| c.is_ascii_alphabetic());
                if let Ok(r) = digits.parse() {
                    cell_row = r;
                }
            }
            "t" => {
                kind = match value.as_ref() {
                    "s" => CellType::Shared,
                    "str" => CellType::Str,
                    "inlineStr" => CellType::Inline,
                    "b" => CellType::Bool,
                    "e" => CellType::Error,
                    "d" => CellType::Date,
                    _ => CellType::Number,
                }
            }
            "s" => style = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    Ok((cell_row, kind, style))
}

fn cell_text<'a>(
    kind: CellType,
    style: usize,
    raw: &'a str,
    context: &'a SheetContext<'_>,
) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    match kind {
        CellType::Shared => raw
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| context.strings.get(i))
            .map_or(Cow::Borrowed(""), Cow::Borrowed),
        CellType::Inline => unescape_x(raw),
        CellType::Str | CellType::Error | CellType::Date => Cow::Borrowed(raw),
        CellType::Bool => Cow::Borrowed(if raw.trim() == "1" || raw.trim() == "true" {
            "TRUE"
        } else {
            "FALSE"
        }),
        CellType::Number => {
            let raw = raw.trim();
            if raw.is_empty() {
                return Cow::Borrowed("");
            }
            let Ok(number) = raw.parse::<f64>() else {
                return Cow::Borrowed(raw);
            };
            let shape = context
                .styles
                .cell_shapes
                .get(style)
                .copied()
                .unwrap_or_default();
            if shape == NumberShape::Date
                && let Some(date) = excel_date(number, context.date1904)
            {
                return Cow::Owned(date);
            }
            Cow::Owned(number.to_string())
        }
    }
}

fn reference_char(reference: &BytesRef<'_>) -> Option<char> {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        return Some(c);
    }
    Some(match &**reference {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// An Excel date serial as `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`; `None` outside years 1900
/// (1904) to 9999.
fn excel_date(serial: f64, date1904: bool) -> Option<String> {
    if !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    // Whole milliseconds, then seconds shown truncated.
    let total_ms = (serial * 86_400_000.0).round() as i64;
    let mut days = total_ms.div_euclid(86_400_000);
    let seconds = total_ms.rem_euclid(86_400_000) / 1000;
    // Excel's 1900 system counts a 29 February 1900 that never was: serials from 61 on are
    // days since 1899-12-30, earlier ones days since 1899-12-31.
    let epoch = if date1904 {
        days_from_civil(1904, 1, 1)
    } else if days < 61 {
        days_from_civil(1899, 12, 31)
    } else {
        days_from_civil(1899, 12, 30)
    };
    days += epoch;
    let (y, m, d) = civil_from_days(days);
    if seconds == 0 {
        Some(format!("{y:04}-{m:02}-{d:02}"))
    } else {
        let (h, min, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        Some(format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}"))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a count of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_like_excel() {
        assert_eq!(excel_date(1.0, false).as_deref(), Some("1900-01-01"));
        assert_eq!(excel_date(59.0, false).as_deref(), Some("1900-02-28"));
        assert_eq!(excel_date(61.0, false).as_deref(), Some("1900-03-01"));
        assert_eq!(excel_date(45_000.0, false).as_deref(), Some("2023-03-15"));
        assert_eq!(
            excel_date(45_000.75, false).as_deref(),
            Some("2023-03-15 18:00:00")
        );
        assert_eq!(excel_date(0.0, true).as_deref(), Some("1904-01-01"));
        assert_eq!(excel_date(-1.0, false), None);
        assert_eq!(excel_date(1e12, false), None);
    }

    #[test]
    fn format_codes() {
        assert_eq!(format_shape("yyyy-mm-dd"), NumberShape::Date);
        assert_eq!(format_shape("[$-409]mmm-yy"), NumberShape::Date);
        assert_eq!(format_shape("[h]:mm:ss"), NumberShape::Duration);
        assert_eq!(format_shape("General"), NumberShape::Number);
        assert_eq!(format_shape("#,##0.00\" days\""), NumberShape::Number);
        assert_eq!(format_shape("0.00E+00"), NumberShape::Number);
        assert_eq!(builtin_shape(14), NumberShape::Date);
        assert_eq!(builtin_shape(2), NumberShape::Number);
    }

    #[test]
    fn x_escapes() {
        assert_eq!(unescape_x("a_x000D_b"), "a\rb");
        assert_eq!(unescape_x("_x005F_x000D_"), "_x000D_");
        assert_eq!(unescape_x("snake_x_case"), "snake_x_case");
    }

    #[test]
    fn shared_strings_are_cut_and_rich_text_joined() {
        let xml = r#"<sst uniqueCount="8796093022208"><si><t>plain</t></si><si/>
            <si><r><t>ri</t></r><r><t xml:space="preserve">ch &amp; co</t></r><rPh><t>no</t></rPh></si>
            <si><t>0123456789</t></si></sst>"#;
        let strings = SharedStrings::parse(&mut xml.as_bytes(), 5).expect("sst");
        assert_eq!(strings.get(0), Some("plain"));
        assert_eq!(strings.get(1), Some(""));
        assert_eq!(strings.get(2), Some("rich "));
        assert_eq!(strings.get(3), Some("01234"));
        assert_eq!(strings.get(4), None);
    }
}
