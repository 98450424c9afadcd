//! Checks on what a provider returns: the contract's rules and the host's size limits.
//!
//! A provider is untrusted code. Whatever it returns is checked before the host uses it, so a
//! buggy or hostile provider ends its own call with a clear error instead of feeding absurd data
//! into the sync.

use super::bindings::p8::provider::types::{
    ChangePage, ChecksumAlgorithm, Entry, Page, ProviderInfo, SkippedEntry,
};

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
/// Most bytes a whole page may carry: its text, and [`STRING_COST`] for each string in it.
pub const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;
/// What each string costs the host besides its text (its header), so a page of millions of
/// empty strings is not free.
pub const STRING_COST: usize = 24;
/// Most folders in an entry's `path` (and most ids in its `parent-ids`).
pub const MAX_PATH_DEPTH: usize = 1024;
/// Most checksums one entry may report.
pub const MAX_CHECKSUMS: usize = 16;

fn field(what: &str, value: &str, max: usize) -> Result<usize, String> {
    if value.len() > max {
        return Err(format!(
            "{what} is {} bytes long; the limit is {max}",
            value.len()
        ));
    }
    Ok(value.len() + STRING_COST)
}

fn count(what: &str, n: usize, max: usize) -> Result<(), String> {
    if n > max {
        return Err(format!("{what} has {n} items; the limit is {max}"));
    }
    Ok(())
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
    count(
        &format!("the path of entry `{:.80}`", e.id),
        e.path.len(),
        MAX_PATH_DEPTH,
    )?;
    count(
        &format!("the parent ids of entry `{:.80}`", e.id),
        e.parent_ids.len(),
        MAX_PATH_DEPTH,
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
    let export = e
        .export_as
        .iter()
        .flat_map(|x| [&x.mime_type, &x.extension]);
    for s in [&e.mime_type, &e.revision]
        .into_iter()
        .flatten()
        .chain(export)
    {
        bytes += field(
            &format!("a field of entry `{:.80}`", e.id),
            s,
            MAX_NAME_BYTES,
        )?;
    }
    count(
        &format!("the checksums of entry `{:.80}`", e.id),
        e.checksums.len(),
        MAX_CHECKSUMS,
    )?;
    for c in &e.checksums {
        bytes += field(
            &format!("a checksum of entry `{:.80}`", e.id),
            &c.value,
            MAX_NAME_BYTES,
        )?;
        if let ChecksumAlgorithm::Other(name) = &c.algorithm {
            bytes += field(
                &format!("a checksum name of entry `{:.80}`", e.id),
                name,
                MAX_NAME_BYTES,
            )?;
        }
    }
    for (what, t) in [("modified", &e.modified), ("created", &e.created)] {
        if let Some(t) = t
            && t.nanoseconds >= 1_000_000_000
        {
            return Err(format!("entry `{:.80}` has an invalid {what} time", e.id));
        }
    }
    // Sizes are stored as a signed 64-bit number, and no file is that large.
    if let Some(size) = e.size
        && i64::try_from(size).is_err()
    {
        return Err(format!(
            "entry `{:.80}` has a size of {size} bytes, more than any file can have",
            e.id
        ));
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

fn total(bytes: usize) -> Result<usize, String> {
    if bytes > MAX_PAGE_BYTES {
        return Err(format!(
            "a page holds {bytes} bytes of text; the limit is {MAX_PAGE_BYTES}"
        ));
    }
    Ok(bytes)
}

/// Check a listing page; what it costs, in bytes (see [`MAX_PAGE_BYTES`]).
pub fn page(p: &Page) -> Result<usize, String> {
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

/// Check a change page; what it costs, in bytes (see [`MAX_PAGE_BYTES`]).
pub fn change_page(p: &ChangePage) -> Result<usize, String> {
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

    fn one(e: Entry) -> Result<usize, String> {
        page(&Page {
            entries: vec![e],
            skipped: vec![],
            next_cursor: None,
        })
    }

    #[test]
    fn every_list_and_string_of_an_entry_is_bounded() {
        let deep = Entry {
            path: vec![String::new(); MAX_PATH_DEPTH + 1],
            ..file("a", "a")
        };
        assert!(one(deep).unwrap_err().contains("the path of entry `a`"));
        let parents = Entry {
            parent_ids: vec!["p".into(); MAX_PATH_DEPTH + 1],
            ..file("a", "a")
        };
        assert!(one(parents).unwrap_err().contains("parent ids"));
        let sums = Entry {
            checksums: vec![
                crate::runtime::types::Checksum {
                    algorithm: ChecksumAlgorithm::Md5,
                    value: "0".into(),
                };
                MAX_CHECKSUMS + 1
            ],
            ..file("a", "a")
        };
        assert!(one(sums).unwrap_err().contains("checksums"));
        let odd_sum = Entry {
            checksums: vec![crate::runtime::types::Checksum {
                algorithm: ChecksumAlgorithm::Other("x".repeat(MAX_NAME_BYTES + 1)),
                value: "0".into(),
            }],
            ..file("a", "a")
        };
        assert!(one(odd_sum).unwrap_err().contains("checksum name"));
        let export = Entry {
            export_as: Some(crate::runtime::types::ExportFormat {
                mime_type: "text/plain".into(),
                extension: "x".repeat(MAX_NAME_BYTES + 1),
            }),
            ..file("a", "a")
        };
        assert!(one(export).unwrap_err().contains("a field of entry"));
        let created = Entry {
            created: Some(crate::runtime::types::Timestamp {
                seconds: 0,
                nanoseconds: 1_000_000_000,
            }),
            ..file("a", "a")
        };
        assert!(one(created).unwrap_err().contains("invalid created time"));
        let huge = Entry {
            size: Some(u64::MAX),
            ..file("a", "a")
        };
        assert!(one(huge).unwrap_err().contains("more than any file"));
        assert!(
            one(Entry {
                size: Some(i64::MAX as u64),
                ..file("a", "a")
            })
            .is_ok()
        );

        // Empty strings are not free: a page of them still hits the byte limit.
        let empties = Page {
            entries: (0..MAX_PAGE_ENTRIES)
                .map(|i| Entry {
                    path: vec![String::new(); 80],
                    parent_ids: vec![String::new(); 80],
                    ..file(&i.to_string(), "f")
                })
                .collect(),
            skipped: vec![],
            next_cursor: None,
        };
        assert!(page(&empties).unwrap_err().contains("bytes of text"));
        // And a page reports what it costs.
        assert_eq!(one(file("a", "bc")).unwrap(), 3 + 2 * STRING_COST);
    }
}

/// Properties of the checks over arbitrary pages: they never panic, and a page passes exactly
/// when every field keeps the contract's limits, so nothing out of bounds reaches the sync.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::runtime::bindings::p8::provider::types::{
        Checksum, EntryKind, ExportFormat, Timestamp,
    };
    use proptest::prelude::*;

    /// Strings mostly short, sometimes just past the name limit.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[a-zA-Z0-9 ./\\\\\u{e9}\u{1f6a2}-]{0,24}",
            1 => Just(String::new()),
            1 => (MAX_NAME_BYTES - 2..MAX_NAME_BYTES + 3).prop_map(|n| "x".repeat(n)),
        ]
    }

    fn timestamp() -> impl Strategy<Value = Option<Timestamp>> {
        proptest::option::of(
            (any::<i64>(), any::<u32>()).prop_map(|(seconds, nanoseconds)| Timestamp {
                seconds,
                nanoseconds,
            }),
        )
    }

    fn algorithm() -> impl Strategy<Value = ChecksumAlgorithm> {
        prop_oneof![
            Just(ChecksumAlgorithm::Md5),
            Just(ChecksumAlgorithm::Sha256),
            Just(ChecksumAlgorithm::QuickXorHash),
            text().prop_map(ChecksumAlgorithm::Other),
        ]
    }

    fn entry() -> impl Strategy<Value = Entry> {
        (
            (text(), text(), prop::collection::vec(text(), 0..4)),
            (
                prop_oneof![9 => Just(0usize), 1 => Just(MAX_PATH_DEPTH + 1)],
                proptest::option::of(text()),
                proptest::option::of(any::<u64>()),
            ),
            (timestamp(), timestamp()),
            prop::collection::vec((algorithm(), text()), 0..3),
            prop_oneof![9 => Just(0usize), 1 => Just(MAX_CHECKSUMS + 1)],
            (
                proptest::option::of((text(), text())),
                proptest::option::of(text()),
            ),
        )
            .prop_map(
                |(
                    (id, name, path),
                    (deep, revision, size),
                    (modified, created),
                    sums,
                    many,
                    (export, meta),
                )| {
                    let mut checksums: Vec<Checksum> = sums
                        .into_iter()
                        .map(|(algorithm, value)| Checksum { algorithm, value })
                        .collect();
                    checksums.extend((0..many).map(|_| Checksum {
                        algorithm: ChecksumAlgorithm::Md5,
                        value: "0".into(),
                    }));
                    Entry {
                        id,
                        name,
                        path: path
                            .into_iter()
                            .chain((0..deep).map(|_| "d".into()))
                            .collect(),
                        parent_ids: vec![],
                        kind: EntryKind::File,
                        mime_type: None,
                        size,
                        modified,
                        created,
                        checksums,
                        revision,
                        export_as: export.map(|(mime_type, extension)| ExportFormat {
                            mime_type,
                            extension,
                        }),
                        metadata_json: meta,
                    }
                },
            )
    }

    /// What the contract allows, written out plainly, field by field.
    fn allowed(e: &Entry) -> bool {
        let short = |s: &String| s.len() <= MAX_NAME_BYTES;
        let time = |t: &Option<Timestamp>| t.as_ref().is_none_or(|t| t.nanoseconds < 1_000_000_000);
        let sum_names = e.checksums.iter().all(|c| match &c.algorithm {
            ChecksumAlgorithm::Other(n) => short(n),
            _ => true,
        });
        !e.id.is_empty()
            && short(&e.id)
            && short(&e.name)
            && e.path.len() <= MAX_PATH_DEPTH
            && e.path.iter().all(short)
            && e.revision.as_ref().is_none_or(short)
            && e.export_as
                .as_ref()
                .is_none_or(|x| short(&x.mime_type) && short(&x.extension))
            && e.metadata_json
                .as_ref()
                .is_none_or(|m| m.len() <= MAX_METADATA_BYTES)
            && e.checksums.len() <= MAX_CHECKSUMS
            && e.checksums.iter().all(|c| short(&c.value))
            && sum_names
            && e.size.is_none_or(|s| s <= i64::MAX as u64)
            && time(&e.modified)
            && time(&e.created)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn a_page_passes_exactly_when_every_entry_keeps_the_limits(
            entries in prop::collection::vec(entry(), 0..6),
            cursor in proptest::option::of(text()),
        ) {
            let p = Page { entries, skipped: vec![], next_cursor: cursor };
            let expected = p.entries.iter().all(allowed)
                && p.next_cursor.as_ref().is_none_or(|c| !c.is_empty());
            match page(&p) {
                Ok(cost) => {
                    prop_assert!(expected, "passed, but breaks a limit: {p:?}");
                    prop_assert!(cost <= MAX_PAGE_BYTES);
                    let text: usize = p.entries.iter().map(|e| e.id.len() + e.name.len()).sum();
                    prop_assert!(cost >= text, "cost {cost} under the text it holds ({text})");
                }
                Err(reason) => {
                    prop_assert!(!expected, "refused a page within every limit: {reason}");
                    prop_assert!(!reason.is_empty() && reason.len() < 1024, "{reason}");
                }
            }
        }

        #[test]
        fn a_change_page_never_panics_and_bounds_its_cost(
            changed in prop::collection::vec(entry(), 0..4),
            removed in prop::collection::vec(text(), 0..4),
            cursor in text(),
        ) {
            let p = ChangePage { changed, removed, skipped: vec![], next_cursor: cursor, has_more: false };
            if let Ok(cost) = change_page(&p) {
                prop_assert!(cost <= MAX_PAGE_BYTES);
                prop_assert!(p.changed.iter().all(allowed));
                prop_assert!(p.removed.iter().all(|r| r.len() <= MAX_NAME_BYTES));
            }
        }
    }
}
