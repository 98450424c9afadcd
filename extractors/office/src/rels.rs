//! Relationship parts and part names.

use quick_xml::events::Event;
use quick_xml::{Reader as XmlReader, XmlVersion};

/// One `Relationship` of a `.rels` part.
#[derive(Debug, Clone)]
pub(crate) struct Relationship {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) target: String,
}

/// A reader over an XML string that survives sloppy producers.
pub(crate) fn xml_reader(xml: &str) -> XmlReader<&[u8]> {
    let mut reader = XmlReader::from_str(xml);
    reader.config_mut().check_end_names = false;
    reader
}

pub(crate) fn relationships(xml: &str) -> Result<Vec<Relationship>, quick_xml::Error> {
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

/// Resolves a relationship target against the directory of the part that owns the rels.
pub(crate) fn resolve_part(base_dir: &str, target: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
