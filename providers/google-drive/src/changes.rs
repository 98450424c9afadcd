//! The change feed: one `changes.list` page per call, with each changed file placed (path,
//! include scope) by walking its parents, and shortcuts taken into account both ways: a
//! changed shortcut, and a changed file that shortcuts point to.

use crate::api::Api;
use crate::entries::{self, Described};
use crate::listing;
use crate::model::{self, Change, FOLDER_MIME, File};
use crate::scope::{self, Scope};
use crate::settings::Settings;
use crate::tree::{Place, Tree};
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::types::{ChangePage, Entry, ProviderError, SkippedEntry};
use std::collections::HashMap;

/// Folder shortcuts are followed this many levels deep when placing a file.
const MAX_SHORTCUT_DEPTH: usize = 3;
/// Parents considered per file (Drive has allowed only one since 2020).
const MAX_PARENTS: usize = 4;

/// What became of one id in this page; a later change to the same id replaces an earlier one.
enum Outcome {
    Changed(Box<Entry>),
    Removed,
    Skipped(SkippedEntry),
}

struct Feed<'a> {
    api: Api,
    tree: Tree,
    settings: &'a Settings,
    scope: Option<Scope>,
    /// Shortcuts by target id, loaded on first use.
    shortcuts: Option<HashMap<String, Vec<File>>>,
    order: Vec<String>,
    outcomes: HashMap<String, Outcome>,
}

/// One page of changes since `cursor`.
pub fn changes(cursor: &str, settings: &Settings) -> Result<ChangePage, ProviderError> {
    let mut api = Api::new(settings);
    let page = api.list_changes(cursor)?;
    let has_more = page
        .next_page_token
        .as_deref()
        .is_some_and(|t| !t.is_empty());
    let next_cursor = page
        .next_page_token
        .filter(|t| !t.is_empty())
        .or(page.new_start_page_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| {
            ProviderError::Permanent(
                "changes.list: Drive's answer has neither nextPageToken nor newStartPageToken"
                    .into(),
            )
        })?;
    let mut feed = Feed {
        api,
        tree: Tree::default(),
        settings,
        scope: None,
        shortcuts: None,
        order: Vec::new(),
        outcomes: HashMap::new(),
    };
    let mut parsed = Vec::new();
    for raw in page.changes {
        match serde_json::from_value::<Change>(raw) {
            Ok(mut change) => {
                let file = change.file.take().map(model::parse_file);
                // Folders that changed in this page cost no request when their children are placed.
                if let Some(Ok(f)) = &file
                    && f.is_folder()
                {
                    feed.tree.seed(f);
                }
                parsed.push((change, file));
            }
            Err(e) => log::warn(format!("ignoring an unreadable change: {e}")),
        }
    }
    for (change, file) in parsed {
        feed.apply(change, file)?;
    }
    crate::api::log_requests(&feed.api, "changes");

    let mut out = ChangePage {
        changed: Vec::new(),
        removed: Vec::new(),
        skipped: Vec::new(),
        next_cursor,
        has_more,
    };
    for id in feed.order {
        match feed.outcomes.remove(&id) {
            Some(Outcome::Changed(e)) => out.changed.push(*e),
            Some(Outcome::Removed) => out.removed.push(id),
            Some(Outcome::Skipped(s)) => out.skipped.push(s),
            None => {}
        }
    }
    Ok(out)
}

impl Feed<'_> {
    fn record(&mut self, id: &str, outcome: Outcome) {
        if self.outcomes.insert(id.to_string(), outcome).is_none() {
            self.order.push(id.to_string());
        }
    }

    fn described(&mut self, d: Described) {
        match d {
            Described::Entry(e) => {
                let id = e.id.clone();
                self.record(&id, Outcome::Changed(e));
            }
            Described::Skipped(s) => {
                let id = s.id.clone();
                log::info(format!("skipping `{}`: {}", s.name, s.reason));
                self.record(&id, Outcome::Skipped(s));
            }
        }
    }

    fn apply(
        &mut self,
        change: Change,
        file: Option<Result<File, String>>,
    ) -> Result<(), ProviderError> {
        if change.change_type.as_deref() == Some("drive") {
            return Ok(());
        }
        let id = change
            .file_id
            .clone()
            .filter(|i| !i.is_empty())
            .or_else(|| {
                file.as_ref()
                    .and_then(|f| f.as_ref().ok())
                    .map(|f| f.id.clone())
            });
        let Some(id) = id else {
            log::warn("ignoring a change that names no file");
            return Ok(());
        };
        if change.removed {
            self.record(&id, Outcome::Removed);
            self.remove_shortcuts_to(&id)?;
            return Ok(());
        }
        let file = match file {
            Some(Ok(f)) => f,
            Some(Err(reason)) => {
                let s = entries::skipped(&id, &id, &[], reason);
                self.record(&id, Outcome::Skipped(s));
                return Ok(());
            }
            None => {
                let s = entries::skipped(
                    &id,
                    &id,
                    &[],
                    "Drive reported a change without the file's metadata",
                );
                self.record(&id, Outcome::Skipped(s));
                return Ok(());
            }
        };
        if file.trashed {
            if file.is_shortcut()
                && self.points_to_folder(&file)
                && self.locate(&file.parents)?.place().is_some()
            {
                return Err(folder_shortcut_changed(&file));
            }
            self.record(&id, Outcome::Removed);
            if !file.is_folder() && !file.is_shortcut() {
                self.remove_shortcuts_to(&id)?;
            }
            return Ok(());
        }
        let located = self.locate(&file.parents)?;
        if file.is_folder() || file.is_shortcut() {
            match located.place() {
                None => self.record(&id, Outcome::Removed),
                Some(place) if file.is_folder() => {
                    let entry = entries::folder(&file, None, &place.path);
                    self.record(&id, Outcome::Changed(Box::new(entry)));
                }
                Some(place) => self.shortcut(&file, &place)?,
            }
            return Ok(());
        }
        let natural = matches!(located, Located::Natural(_));
        match located.place() {
            Some(place) => {
                let d = entries::file(&file, &place.path, self.settings);
                self.described(d);
            }
            None => self.record(&id, Outcome::Removed),
        }
        // Shortcuts carry the file's content under their own ids. Looking them up costs a
        // files.list, so it is done for files outside the scope by their own parents: the
        // common case of a shortcut to a file someone shared.
        if !natural {
            for s in self.shortcuts_to(&file.id)? {
                if let Some(sp) = self.locate(&s.parents)?.place() {
                    let d = entries::shortcut_to_file(&s, &file, &sp.path, self.settings);
                    self.described(d);
                }
            }
        }
        Ok(())
    }

    /// A file is gone: shortcuts to it dangle now, and a listing would skip them. Only known
    /// when this call has already looked shortcuts up; deletions alone do not justify a
    /// files.list (the next full listing drops such shortcuts).
    fn remove_shortcuts_to(&mut self, id: &str) -> Result<(), ProviderError> {
        if self.shortcuts.is_none() {
            return Ok(());
        }
        for s in self.shortcuts_to(id)? {
            self.record(&s.id, Outcome::Removed);
        }
        Ok(())
    }

    fn shortcut(&mut self, shortcut: &File, place: &Place) -> Result<(), ProviderError> {
        let skip =
            |reason: String| entries::skipped(&shortcut.id, &shortcut.name, &place.path, reason);
        let Some(target_id) = shortcut.shortcut_target() else {
            let s = skip("dangling shortcut: it names no target".into());
            self.record(&shortcut.id, Outcome::Skipped(s));
            return Ok(());
        };
        match listing::follow(&mut self.api, &shortcut.id, target_id)? {
            Err(reason) => {
                let s = skip(reason);
                self.record(&shortcut.id, Outcome::Skipped(s));
            }
            // The folder's contents are not in the feed: only a listing finds them.
            Ok(target) if target.is_folder() => return Err(folder_shortcut_changed(shortcut)),
            Ok(target) => {
                let d = entries::shortcut_to_file(shortcut, &target, &place.path, self.settings);
                self.described(d);
            }
        }
        Ok(())
    }

    fn points_to_folder(&self, shortcut: &File) -> bool {
        shortcut
            .shortcut_details
            .as_ref()
            .and_then(|d| d.target_mime_type.as_deref())
            == Some(FOLDER_MIME)
    }

    fn scope(&mut self) -> Result<Scope, ProviderError> {
        if let Some(s) = &self.scope {
            return Ok(s.clone());
        }
        let roots = scope::include_roots(
            &mut self.api,
            &mut self.tree,
            &self.settings.include_folders,
            self.settings.shared_drives,
        )?;
        let scope = Scope {
            roots,
            shared_drives: self.settings.shared_drives,
        };
        self.scope = Some(scope.clone());
        Ok(scope)
    }

    /// Shortcuts (not trashed) whose target is `id`.
    fn shortcuts_to(&mut self, id: &str) -> Result<Vec<File>, ProviderError> {
        if self.shortcuts.is_none() {
            let all = match self.api.all_shortcuts() {
                Ok(all) => all,
                // Placing files through shortcuts is a refinement; a server that cannot answer
                // the query must not stop the feed.
                Err(ProviderError::Permanent(m)) => {
                    log::warn(format!(
                        "cannot list shortcuts, so changes are not followed through them: {m}"
                    ));
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            let mut index: HashMap<String, Vec<File>> = HashMap::new();
            for s in all {
                if let Some(t) = s.shortcut_target() {
                    index.entry(t.to_string()).or_default().push(s);
                }
            }
            self.shortcuts = Some(index);
        }
        Ok(self
            .shortcuts
            .as_ref()
            .and_then(|index| index.get(id))
            .cloned()
            .unwrap_or_default())
    }

    /// Where entries with these parents go, if anywhere in the sync's scope: the place of (one
    /// of) the parents, reached the ordinary way or, failing that, through folder shortcuts.
    fn locate(&mut self, parents: &[String]) -> Result<Located, ProviderError> {
        let scope = self.scope()?;
        let natural = self.natural_places(parents)?;
        if let Some(p) = natural.iter().find(|p| scope.contains(p)) {
            return Ok(Located::Natural(p.clone()));
        }
        Ok(match self.via_shortcuts(&natural, &scope, 0)? {
            Some(p) => Located::ViaShortcut(p),
            None => Located::Outside,
        })
    }

    fn natural_places(&mut self, parents: &[String]) -> Result<Vec<Place>, ProviderError> {
        let mut natural = Vec::new();
        for parent in parents.iter().take(MAX_PARENTS) {
            natural.extend(self.tree.places(&mut self.api, parent)?);
        }
        Ok(natural)
    }

    fn place_within(
        &mut self,
        parents: &[String],
        depth: usize,
    ) -> Result<Option<Place>, ProviderError> {
        let scope = self.scope()?;
        let natural = self.natural_places(parents)?;
        if let Some(p) = natural.iter().find(|p| scope.contains(p)) {
            return Ok(Some(p.clone()));
        }
        self.via_shortcuts(&natural, &scope, depth)
    }

    /// A listing walks a folder shortcut's target at the shortcut's path: look for a shortcut,
    /// itself in scope, to any folder above these places.
    fn via_shortcuts(
        &mut self,
        natural: &[Place],
        scope: &Scope,
        depth: usize,
    ) -> Result<Option<Place>, ProviderError> {
        if depth >= MAX_SHORTCUT_DEPTH {
            return Ok(None);
        }
        for p in natural {
            for k in (0..p.chain.len()).rev() {
                // The listing does not follow a shortcut to a folder that holds an include root.
                if scope.roots.iter().any(|r| r.chain.contains(&p.chain[k])) {
                    continue;
                }
                for s in self.shortcuts_to(&p.chain[k])? {
                    let Some(mut via) = self.place_within(&s.parents, depth + 1)? else {
                        continue;
                    };
                    via.path.push(s.name.clone());
                    via.path.extend(p.names[k + 1..].iter().cloned());
                    via.chain.extend(p.chain[k..].iter().cloned());
                    via.names.extend(p.names[k..].iter().cloned());
                    return Ok(Some(via));
                }
            }
        }
        Ok(None)
    }
}

/// Where a changed item belongs.
enum Located {
    /// In scope through its own parents.
    Natural(Place),
    /// In scope only through a folder shortcut, as a listing would find it.
    ViaShortcut(Place),
    /// Outside the sync.
    Outside,
}

impl Located {
    fn place(self) -> Option<Place> {
        match self {
            Located::Natural(p) | Located::ViaShortcut(p) => Some(p),
            Located::Outside => None,
        }
    }
}

fn folder_shortcut_changed(shortcut: &File) -> ProviderError {
    ProviderError::CursorExpired(format!(
        "the shortcut `{}` to a folder was added, changed or trashed; the folder's contents are \
         not in the change feed, so a full listing is needed",
        shortcut.name
    ))
}
