//! What a sync has to do: filter the listing, then diff it against what is recorded.

use crate::runtime::types::{ChecksumAlgorithm, Entry, EntryKind};
use crate::store::{FileStatus, SyncConfig, SyncFile};
use std::collections::HashMap;

/// What to do with one remote file.
#[derive(Debug)]
pub enum Action {
    /// New or changed: fetch and store it.
    Transfer {
        /// The entry as listed.
        entry: Box<Entry>,
        /// What is recorded, if anything.
        existing: Option<SyncFile>,
    },
    /// Recorded as synced and unchanged.
    Unchanged(SyncFile),
    /// Recorded as synced, the same content, listed under another name or in another folder:
    /// the record follows it, without a transfer.
    Moved {
        /// The entry as listed now.
        entry: Box<Entry>,
        /// What is recorded.
        file: SyncFile,
    },
    /// Recorded, and gone from the provider.
    Deleted(SyncFile),
    /// Recorded, and now left out by the config's filters: record it `excluded`, with why.
    Exclude {
        /// The entry as listed (`None`: not listed, because the provider itself left out the
        /// folders that are not included).
        entry: Option<Box<Entry>>,
        /// What is recorded.
        file: SyncFile,
        /// Why it is out of scope.
        reason: String,
    },
    /// Recorded `excluded`, back in scope, its content unchanged and its object kept: mark it
    /// synced again without a transfer.
    Restore(SyncFile),
    /// Listed, but filtered out or too large (and not recorded, or recorded as excluded).
    Skip {
        /// The entry.
        entry: Box<Entry>,
        /// Why.
        reason: String,
    },
}

/// What a run would do with one file, and why: a line of `sync --dry-run`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// The file's path at the provider.
    pub path: String,
    /// The provider's id for it.
    pub remote_id: String,
    /// What would happen.
    pub verdict: Verdict,
    /// Why, where there is more to say than the verdict.
    pub reason: Option<String>,
}

/// What a run does with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not recorded yet: transferred.
    New,
    /// Recorded, and different now: transferred again.
    Changed,
    /// Recorded and the same: nothing to do.
    Unchanged,
    /// Recorded, the same content under another name or folder: the record is updated, no
    /// transfer.
    Moved,
    /// Excluded before, in scope again and unchanged: marked synced, no transfer.
    Restored,
    /// Recorded, now out of the config's scope: marked excluded.
    Excluded,
    /// Out of scope (or refused by the provider), not recorded: left alone.
    Skipped,
    /// Gone from the provider: marked deleted.
    Deleted,
}

impl Verdict {
    /// The verdict as a word.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::New => "new",
            Verdict::Changed => "changed",
            Verdict::Unchanged => "unchanged",
            Verdict::Moved => "moved",
            Verdict::Restored => "restored",
            Verdict::Excluded => "excluded",
            Verdict::Skipped => "skipped",
            Verdict::Deleted => "deleted",
        }
    }
}

/// An entry's path at the provider: its folders and its name, `/`-separated.
pub fn entry_path(entry: &Entry) -> String {
    entry
        .path
        .iter()
        .chain(std::iter::once(&entry.name))
        .cloned()
        .collect::<Vec<_>>()
        .join("/")
}

fn file_path(file: &SyncFile) -> String {
    file.remote_path
        .clone()
        .unwrap_or_else(|| file.remote_id.clone())
}

/// What `action` does to its file, and why.
pub fn explain(action: &Action) -> Decision {
    let decision = |path: String, id: &str, verdict, reason: Option<String>| Decision {
        path,
        remote_id: id.to_string(),
        verdict,
        reason,
    };
    match action {
        Action::Transfer {
            entry,
            existing: None,
        } => decision(entry_path(entry), &entry.id, Verdict::New, None),
        Action::Transfer {
            entry,
            existing: Some(file),
        } => decision(
            entry_path(entry),
            &entry.id,
            if file.status == FileStatus::Synced {
                Verdict::Changed
            } else {
                Verdict::New
            },
            Some(why_transfer(file, entry)),
        ),
        Action::Unchanged(file) => {
            decision(file_path(file), &file.remote_id, Verdict::Unchanged, None)
        }
        Action::Moved { entry, file } => decision(
            entry_path(entry),
            &entry.id,
            Verdict::Moved,
            Some(format!("was `{}`", file_path(file))),
        ),
        Action::Restore(file) => decision(
            file_path(file),
            &file.remote_id,
            Verdict::Restored,
            Some("back in scope, unchanged".into()),
        ),
        Action::Exclude {
            entry,
            file,
            reason,
        } => decision(
            entry.as_deref().map_or_else(|| file_path(file), entry_path),
            &file.remote_id,
            Verdict::Excluded,
            Some(reason.clone()),
        ),
        Action::Skip { entry, reason } => decision(
            entry_path(entry),
            &entry.id,
            Verdict::Skipped,
            Some(reason.clone()),
        ),
        Action::Deleted(file) => decision(file_path(file), &file.remote_id, Verdict::Deleted, None),
    }
}

/// Why a recorded file is transferred again.
fn why_transfer(file: &SyncFile, entry: &Entry) -> String {
    if file.status != FileStatus::Synced {
        return format!("recorded as {}", file.status.as_str());
    }
    if let (Some(a), Some(b)) = (&file.remote_revision, &entry.revision) {
        return format!("revision {a} -> {b}");
    }
    if let (Some(a), Some(b)) = (&file.remote_checksum, provider_checksum(entry)) {
        return format!("checksum {a} -> {b}");
    }
    let size = |s: Option<i64>| s.map_or("?".to_string(), |s| s.to_string());
    format!(
        "size {} -> {} bytes, or modified time changed",
        size(file.remote_size),
        size(entry.size.map(|s| s as i64))
    )
}

/// The checksum the provider reported, as `algorithm:value` (the form `SyncFile` records).
pub fn provider_checksum(entry: &Entry) -> Option<String> {
    entry.checksums.iter().find_map(|c| {
        let name = match &c.algorithm {
            ChecksumAlgorithm::Md5 => "md5",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::DropboxContentHash => "dropbox",
            // Base64: case matters.
            ChecksumAlgorithm::QuickXorHash => return Some(format!("quickxor:{}", c.value.trim())),
            ChecksumAlgorithm::Other(_) => return None,
        };
        Some(format!("{name}:{}", c.value.trim().to_ascii_lowercase()))
    })
}

/// The extension a file counts as for type filters: its export format's, else its name's.
pub fn extension(entry: &Entry) -> Option<String> {
    entry
        .export_as
        .as_ref()
        .map(|e| e.extension.clone())
        .or_else(|| entry.name.rsplit_once('.').map(|(_, e)| e.to_string()))
        .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

fn normalise_types(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A folder path as configs write it (`Work/Reports/`), as segments.
pub fn split_path(p: &str) -> Vec<String> {
    p.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `folder` is `prefix` or inside it, segment by segment.
pub fn under(folder: &[String], prefix: &[String]) -> bool {
    prefix.len() <= folder.len() && folder.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Why a file is filtered out, or `None` when it is in.
pub fn filter(config: &SyncConfig, entry: &Entry) -> Option<String> {
    let includes: Vec<Vec<String>> = config
        .include_folders
        .iter()
        .map(|p| split_path(p))
        .collect();
    let excludes: Vec<Vec<String>> = config
        .exclude_folders
        .iter()
        .map(|p| split_path(p))
        .collect();
    let folder = &entry.path;
    if !includes.is_empty() && !includes.iter().any(|p| under(folder, p)) {
        return Some("not under an included folder".into());
    }
    if let Some(p) = excludes.iter().find(|p| under(folder, p)) {
        return Some(format!("under the excluded folder `{}`", p.join("/")));
    }
    let ext = extension(entry);
    let include_types = normalise_types(&config.include_file_types);
    let exclude_types = normalise_types(&config.exclude_file_types);
    if !include_types.is_empty() && !ext.as_ref().is_some_and(|e| include_types.contains(e)) {
        return Some("file type not included".into());
    }
    if let Some(e) = ext.as_ref().filter(|e| exclude_types.contains(e)) {
        return Some(format!("file type `{e}` is excluded"));
    }
    if let (Some(max), Some(size)) = (config.max_file_size, entry.size)
        && size > max as u64
    {
        return Some(format!("{size} bytes is over the {max} byte limit"));
    }
    None
}

/// Whether a recorded, synced file still matches the listed entry: by revision when both have
/// one, then by checksum, then by size and modified time.
pub fn unchanged(file: &SyncFile, entry: &Entry) -> bool {
    file.status == FileStatus::Synced && same_content(file, entry)
}

/// Whether what is recorded of a file describes the content listed now.
fn same_content(file: &SyncFile, entry: &Entry) -> bool {
    if let (Some(a), Some(b)) = (&file.remote_revision, &entry.revision) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (&file.remote_checksum, provider_checksum(entry)) {
        return *a == b;
    }
    let modified = timestamp(entry.modified);
    file.remote_size == entry.size.map(|s| s as i64)
        && file.remote_modified_at == modified
        && (entry.size.is_some() || modified.is_some())
}

/// A provider timestamp at the precision every store keeps (Postgres: microseconds), so a
/// stored time compares equal to the same time listed again.
pub fn timestamp(
    t: Option<crate::runtime::types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = t?;
    chrono::DateTime::from_timestamp(t.seconds, t.nanoseconds / 1000 * 1000)
}

/// What to do with one listed file, given its record: exclude it (recorded, now filtered out),
/// skip it (filtered out, nothing to change), leave it, restore it, or transfer it.
fn classify(config: &SyncConfig, entry: Entry, existing: Option<SyncFile>) -> Action {
    if let Some(reason) = filter(config, &entry) {
        return match existing {
            Some(file)
                if file.status != FileStatus::Deleted
                    && !(file.status == FileStatus::Excluded
                        && file.error_message.as_deref() == Some(reason.as_str())) =>
            {
                Action::Exclude {
                    entry: Some(Box::new(entry)),
                    file,
                    reason,
                }
            }
            _ => Action::Skip {
                entry: Box::new(entry),
                reason,
            },
        };
    }
    match existing {
        Some(file) if unchanged(&file, &entry) => {
            if file.remote_path.as_deref() == Some(entry_path(&entry).as_str())
                && file.remote_name.as_deref() == Some(entry.name.as_str())
            {
                Action::Unchanged(file)
            } else {
                Action::Moved {
                    entry: Box::new(entry),
                    file,
                }
            }
        }
        Some(file)
            if file.status == FileStatus::Excluded
                && file.s3_uri.is_some()
                && same_content(&file, &entry) =>
        {
            Action::Restore(file)
        }
        existing => Action::Transfer {
            entry: Box::new(entry),
            existing,
        },
    }
}

/// What decides which files a config takes in (its filters and the provider's own settings),
/// as a short fingerprint. A change cursor is saved with the scope it was read under: under
/// another scope it would miss files that were out of scope before and in scope now, so a run
/// whose scope differs lists everything once instead.
pub fn scope(config: &SyncConfig) -> String {
    use sha2::Digest;
    let folders = |list: &[String]| -> Vec<Vec<String>> {
        let mut v: Vec<Vec<String>> = list.iter().map(|p| split_path(p)).collect();
        v.sort();
        v
    };
    let types = |list: &[String]| {
        let mut v = normalise_types(list);
        v.sort();
        v
    };
    let canonical = serde_json::json!({
        "include_folders": folders(&config.include_folders),
        "exclude_folders": folders(&config.exclude_folders),
        "include_file_types": types(&config.include_file_types),
        "exclude_file_types": types(&config.exclude_file_types),
        "max_file_size": config.max_file_size,
        "provider_config": config.provider_config,
    });
    let digest = sha2::Sha256::digest(canonical.to_string().as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Plan a sync from a complete listing. Never call this with a listing that failed: an empty
/// listing means every recorded file is deleted, except those outside `pushed_includes`, the
/// included folders the provider applied itself (it did not list them, so they are excluded).
pub fn plan(
    config: &SyncConfig,
    listing: Vec<Entry>,
    recorded: Vec<SyncFile>,
    pushed_includes: &[String],
) -> Vec<Action> {
    // The maps hold positions, not the records themselves: with 100,000 files, maps of whole
    // records beside the vectors they came from were most of a re-sync's memory.
    let mut recorded: Vec<Option<SyncFile>> = recorded.into_iter().map(Some).collect();
    let mut recorded_at: HashMap<String, usize> = recorded
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.as_ref().map(|f| (f.remote_id.clone(), i)))
        .collect();
    // A listing may name an id twice (Graph's delta rounds do when an item changes while the
    // round runs): the later entry is the newer state, and one id is transferred once.
    let mut listing: Vec<Option<Entry>> = listing
        .into_iter()
        .map(|e| Some(e).filter(|e| e.kind == EntryKind::File))
        .collect();
    let mut latest: HashMap<String, usize> = HashMap::new();
    let mut order = Vec::new();
    for (i, entry) in listing.iter().enumerate() {
        let Some(entry) = entry else { continue };
        if latest.insert(entry.id.clone(), i).is_none() {
            order.push(entry.id.clone());
        }
    }
    let mut actions = Vec::with_capacity(order.len());
    for id in order {
        let at = latest.remove(&id).expect("ids come from the map");
        let entry = listing[at]
            .take()
            .expect("each listed position is taken once");
        let existing = recorded_at.remove(&id).and_then(|at| recorded[at].take());
        actions.push(classify(config, entry, existing));
    }
    drop((listing, latest, recorded_at));
    let mut gone: Vec<SyncFile> = recorded
        .into_iter()
        .flatten()
        .filter(|f| f.status != FileStatus::Deleted)
        .collect();
    gone.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
    let includes: Vec<Vec<String>> = pushed_includes.iter().map(|p| split_path(p)).collect();
    actions.extend(gone.into_iter().filter_map(|file| {
        let folder = file
            .remote_path
            .as_deref()
            .map(|p| split_path(p.rsplit_once('/').map_or("", |(dir, _)| dir)));
        let outside = !includes.is_empty()
            && folder.is_some_and(|folder| !includes.iter().any(|p| under(&folder, p)));
        const REASON: &str = "not under an included folder";
        match () {
            _ if !outside => Some(Action::Deleted(file)),
            _ if file.status == FileStatus::Excluded
                && file.error_message.as_deref() == Some(REASON) =>
            {
                None
            }
            _ => Some(Action::Exclude {
                entry: None,
                file,
                reason: REASON.into(),
            }),
        }
    }));
    actions
}

/// Plan a sync from the change feed: only the changed entries are diffed, and only the ids the
/// feed says were removed are marked deleted (absence means nothing here). A later change to
/// one id wins over an earlier one.
pub fn plan_changes(
    config: &SyncConfig,
    changed: Vec<Entry>,
    removed: &[String],
    recorded: Vec<SyncFile>,
) -> Vec<Action> {
    let mut recorded: HashMap<String, SyncFile> = recorded
        .into_iter()
        .map(|f| (f.remote_id.clone(), f))
        .collect();
    let mut latest: HashMap<String, Entry> = HashMap::new();
    let mut order = Vec::new();
    for entry in changed.into_iter().filter(|e| e.kind == EntryKind::File) {
        if !latest.contains_key(&entry.id) {
            order.push(entry.id.clone());
        }
        latest.insert(entry.id.clone(), entry);
    }
    let removed_set: std::collections::HashSet<&String> = removed.iter().collect();
    let mut actions = Vec::new();
    for id in order {
        if removed_set.contains(&id) {
            continue;
        }
        let entry = latest.remove(&id).expect("ids come from the map");
        let existing = recorded.remove(&id);
        actions.push(classify(config, entry, existing));
    }
    for id in removed {
        if let Some(file) = recorded.remove(id)
            && file.status != FileStatus::Deleted
        {
            actions.push(Action::Deleted(file));
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ids::UserId;

    fn config() -> SyncConfig {
        SyncConfig::new(UserId(uuid::Uuid::nil()), "local", "c")
    }

    #[test]
    fn scope_ignores_spelling_and_order_but_not_meaning() {
        let mut a = config();
        a.include_folders = vec!["Work/".into(), " Documents".into()];
        a.include_file_types = vec![".PDF".into(), "txt".into()];
        let mut b = config();
        b.include_folders = vec!["Documents".into(), "Work".into()];
        b.include_file_types = vec!["txt".into(), "pdf".into()];
        assert_eq!(scope(&a), scope(&b));

        let base = scope(&config());
        let changes: [fn(&mut SyncConfig); 6] = [
            |c| c.include_folders = vec!["Work".into()],
            |c| c.exclude_folders = vec!["Work".into()],
            |c| c.include_file_types = vec!["pdf".into()],
            |c| c.exclude_file_types = vec!["pdf".into()],
            |c| c.max_file_size = Some(10),
            |c| c.provider_config = serde_json::json!({"shared_drives": "true"}),
        ];
        for change in changes {
            let mut c = config();
            change(&mut c);
            assert_ne!(scope(&c), base, "{c:?}");
        }
        // What doesn't decide which files are in scope doesn't change it.
        let mut c = config();
        c.name = "renamed".into();
        c.sync_interval_hours = 1;
        c.mirror_deletes = true;
        assert_eq!(scope(&c), base);
    }

    #[test]
    fn a_file_listed_elsewhere_with_the_same_content_moves_without_a_transfer() {
        let c = config();
        let mut entry = crate::runtime::types::Entry {
            id: "f1".into(),
            name: "q3.pdf".into(),
            path: vec!["Work".into()],
            parent_ids: vec![],
            kind: EntryKind::File,
            mime_type: None,
            size: Some(3),
            modified: None,
            created: None,
            checksums: vec![],
            revision: Some("r1".into()),
            export_as: None,
            metadata_json: None,
        };
        let mut recorded = SyncFile::new(&c, "f1");
        recorded.status = FileStatus::Synced;
        recorded.remote_revision = Some("r1".into());
        recorded.remote_path = Some("Work/q3.pdf".into());
        recorded.remote_name = Some("q3.pdf".into());
        let plan_one = |entry: &crate::runtime::types::Entry| {
            plan_changes(&c, vec![entry.clone()], &[], vec![recorded.clone()])
        };
        assert!(matches!(plan_one(&entry)[..], [Action::Unchanged(_)]));
        entry.path = vec!["Archive".into()];
        let moved = plan_one(&entry);
        assert!(matches!(moved[..], [Action::Moved { .. }]), "{moved:?}");
        let d = explain(&moved[0]);
        assert_eq!(
            (d.verdict, d.path.as_str()),
            (Verdict::Moved, "Archive/q3.pdf")
        );
        assert_eq!(d.reason.as_deref(), Some("was `Work/q3.pdf`"));
        // Renamed in place: moved too. New content: a transfer, wherever it is.
        entry.path = vec!["Work".into()];
        entry.name = "q3 final.pdf".into();
        assert!(matches!(plan_one(&entry)[..], [Action::Moved { .. }]));
        entry.revision = Some("r2".into());
        assert!(matches!(plan_one(&entry)[..], [Action::Transfer { .. }]));
    }
}
