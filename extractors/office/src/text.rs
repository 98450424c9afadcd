//! DOCX and PPTX: WordprocessingML and DrawingML paragraphs, streamed from the zip.

use std::io::{BufRead, Read, Seek};

use p8sync_extractor_sdk::{ExtractError, Summary, TextSink};
use quick_xml::events::{BytesRef, Event};
use quick_xml::{Reader as XmlReader, XmlVersion};

use crate::package::Package;
use crate::rels::xml_reader;

const SLIDE_REL: &str = "/slide";

/// Text is passed on in pieces of about this many bytes.
const FLUSH_BYTES: usize = 64 * 1024;

/// Extracts the body text of a Word document, one line per paragraph.
pub(crate) fn docx<R: Read + Seek>(
    package: &mut Package<R>,
    sink: &mut dyn TextSink,
) -> Result<Summary, ExtractError> {
    let main = package
        .main_part()?
        .unwrap_or_else(|| "word/document.xml".to_owned());
    let mut out = LineOut::new(sink);
    let found = package.parse(&main, |reader| paragraphs_text(reader, &mut out))?;
    if found.is_none() {
        return Err(ExtractError::not_ingestible(
            "the DOCX has no document part (word/document.xml); it is not a Word document",
        ));
    }
    out.finish();
    Ok(Summary::default())
}

/// Extracts the text of every slide, in presentation order, slides separated by blank lines.
pub(crate) fn pptx<R: Read + Seek>(
    package: &mut Package<R>,
    sink: &mut dyn TextSink,
) -> Result<Summary, ExtractError> {
    let slides = slide_parts(package)?;
    if slides.is_empty() {
        return Err(ExtractError::not_ingestible(
            "the PPTX has no slides; it is not a PowerPoint presentation",
        ));
    }
    let mut out = LineOut::new(sink);
    for slide in &slides {
        package.parse(slide, |reader| paragraphs_text(reader, &mut out))?;
        out.push('\n');
        if out.stopped {
            break;
        }
    }
    out.finish();
    Ok(Summary::default())
}

/// Slide part names in presentation order.
fn slide_parts<R: Read + Seek>(package: &mut Package<R>) -> Result<Vec<String>, ExtractError> {
    let presentation = package
        .main_part()?
        .unwrap_or_else(|| "ppt/presentation.xml".to_owned());
    let (Some(xml), Some(rels)) = (
        package.read_xml(&presentation)?,
        package.part_relationships(&presentation)?,
    ) else {
        return Ok(numbered_slides(package));
    };
    let ids = slide_ids(&xml).map_err(|err| package.xml_error(&presentation, err))?;
    let slides: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            rels.iter()
                .find(|rel| &rel.id == id && rel.kind.ends_with(SLIDE_REL))
                .map(|rel| rel.target.clone())
        })
        .collect();
    if slides.is_empty() {
        return Ok(numbered_slides(package));
    }
    Ok(slides)
}

/// Fallback when the presentation part can't tell the order: slideN.xml by N.
fn numbered_slides<R: Read + Seek>(package: &Package<R>) -> Vec<String> {
    let mut slides: Vec<(u32, String)> = package
        .file_names()
        .into_iter()
        .filter_map(|name| {
            let number = name
                .strip_prefix("ppt/slides/slide")?
                .strip_suffix(".xml")?
                .parse()
                .ok()?;
            Some((number, name))
        })
        .collect();
    slides.sort();
    slides.into_iter().map(|(_, name)| name).collect()
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

/// Output that is passed on in pieces while the end of the current piece stays editable (the
/// table rules trim trailing spaces and tabs).
pub(crate) struct LineOut<'a> {
    buf: String,
    sink: &'a mut dyn TextSink,
    /// The sink said stop.
    pub(crate) stopped: bool,
}

impl<'a> LineOut<'a> {
    pub(crate) fn new(sink: &'a mut dyn TextSink) -> Self {
        Self {
            buf: String::new(),
            sink,
            stopped: false,
        }
    }

    pub(crate) fn push(&mut self, c: char) {
        self.buf.push(c);
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
        if self.buf.len() >= FLUSH_BYTES {
            self.flush_settled();
        }
    }

    fn trim_end(&mut self, chars: &[char]) {
        let keep = self.buf.trim_end_matches(chars).len();
        self.buf.truncate(keep);
    }

    /// Passes on all but the trailing run of spaces and tabs.
    fn flush_settled(&mut self) {
        let keep = self.buf.trim_end_matches([' ', '\t']).len();
        if keep == 0 || self.stopped {
            return;
        }
        if !self.sink.text(&self.buf[..keep]) {
            self.stopped = true;
        }
        self.buf.drain(..keep);
    }

    /// Passes on everything.
    pub(crate) fn finish(&mut self) {
        if !self.stopped && !self.buf.is_empty() && !self.sink.text(&self.buf) {
            self.stopped = true;
        }
        self.buf.clear();
    }
}

/// Appends the text of WordprocessingML or DrawingML: `t` runs, one line per paragraph `p`,
/// and table rows `tr` as lines of tab-separated cells `tc`, like spreadsheet rows. Stops
/// early (`Ok`) when the sink says stop.
pub(crate) fn paragraphs_text(
    reader: &mut dyn BufRead,
    out: &mut LineOut<'_>,
) -> Result<(), quick_xml::Error> {
    let mut reader = XmlReader::from_reader(reader);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut in_text = false;
    let mut run_depth = 0usize;
    let mut table_depth = 0usize;
    // mc:Fallback repeats the mc:Choice content for old readers; reading both doubles it.
    let mut skip_depth = 0usize;
    loop {
        if out.stopped {
            return Ok(());
        }
        buf.clear();
        let event = reader.read_event_into(&mut buf)?;
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
                    out.trim_end(&[' ']);
                    out.push('\t');
                }
                "tr" => {
                    out.trim_end(&[' ', '\t']);
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

fn push_reference(reference: &BytesRef<'_>, out: &mut LineOut<'_>) {
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
        // OOXML has no DTD, so no other entity can be defined; drop it (this is also why a
        // "billion laughs" DTD expands to nothing here).
        _ => return,
    };
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use p8sync_extractor_sdk::{Collector, Limits};

    #[test]
    fn fallback_content_and_tab_stops_are_skipped() {
        let xml = r#"<w:document xmlns:w="w" xmlns:mc="mc"><w:body>
            <w:p><w:pPr><w:tabs><w:tab w:val="left"/></w:tabs></w:pPr>
              <w:r><w:t>one</w:t><w:tab/><w:t xml:space="preserve">two &amp; &#x33;</w:t></w:r></w:p>
            <mc:AlternateContent><mc:Choice><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Choice>
              <mc:Fallback><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent>
            <w:p><w:r><w:delText>deleted</w:delText><w:t>kept</w:t></w:r></w:p>
            </w:body></w:document>"#;
        let mut sink = Collector::new(&Limits::default());
        let mut out = LineOut::new(&mut sink);
        paragraphs_text(&mut xml.as_bytes(), &mut out).expect("xml");
        out.finish();
        assert_eq!(sink.text, "one\ttwo & 3\nbox\nkept\n");
    }
}
