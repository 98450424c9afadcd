//! Checks on what a provider returns: the contract's rules and the host's size limits.
//!
//! A provider is untrusted code. Whatever it returns is checked before the host uses it, so a
//! buggy or hostile provider ends its own call with a clear error instead of feeding absurd data
//! into the sync.

use super::bindings::p8::provider::types::{ChangePage, Entry, Page, ProviderInfo, SkippedEntry};

/// Most entries one page may carry.
pub const MAX_PAGE_ENTRIES: usize = 10_000;
/// Longest id, name or path segment, in bytes.
pub const MAX_NAME_BYTES: usize = 4096;
/// Longest cursor, in bytes.
pub const MAX_CURSOR_BYTES: usize = 1024 * 1024;
/// Longest `metadata-json`, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Largest inline fetch body, in bytes.
pub const MAX_INLINE_BYTES: usize = 1024 * 1024;
/// Most bytes of text a whole page may carry.
pub const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

fn field(what: &str, value: &str, max: usize) -> Result<usize, String> {
    if value.len() > max {
        return Err(format!(
            "{what} is {} bytes long; the limit is {max}",
            value.len()
        ));
    }
    Ok(value.len())
}

fn entry(e: &Entry) -> Result<usize, String> {
    if e.id.is_empty() {
        return Err(format!("an entry named `{:.80}` has an empty id", e.name));
    }
    let mut bytes = field("an entry id", &e.id, MAX_NAME_BYTES)?;
    bytes += field(
        &format!("the name of entry `{:.80}`", e.id),
        &e.name,
        MAX_NAME_BYTES,
    )?;
    for s in e.path.iter().chain(e.parent_ids.iter()) {
        bytes += field(
            &format!("a path segment of entry `{:.80}`", e.id),
            s,
            MAX_NAME_BYTES,
        )?;
    }
    if let Some(m) = &e.metadata_json {
        bytes += field(
            &format!("the metadata of entry `{:.80}`", e.id),
            m,
            MAX_METADATA_BYTES,
        )?;
    }
    for s in [&e.mime_type, &e.revision].into_iter().flatten() {
        bytes += field(
            &format!("a field of entry `{:.80}`", e.id),
            s,
            MAX_NAME_BYTES,
        )?;
    }
    for c in &e.checksums {
        bytes += field(
            &format!("a checksum of entry `{:.80}`", e.id),
            &c.value,
            MAX_NAME_BYTES,
        )?;
    }
    if let Some(t) = &e.modified
        && t.nanoseconds >= 1_000_000_000
    {
        return Err(format!("entry `{:.80}` has an invalid modified time", e.id));
    }
    Ok(bytes)
}

fn skipped(s: &[SkippedEntry]) -> Result<usize, String> {
    let mut bytes = 0;
    for s in s {
        bytes += field("a skipped entry's id", &s.id, MAX_NAME_BYTES)?;
        bytes += field("a skipped entry's name", &s.name, MAX_NAME_BYTES)?;
        bytes += field("a skip reason", &s.reason, MAX_NAME_BYTES)?;
    }
    Ok(bytes)
}

fn entries(list: &[Entry], extra: usize) -> Result<usize, String> {
    if list.len() + extra > MAX_PAGE_ENTRIES {
        return Err(format!(
            "a page holds {} entries; the limit is {MAX_PAGE_ENTRIES} (return more pages instead)",
            list.len() + extra
        ));
    }
    let mut bytes = 0;
    for e in list {
        bytes += entry(e)?;
    }
    Ok(bytes)
}

fn total(bytes: usize) -> Result<(), String> {
    if bytes > MAX_PAGE_BYTES {
        return Err(format!(
            "a page holds {bytes} bytes of text; the limit is {MAX_PAGE_BYTES}"
        ));
    }
    Ok(())
}

/// Check a listing page.
pub fn page(p: &Page) -> Result<(), String> {
    let mut bytes = entries(&p.entries, p.skipped.len())?;
    bytes += skipped(&p.skipped)?;
    if let Some(c) = &p.next_cursor {
        if c.is_empty() {
            return Err(
                "the next cursor is empty; return none when the listing is complete".into(),
            );
        }
        bytes += field("the next cursor", c, MAX_CURSOR_BYTES)?;
    }
    total(bytes)
}

/// Check a change page.
pub fn change_page(p: &ChangePage) -> Result<(), String> {
    let mut bytes = entries(&p.changed, p.removed.len() + p.skipped.len())?;
    bytes += skipped(&p.skipped)?;
    for id in &p.removed {
        bytes += field("a removed id", id, MAX_NAME_BYTES)?;
    }
    bytes += field("the next cursor", &p.next_cursor, MAX_CURSOR_BYTES)?;
    total(bytes)
}

/// Check a cursor.
pub fn cursor(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("the cursor is empty".into());
    }
    field("the cursor", c, MAX_CURSOR_BYTES).map(|_| ())
}

/// Check `info()`.
pub fn info(i: &ProviderInfo) -> Result<(), String> {
    let id_ok = !i.id.is_empty()
        && i.id.len() <= 64
        && i.id.starts_with(|c: char| c.is_ascii_lowercase())
        && i.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !id_ok {
        return Err(format!(
            "the id `{:.80}` must be 1-64 characters of a-z, 0-9 and _, starting with a letter",
            i.id
        ));
    }
    if i.display_name.trim().is_empty() {
        return Err("the display name is empty".into());
    }
    field("the display name", &i.display_name, 200)?;
    field("the description", &i.description, 4096)?;
    if semver::Version::parse(&i.version).is_err() {
        return Err(format!(
            "the version `{:.40}` is not semver (like 1.2.3)",
            i.version
        ));
    }
    if i.api_hosts.len() + i.plain_hosts.len() > 64 {
        return Err("more than 64 hosts are declared".into());
    }
    if i.config_keys.len() > 256 {
        return Err("more than 256 config keys are declared".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::p8::provider::types::EntryKind;

    fn file(id: &str, name: &str) -> Entry {
        Entry {
            id: id.into(),
            name: name.into(),
            path: vec![],
            parent_ids: vec![],
            kind: EntryKind::File,
            mime_type: None,
            size: Some(1),
            modified: None,
            created: None,
            checksums: vec![],
            revision: None,
            export_as: None,
            metadata_json: None,
        }
    }

    #[test]
    fn pages_within_limits_pass_and_absurd_ones_fail() {
        let ok = Page {
            entries: vec![file("a", "a.txt")],
            skipped: vec![],
            next_cursor: Some("c".into()),
        };
        assert!(page(&ok).is_ok());

        let too_many = Page {
            entries: (0..MAX_PAGE_ENTRIES + 1)
                .map(|i| file(&i.to_string(), "f"))
                .collect(),
            skipped: vec![],
            next_cursor: None,
        };
        assert!(page(&too_many).unwrap_err().contains("limit is 10000"));

        let long_name = Page {
            entries: vec![file("a", &"x".repeat(MAX_NAME_BYTES + 1))],
            skipped: vec![],
            next_cursor: None,
        };
        assert!(
            page(&long_name)
                .unwrap_err()
                .contains("the name of entry `a`")
        );

        let no_id = Page {
            entries: vec![file("", "nameless")],
            skipped: vec![],
            next_cursor: None,
        };
        assert!(page(&no_id).unwrap_err().contains("empty id"));

        let empty_cursor = Page {
            entries: vec![],
            skipped: vec![],
            next_cursor: Some(String::new()),
        };
        assert!(page(&empty_cursor).is_err());
    }
}
