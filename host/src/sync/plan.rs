//! What a sync has to do: filter the listing, then diff it against what is recorded.

use crate::runtime::types::{ChecksumAlgorithm, Entry, EntryKind};
use crate::store::{FileState, FileStatus, SyncConfig, SyncFile};
use std::collections::HashMap;

/// What to do with one remote file, with its record: what a sync compared of it when planned
/// (`R` = [`FileState`]), or its whole row once [attached](Action::attach) to act on.
#[derive(Debug)]
pub enum Action<R = SyncFile> {
    /// New or changed: fetch and store it.
    Transfer {
        /// The entry as listed.
        entry: Box<Entry>,
        /// What is recorded, if anything.
        existing: Option<R>,
    },
    /// Recorded as synced and unchanged: nothing to do, so no row is read for it.
    Unchanged(FileState),
    /// Recorded as synced, the same content, listed under another name or in another folder:
    /// the record follows it, without a transfer.
    Moved {
        /// The entry as listed now.
        entry: Box<Entry>,
        /// What is recorded.
        file: R,
    },
    /// Recorded, and gone from the provider.
    Deleted(R),
    /// Recorded, and now left out by the config's filters: record it `excluded`, with why.
    Exclude {
        /// The entry as listed (`None`: not listed, because the provider itself left out the
        /// folders that are not included).
        entry: Option<Box<Entry>>,
        /// What is recorded.
        file: R,
        /// Why it is out of scope.
        reason: String,
    },
    /// Recorded `excluded`, back in scope, its content unchanged and its object kept: mark it
    /// synced again without a transfer.
    Restore(R),
    /// Listed, but filtered out or too large (and not recorded, or recorded as excluded).
    Skip {
        /// The entry.
        entry: Box<Entry>,
        /// Why.
        reason: String,
    },
}

impl Action<FileState> {
    /// The remote id of the record this action needs whole, if it needs one.
    pub fn recorded_id(&self) -> Option<&str> {
        match self {
            Action::Transfer { existing, .. } => existing.as_ref(),
            Action::Moved { file, .. }
            | Action::Deleted(file)
            | Action::Exclude { file, .. }
            | Action::Restore(file) => Some(file),
            Action::Unchanged(_) | Action::Skip { .. } => None,
        }
        .map(|f| f.remote_id.as_str())
    }

    /// The action with its record's whole row, taken from `rows` (by remote id). A row that
    /// is gone since the plan was made (nothing else writes a config's files during its run,
    /// so this is a safeguard) leaves a transfer as a new file and drops any other action.
    pub fn attach(self, rows: &mut HashMap<String, SyncFile>) -> Option<Action> {
        let mut row = |f: FileState| {
            let row = rows.remove(&f.remote_id);
            if row.is_none() {
                tracing::warn!(file = %f.remote_id, "its record went away during the run");
            }
            row
        };
        Some(match self {
            Action::Transfer { entry, existing } => Action::Transfer {
                entry,
                existing: existing.and_then(row),
            },
            Action::Unchanged(f) => Action::Unchanged(f),
            Action::Moved { entry, file } => Action::Moved {
                entry,
                file: row(file)?,
            },
            Action::Deleted(file) => Action::Deleted(row(file)?),
            Action::Exclude {
                entry,
                file,
                reason,
            } => Action::Exclude {
                entry,
                file: row(file)?,
                reason,
            },
            Action::Restore(file) => Action::Restore(row(file)?),
            Action::Skip { entry, reason } => Action::Skip { entry, reason },
        })
    }
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

fn file_path(file: &FileState) -> String {
    file.remote_path
        .clone()
        .unwrap_or_else(|| file.remote_id.clone())
}

/// What `action` does to its file, and why.
pub fn explain(action: &Action<FileState>) -> Decision {
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
fn why_transfer(file: &FileState, entry: &Entry) -> String {
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

/// A config's filters, parsed once for a run rather than once per listed file.
struct Filter {
    includes: Vec<Vec<String>>,
    excludes: Vec<Vec<String>>,
    include_types: Vec<String>,
    exclude_types: Vec<String>,
    max_file_size: Option<i64>,
}

impl Filter {
    fn new(config: &SyncConfig) -> Self {
        let folders = |list: &[String]| list.iter().map(|p| split_path(p)).collect();
        Filter {
            includes: folders(&config.include_folders),
            excludes: folders(&config.exclude_folders),
            include_types: normalise_types(&config.include_file_types),
            exclude_types: normalise_types(&config.exclude_file_types),
            max_file_size: config.max_file_size,
        }
    }

    /// Why `entry` is filtered out, or `None` when it is in.
    fn reason(&self, entry: &Entry) -> Option<String> {
        let folder = &entry.path;
        if !self.includes.is_empty() && !self.includes.iter().any(|p| under(folder, p)) {
            return Some("not under an included folder".into());
        }
        if let Some(p) = self.excludes.iter().find(|p| under(folder, p)) {
            return Some(format!("under the excluded folder `{}`", p.join("/")));
        }
        let ext = extension(entry);
        if !self.include_types.is_empty()
            && !ext.as_ref().is_some_and(|e| self.include_types.contains(e))
        {
            return Some("file type not included".into());
        }
        if let Some(e) = ext.as_ref().filter(|e| self.exclude_types.contains(e)) {
            return Some(format!("file type `{e}` is excluded"));
        }
        if let (Some(max), Some(size)) = (self.max_file_size, entry.size)
            && size > max as u64
        {
            return Some(format!("{size} bytes is over the {max} byte limit"));
        }
        None
    }
}

/// Whether a recorded, synced file still matches the listed entry: by revision when both have
/// one, then by checksum, then by size and modified time.
pub fn unchanged(file: &FileState, entry: &Entry) -> bool {
    file.status == FileStatus::Synced && same_content(file, entry)
}

/// Whether what is recorded of a file describes the content listed now.
fn same_content(file: &FileState, entry: &Entry) -> bool {
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
fn classify(filter: &Filter, entry: Entry, existing: Option<FileState>) -> Action<FileState> {
    if let Some(reason) = filter.reason(&entry) {
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
            if same_place(&file, &entry) {
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
                && file.has_object
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

/// Whether a record names the file where it is listed now (its path and its name).
fn same_place(file: &FileState, entry: &Entry) -> bool {
    file.remote_name.as_deref() == Some(entry.name.as_str())
        && file.remote_path.as_deref().is_some_and(|p| {
            // `entry_path` without building it: the folders, then the name.
            let mut rest = p;
            for segment in entry.path.iter() {
                match rest
                    .strip_prefix(segment.as_str())
                    .and_then(|r| r.strip_prefix('/'))
                {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            rest == entry.name
        })
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

/// Plans a sync from a full listing that arrives a page at a time, so that a run never holds
/// the whole listing: an unchanged file (on a re-sync, nearly all of them) is settled as its
/// page arrives and its entry dropped. With 100,000 files, holding every listed entry beside
/// every record, and then an action per file, was most of a re-sync's memory.
///
/// Only a complete listing may be [finished](Planner::finish): what is recorded and not listed
/// is deleted, so a listing that failed part way must be dropped, never finished.
pub struct Planner {
    filter: Filter,
    /// What is recorded, each taken once by the action that settles it.
    recorded: Vec<Option<FileState>>,
    /// Each id, recorded or listed: where its record is, and its slot in the plan.
    ids: HashMap<String, Place>,
    /// One per listed id, in the order first listed.
    slots: Vec<Slot>,
    pushed_includes: Vec<Vec<String>>,
}

#[derive(Default, Clone, Copy)]
struct Place {
    recorded: Option<usize>,
    slot: Option<usize>,
}

enum Slot {
    /// Listed, recorded, and the same: the record's position.
    Unchanged(usize),
    /// Listed, and to be decided when the plan is finished, with its record's position.
    Listed(Box<Entry>, Option<usize>),
}

impl Planner {
    /// A plan for `config` against what is `recorded`. `pushed_includes` are the included
    /// folders the provider applied itself: recorded files outside them are not listed, and
    /// are excluded rather than deleted.
    pub fn new(config: &SyncConfig, recorded: Vec<FileState>, pushed_includes: &[String]) -> Self {
        let mut ids = HashMap::with_capacity(recorded.len());
        for (i, f) in recorded.iter().enumerate() {
            ids.insert(
                f.remote_id.clone(),
                Place {
                    recorded: Some(i),
                    slot: None,
                },
            );
        }
        Planner {
            filter: Filter::new(config),
            recorded: recorded.into_iter().map(Some).collect(),
            ids,
            slots: Vec::new(),
            pushed_includes: pushed_includes.iter().map(|p| split_path(p)).collect(),
        }
    }

    /// Take in one page of the listing. A listing may name an id twice (Graph's delta rounds
    /// do when an item changes while the round runs): the later entry is the newer state, and
    /// one id is planned once, where it was first listed.
    pub fn page(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            if entry.kind != EntryKind::File {
                continue;
            }
            if !self.ids.contains_key(&entry.id) {
                self.ids.insert(entry.id.clone(), Place::default());
            }
            let place = self.ids.get_mut(&entry.id).expect("inserted above");
            let record = place.recorded.and_then(|at| self.recorded[at].as_ref());
            let slot = match (place.recorded, record) {
                (Some(at), Some(file))
                    if self.filter.reason(&entry).is_none()
                        && unchanged(file, &entry)
                        && same_place(file, &entry) =>
                {
                    Slot::Unchanged(at)
                }
                _ => Slot::Listed(Box::new(entry), place.recorded),
            };
            match place.slot {
                Some(at) => self.slots[at] = slot,
                None => {
                    place.slot = Some(self.slots.len());
                    self.slots.push(slot);
                }
            }
        }
    }

    /// Forget what was listed so far, for a listing that starts over.
    pub fn restart(&mut self) {
        self.slots.clear();
        self.ids.retain(|_, place| {
            place.slot = None;
            place.recorded.is_some()
        });
    }

    /// The listing is complete, and the provider skipped the ids `skipped` on purpose: the
    /// actions, one at a time (each record is handed over, not copied), and the remote ids of
    /// the recorded files among the skipped, which are not deleted and have no action (their
    /// rows are kept by the caller).
    pub fn finish<'a>(
        mut self,
        skipped: impl IntoIterator<Item = &'a str>,
    ) -> (Actions, Vec<String>) {
        let mut held = Vec::new();
        for id in skipped {
            let place = self.ids.get(id).copied().unwrap_or_default();
            if place
                .recorded
                .and_then(|at| self.recorded[at].take())
                .is_some()
            {
                held.push(id.to_string());
            }
        }
        let actions = Actions {
            filter: self.filter,
            recorded: self.recorded,
            slots: self.slots.into_iter(),
            held: held.iter().cloned().collect(),
            gone: None,
            pushed_includes: self.pushed_includes,
        };
        (actions, held)
    }
}

/// The actions of a finished [`Planner`], in listing order, then the recorded files that were
/// not listed (by id).
pub struct Actions {
    filter: Filter,
    recorded: Vec<Option<FileState>>,
    slots: std::vec::IntoIter<Slot>,
    /// Ids the provider skipped on purpose: no action, whatever else was listed for them.
    held: std::collections::HashSet<String>,
    gone: Option<std::vec::IntoIter<FileState>>,
    pushed_includes: Vec<Vec<String>>,
}

impl Actions {
    /// What to do with a recorded file that was not listed.
    fn unlisted(&self, file: FileState) -> Option<Action<FileState>> {
        const REASON: &str = "not under an included folder";
        let includes = &self.pushed_includes;
        let folder = file
            .remote_path
            .as_deref()
            .map(|p| split_path(p.rsplit_once('/').map_or("", |(dir, _)| dir)));
        let outside = !includes.is_empty()
            && folder.is_some_and(|folder| !includes.iter().any(|p| under(&folder, p)));
        if !outside {
            Some(Action::Deleted(file))
        } else if file.status == FileStatus::Excluded
            && file.error_message.as_deref() == Some(REASON)
        {
            None
        } else {
            Some(Action::Exclude {
                entry: None,
                file,
                reason: REASON.into(),
            })
        }
    }
}

impl Iterator for Actions {
    type Item = Action<FileState>;

    fn next(&mut self) -> Option<Action<FileState>> {
        for slot in self.slots.by_ref() {
            match slot {
                // Taken already: the provider skipped this id too.
                Slot::Unchanged(at) => {
                    if let Some(file) = self.recorded[at].take() {
                        return Some(Action::Unchanged(file));
                    }
                }
                Slot::Listed(entry, at) => {
                    if self.held.contains(&entry.id) {
                        continue;
                    }
                    let existing = at.and_then(|at| self.recorded[at].take());
                    return Some(classify(&self.filter, *entry, existing));
                }
            }
        }
        if self.gone.is_none() {
            let mut gone: Vec<FileState> = std::mem::take(&mut self.recorded)
                .into_iter()
                .flatten()
                .filter(|f| f.status != FileStatus::Deleted)
                .collect();
            gone.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
            self.gone = Some(gone.into_iter());
        }
        loop {
            let file = self.gone.as_mut()?.next()?;
            if let Some(action) = self.unlisted(file) {
                return Some(action);
            }
        }
    }
}

/// Plan a sync from the change feed: only the changed entries are diffed, and only the ids the
/// feed says were removed are marked deleted (absence means nothing here). A later change to
/// one id wins over an earlier one.
pub fn plan_changes(
    config: &SyncConfig,
    changed: Vec<Entry>,
    removed: &[String],
    recorded: Vec<FileState>,
) -> Vec<Action<FileState>> {
    let mut recorded: HashMap<String, FileState> = recorded
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
    let filter = Filter::new(config);
    let mut actions = Vec::new();
    for id in order {
        if removed_set.contains(&id) {
            continue;
        }
        let entry = latest.remove(&id).expect("ids come from the map");
        let existing = recorded.remove(&id);
        actions.push(classify(&filter, entry, existing));
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

    fn file(id: &str, folder: &str, revision: &str) -> Entry {
        Entry {
            id: id.into(),
            name: format!("{id}.txt"),
            path: split_path(folder),
            parent_ids: vec![],
            kind: EntryKind::File,
            mime_type: None,
            size: Some(1),
            modified: None,
            created: None,
            checksums: vec![],
            revision: Some(revision.into()),
            export_as: None,
            metadata_json: None,
        }
    }

    fn synced(c: &SyncConfig, entry: &Entry) -> FileState {
        let mut f = SyncFile::new(c, &entry.id);
        f.status = FileStatus::Synced;
        f.remote_revision = entry.revision.clone();
        f.remote_path = Some(entry_path(entry));
        f.remote_name = Some(entry.name.clone());
        FileState::of(&f)
    }

    fn verdicts(actions: impl Iterator<Item = Action<FileState>>) -> Vec<(String, Verdict)> {
        actions
            .map(|a| explain(&a))
            .map(|d| (d.remote_id, d.verdict))
            .collect()
    }

    #[test]
    fn a_listing_planned_page_by_page_settles_each_file_once() {
        let c = config();
        let (a, b, gone, held) = (
            file("a", "Docs", "1"),
            file("b", "Docs", "1"),
            file("gone", "", "1"),
            file("held", "", "1"),
        );
        let recorded = [&a, &b, &gone, &held].map(|e| synced(&c, e)).to_vec();
        let mut planner = Planner::new(&c, recorded, &[]);
        // `b` is listed unchanged, then again with a new revision on a later page: the later
        // state wins, in the place it was first listed. `held` is skipped by the provider.
        planner.page(vec![b.clone(), a.clone()]);
        planner.page(vec![file("b", "Docs", "2"), file("new", "", "1")]);
        let (actions, kept) = planner.finish(["held"]);
        assert_eq!(
            verdicts(actions),
            [
                ("b".into(), Verdict::Changed),
                ("a".into(), Verdict::Unchanged),
                ("new".into(), Verdict::New),
                ("gone".into(), Verdict::Deleted),
            ]
        );
        assert_eq!(kept, ["held"]);

        // The other way round: changed first, unchanged later, is unchanged.
        let mut planner = Planner::new(&c, vec![synced(&c, &a)], &[]);
        planner.page(vec![file("a", "Docs", "0")]);
        planner.page(vec![a.clone()]);
        assert_eq!(
            verdicts(planner.finish([]).0),
            [("a".into(), Verdict::Unchanged)]
        );
    }

    #[test]
    fn a_listing_that_starts_over_forgets_what_the_first_attempt_listed() {
        let c = config();
        let a = file("a", "", "1");
        let mut planner = Planner::new(&c, vec![synced(&c, &a)], &[]);
        planner.page(vec![a.clone(), file("brief", "", "1")]);
        planner.restart();
        planner.page(vec![a.clone()]);
        assert_eq!(
            verdicts(planner.finish([]).0),
            [("a".into(), Verdict::Unchanged)]
        );
    }

    #[test]
    fn files_the_provider_scoped_are_excluded_not_deleted() {
        let mut c = config();
        c.include_folders = vec!["Docs".into()];
        let (inside, outside) = (file("in", "Docs", "1"), file("out", "Other", "1"));
        let recorded = vec![synced(&c, &inside), synced(&c, &outside)];
        // The provider applied the include itself, so it listed nothing under `Other`; and
        // `Docs/in.txt` is gone.
        let planner = Planner::new(&c, recorded, &c.include_folders.clone());
        assert_eq!(
            verdicts(planner.finish([]).0),
            [
                ("in".into(), Verdict::Deleted),
                ("out".into(), Verdict::Excluded),
            ]
        );
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
            plan_changes(&c, vec![entry.clone()], &[], vec![FileState::of(&recorded)])
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
