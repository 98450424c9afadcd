//! The `207 Multi-Status` answer to PROPFIND (RFC 4918 §14.16), parsed by namespace URI and
//! local name: servers pick their own prefixes (`d:`, `D:`, `ns0:`, a default namespace), so
//! a prefix means nothing. Only properties in a `propstat` whose status is 2xx count; servers
//! list the properties they do not have under a `404` propstat.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The `DAV:` namespace.
pub const DAV: &str = "DAV:";
/// ownCloud's and Nextcloud's namespace (`oc:fileid`, `oc:checksums`).
pub const OC: &str = "http://owncloud.org/ns";
/// SabreDAV's error namespace (`s:message` in Nextcloud's error bodies).
pub const SABRE: &str = "http://sabredav.org/ns";

/// One `response`: a resource and the properties the server gave for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// The `href`, as sent (percent-encoded, a path or an absolute URL).
    pub href: String,
    /// `resourcetype` contains `collection`.
    pub collection: bool,
    /// `getcontentlength`.
    pub length: Option<u64>,
    /// `getlastmodified` (an HTTP date), as sent.
    pub modified: Option<String>,
    /// `getetag`, as sent (quotes included).
    pub etag: Option<String>,
    /// `getcontenttype`.
    pub content_type: Option<String>,
    /// `oc:fileid`.
    pub fileid: Option<String>,
    /// The `oc:checksum` values inside `oc:checksums` (`SHA1:... MD5:...`).
    pub checksums: Vec<String>,
}

/// One element on the way down: its namespace (if bound) and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    ns: Option<String>,
    local: String,
}

impl Name {
    fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }
}

/// The properties of one `propstat`, merged into the resource when its status is 2xx.
#[derive(Default)]
struct PropStat {
    ok: Option<bool>,
    props: Resource,
}

/// Whether an HTTP status line (`HTTP/1.1 200 OK`) says 2xx.
fn status_ok(line: &str) -> bool {
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..300).contains(&code))
}

fn predefined(entity: &str) -> Option<char> {
    Some(match entity {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Walk the document, calling `visit(open, path, text)` at the start (`open`) and at the end
/// of every element, with the element names from the root down to it and (at the end) its
/// text content.
fn walk(xml: &str, mut visit: impl FnMut(bool, &[Name], &str)) -> Result<(), String> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Name> = Vec::new();
    let mut text = String::new();
    loop {
        let at = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("after byte {at}: {e}"))?;
        match event {
            Event::Start(start) => {
                let ns = match ns {
                    ResolveResult::Bound(n) => Some(n.as_ref().to_string()),
                    _ => None,
                };
                let local = start.local_name().as_ref().to_string();
                stack.push(Name { ns, local });
                visit(true, &stack, "");
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.into_inner()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(c) = predefined(r.as_ref()) {
                    text.push(c);
                }
            }
            Event::End(_) => {
                visit(false, &stack, &text);
                stack.pop();
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    Ok(())
}

/// The resources of a multistatus document.
pub fn parse(xml: &str) -> Result<Vec<Resource>, String> {
    let mut out = Vec::new();
    let mut saw_multistatus = false;
    let mut current: Option<(Resource, Option<bool>)> = None;
    let mut propstat = PropStat::default();
    walk(xml, |open, path, text| {
        let Some(element) = path.last() else { return };
        if open {
            if element.is(DAV, "response") {
                current = Some((Resource::default(), None));
            } else if element.is(DAV, "propstat") {
                propstat = PropStat::default();
            }
            return;
        }
        let parent = path.len().checked_sub(2).map(|i| &path[i]);
        let within = |ns: &str, local: &str| parent.is_some_and(|p| p.is(ns, local));
        let value = text.trim();
        let props = &mut propstat.props;
        if element.is(DAV, "multistatus") {
            saw_multistatus = true;
        } else if element.is(DAV, "href") && within(DAV, "response") {
            if let Some((r, _)) = current.as_mut() {
                r.href = value.to_string();
            }
        } else if element.is(DAV, "status") && within(DAV, "propstat") {
            propstat.ok = Some(status_ok(value));
        } else if element.is(DAV, "status") && within(DAV, "response") {
            if let Some((_, status)) = current.as_mut() {
                *status = Some(status_ok(value));
            }
        } else if element.is(DAV, "collection") && within(DAV, "resourcetype") {
            props.collection = true;
        } else if within(DAV, "prop") && !value.is_empty() {
            if element.is(DAV, "getcontentlength") {
                props.length = value.parse().ok();
            } else if element.is(DAV, "getlastmodified") {
                props.modified = Some(value.to_string());
            } else if element.is(DAV, "getetag") {
                props.etag = Some(value.to_string());
            } else if element.is(DAV, "getcontenttype") {
                props.content_type = Some(value.to_string());
            } else if element.is(OC, "fileid") {
                props.fileid = Some(value.to_string());
            }
        } else if element.is(OC, "checksum") && within(OC, "checksums") && !value.is_empty() {
            props.checksums.push(value.to_string());
        } else if element.is(DAV, "propstat") {
            let done = std::mem::take(&mut propstat);
            // A propstat without a status is taken as good (lenient towards odd servers).
            if done.ok != Some(false)
                && let Some((r, _)) = current.as_mut()
            {
                merge(r, done.props);
            }
        } else if element.is(DAV, "response")
            && let Some((r, status)) = current.take()
            && status != Some(false)
            && !r.href.is_empty()
        {
            out.push(r);
        }
    })?;
    if !saw_multistatus {
        return Err("the answer is not a DAV:multistatus document".into());
    }
    Ok(out)
}

fn merge(into: &mut Resource, from: Resource) {
    into.collection |= from.collection;
    into.length = into.length.or(from.length);
    into.modified = into.modified.take().or(from.modified);
    into.etag = into.etag.take().or(from.etag);
    into.content_type = into.content_type.take().or(from.content_type);
    into.fileid = into.fileid.take().or(from.fileid);
    into.checksums.extend(from.checksums);
}

/// The human message in a server's error body: SabreDAV's `s:message` (Nextcloud, ownCloud)
/// when there is one, otherwise the body's text, shortened.
pub fn error_message(body: &str) -> String {
    let mut message = None;
    if body.trim_start().starts_with('<') {
        let _ = walk(body, |open, path, text| {
            if !open && message.is_none() && path.last().is_some_and(|n| n.is(SABRE, "message")) {
                message = Some(text.trim().to_string());
            }
        });
    }
    let mut text = message.unwrap_or_else(|| body.split_whitespace().collect::<Vec<_>>().join(" "));
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_prefix_and_only_good_propstats() {
        // Nextcloud style: `d:` and `oc:` prefixes, a 404 propstat for what it lacks.
        let nextcloud = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns">
 <d:response><d:href>/remote.php/dav/files/alice/</d:href>
  <d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:getetag>&quot;5f0&quot;</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  <d:propstat><d:prop><d:getcontentlength/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
 </d:response>
 <d:response><d:href>/remote.php/dav/files/alice/a%20%26%20b.txt</d:href>
  <d:propstat><d:prop><d:resourcetype/><d:getcontentlength>12</d:getcontentlength>
   <d:getlastmodified>Tue, 05 Mar 2024 10:00:00 GMT</d:getlastmodified><d:getetag>"abc"</d:getetag>
   <d:getcontenttype>text/plain</d:getcontenttype><oc:fileid>42</oc:fileid>
   <oc:checksums><oc:checksum>SHA1:aa MD5:bb</oc:checksum></oc:checksums></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
</d:multistatus>"#;
        let r = parse(nextcloud).unwrap();
        assert_eq!(r.len(), 2);
        assert!(r[0].collection);
        assert_eq!(r[0].etag.as_deref(), Some("\"5f0\""));
        assert_eq!(r[0].length, None);
        assert_eq!(r[1].href, "/remote.php/dav/files/alice/a%20%26%20b.txt");
        assert!(!r[1].collection);
        assert_eq!(r[1].length, Some(12));
        assert_eq!(r[1].fileid.as_deref(), Some("42"));
        assert_eq!(r[1].checksums, vec!["SHA1:aa MD5:bb".to_string()]);

        // A default namespace and an unusual prefix; the 404 propstat's values are ignored.
        let odd = r#"<multistatus xmlns="DAV:"><response><href>http://h/x/f.bin</href>
  <propstat><prop><getcontentlength>999</getcontentlength></prop><status>HTTP/1.1 404 Not Found</status></propstat>
  <propstat><prop xmlns:Z="DAV:"><Z:getcontentlength>7</Z:getcontentlength><resourcetype/></prop><status>HTTP/1.1 200 OK</status></propstat>
  </response>
  <response><href>/x/gone</href><status>HTTP/1.1 404 Not Found</status></response></multistatus>"#;
        let r = parse(odd).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].length, Some(7));
        assert!(!r[0].collection);

        // The same local names in another namespace are not DAV properties.
        let foreign = r#"<D:multistatus xmlns:D="DAV:" xmlns:X="urn:x"><D:response><D:href>/f</D:href>
  <D:propstat><D:prop><X:getcontentlength>5</X:getcontentlength><D:resourcetype><X:collection/></D:resourcetype></D:prop>
  <D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#;
        let r = parse(foreign).unwrap();
        assert_eq!(r[0].length, None);
        assert!(!r[0].collection);
    }

    #[test]
    fn refuses_what_is_not_a_multistatus() {
        assert!(parse("<html><body>Login</body></html>").is_err());
        assert!(parse("<D:multistatus xmlns:D=\"DAV:\"><D:response>").is_err());
        assert!(parse("not xml at all <").is_err());
    }

    #[test]
    fn error_messages() {
        let sabre = r#"<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:exception>Sabre\DAV\Exception\NotAuthenticated</s:exception><s:message>No public access to this resource.</s:message></d:error>"#;
        assert_eq!(error_message(sabre), "No public access to this resource.");
        assert_eq!(
            error_message("  Too   many\nrequests "),
            "Too many requests"
        );
        assert!(error_message(&"x".repeat(500)).chars().count() <= 201);
    }
}
