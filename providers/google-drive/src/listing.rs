//! The full listing: a breadth-first walk over folders, a bounded amount of work per call, with
//! the whole walk carried in the cursor.
//!
//! Several folders are listed with one `files.list` query (`'a' in parents or 'b' in parents`),
//! which is what keeps listing a large drive affordable. Each call does one of: a page of
//! `drives.list`, a batch of shortcut resolutions, or one page of `files.list`.
//!
//! Cursor (JSON, version 1): `v` version; `r` recursive; `dt` the `drives.list` page token while
//! shared drives are still being found (`""` before the first page); `q` folders waiting, grouped
//! by the path of their parent as `{"p": path, "f": [[id] | [id, name]]}` (the folder's own
//! entries live at `p` for `[id]`, at `p + [name]` otherwise); `b` the stack of batches being
//! paged, each `{"f": [[id, path]], "t": page token}`; `d` shortcuts waiting to be resolved;
//! `w` the roots of the walk (My Drive, shared drives, include roots and folders entered through
//! shortcuts), which guards against walking a folder twice; `a` the ancestors of those roots,
//! since a shortcut to one of them would lead back into the walk; `m` ids with several parents
//! already emitted, so each id is emitted once; `rt` the My Drive root's id, once known. Empty
//! fields are left out, so a typical cursor is a few hundred bytes.

use crate::api::Api;
use crate::entries::{self, Described};
use crate::model::{self, File};
use crate::scope::{self, Root};
use crate::settings::Settings;
use crate::tree::{SHARED_DRIVES, Tree};
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::types::{Entry, ListRequest, Page, ProviderError, SkippedEntry};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const VERSION: u32 = 1;
/// Folders per `files.list` query; keeps the query string well under URL limits.
const BATCH_FOLDERS: usize = 40;
/// Above this many waiting folders, batches come from the newest end of the queue (and may
/// suspend the batch being paged), so a wide tree cannot grow the cursor without bound.
const WIDE_QUEUE: usize = 4000;
/// Most batches suspended at once.
const MAX_STACK: usize = 16;
/// Drive requests one call may spend resolving shortcuts.
const SHORTCUT_BUDGET: usize = 40;
/// Shortcuts to shortcuts are followed this far.
const MAX_HOPS: usize = 8;
/// The host refuses cursors over 1 MiB; stay clearly below.
const MAX_CURSOR_BYTES: usize = 960 * 1024;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    v: u32,
    #[serde(default)]
    r: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dt: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    q: Vec<Group>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    b: Vec<Batch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    d: Vec<PendingShortcut>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    w: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    m: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rt: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    a: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Group {
    p: Vec<String>,
    f: Vec<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Batch {
    f: Vec<(String, Vec<String>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
}

/// A shortcut seen in a listing, resolved in a later step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingShortcut {
    /// The shortcut's id, name, parents and shared drive.
    i: String,
    n: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ps: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    di: Option<String>,
    /// The path it is at.
    p: Vec<String>,
    /// Its target id.
    t: String,
}

impl PendingShortcut {
    fn as_file(&self) -> File {
        File {
            id: self.i.clone(),
            name: self.n.clone(),
            mime_type: model::SHORTCUT_MIME.into(),
            parents: self.ps.clone(),
            drive_id: self.di.clone(),
            ..File::default()
        }
    }
}

/// What one call produces.
#[derive(Default)]
struct Out {
    entries: Vec<Entry>,
    skipped: Vec<SkippedEntry>,
}

impl Out {
    fn add(&mut self, d: Described) {
        match d {
            Described::Entry(e) => self.entries.push(*e),
            Described::Skipped(s) => self.skip(s),
        }
    }

    fn skip(&mut self, s: SkippedEntry) {
        log::info(format!("skipping `{}`: {}", s.name, s.reason));
        self.skipped.push(s);
    }
}

/// One page of the listing.
pub fn list(request: &ListRequest, settings: &Settings) -> Result<Page, ProviderError> {
    let mut api = Api::new(settings);
    let mut tree = Tree::default();
    let mut out = Out::default();
    let mut state = match &request.cursor {
        Some(c) => State::decode(c)?,
        None => State::start(&mut api, &mut tree, request, settings)?,
    };
    if let Some(root) = &state.rt {
        tree.set_root_id(root);
    }
    state.step(&mut api, &mut tree, settings, &mut out)?;
    if state.rt.is_none() {
        state.rt = tree.known_root_id();
    }
    crate::api::log_requests(&api, "list");
    let next_cursor = if state.done() {
        None
    } else {
        Some(state.encode()?)
    };
    Ok(Page {
        entries: out.entries,
        skipped: out.skipped,
        next_cursor,
    })
}

impl State {
    fn decode(cursor: &str) -> Result<Self, ProviderError> {
        let bad = |why: &str| {
            ProviderError::CursorExpired(format!(
                "unrecognised Google Drive listing cursor ({why}); start the listing again"
            ))
        };
        let state: State = serde_json::from_str(cursor).map_err(|_| bad("not valid"))?;
        if state.v != VERSION {
            return Err(bad("another version"));
        }
        let well_formed = state.q.iter().all(|g| {
            g.f.iter()
                .all(|item| matches!(item.len(), 1 | 2) && !item[0].is_empty())
        }) && state.b.iter().all(|b| !b.f.is_empty());
        if !well_formed {
            return Err(bad("malformed"));
        }
        Ok(state)
    }

    fn encode(&self) -> Result<String, ProviderError> {
        let text = serde_json::to_string(self).map_err(|e| {
            ProviderError::Permanent(format!("cannot write the listing cursor: {e}"))
        })?;
        if text.len() > MAX_CURSOR_BYTES {
            return Err(ProviderError::Permanent(format!(
                "the listing state grew to {} bytes ({} folders waiting), over the host's cursor \
                 limit; sync fewer folders at once with include_folders",
                text.len(),
                self.waiting()
            )));
        }
        Ok(text)
    }

    /// Resolve where the walk starts. Costs a few requests (more for include paths).
    fn start(
        api: &mut Api,
        tree: &mut Tree,
        request: &ListRequest,
        settings: &Settings,
    ) -> Result<Self, ProviderError> {
        let mut state = State {
            v: VERSION,
            r: request.recursive,
            ..State::default()
        };
        let roots: Vec<Root> = if let Some(id) = &request.folder_id {
            vec![scope::folder_root(api, tree, id)?]
        } else if !settings.include_folders.is_empty() {
            scope::include_roots(api, tree, &settings.include_folders, settings.shared_drives)?
        } else {
            let root = tree.root_id(api)?;
            if settings.shared_drives {
                state.dt = Some(String::new());
            }
            vec![Root {
                id: root.clone(),
                path: Vec::new(),
                chain: vec![root],
            }]
        };
        for root in roots {
            state.add_ancestors(&root.chain);
            state.w.push(root.id.clone());
            state.enqueue(&root.path, &root.id, None);
        }
        Ok(state)
    }

    /// Remember the folders above a walk root (`chain` ends with the root itself).
    fn add_ancestors(&mut self, chain: &[String]) {
        for id in &chain[..chain.len().saturating_sub(1)] {
            if !self.a.contains(id) {
                self.a.push(id.clone());
            }
        }
    }

    fn done(&self) -> bool {
        self.dt.is_none() && self.q.is_empty() && self.b.is_empty() && self.d.is_empty()
    }

    fn waiting(&self) -> usize {
        self.q.iter().map(|g| g.f.len()).sum()
    }

    /// Queue folder `id`; its entries live at `parent_path`, plus `name` when given.
    fn enqueue(&mut self, parent_path: &[String], id: &str, name: Option<&str>) {
        let item = match name {
            Some(n) => vec![id.to_string(), n.to_string()],
            None => vec![id.to_string()],
        };
        match self.q.last_mut() {
            Some(g) if g.p == parent_path => g.f.push(item),
            _ => self.q.push(Group {
                p: parent_path.to_vec(),
                f: vec![item],
            }),
        }
    }

    /// Up to [`BATCH_FOLDERS`] waiting folders, oldest first unless the queue is wide.
    fn take_batch(&mut self, newest: bool) -> Batch {
        let mut folders = Vec::new();
        while folders.len() < BATCH_FOLDERS {
            let group = if newest {
                self.q.last_mut()
            } else {
                self.q.first_mut()
            };
            let Some(group) = group else { break };
            let n = (BATCH_FOLDERS - folders.len()).min(group.f.len());
            let items: Vec<Vec<String>> = if newest {
                group.f.split_off(group.f.len() - n)
            } else {
                group.f.drain(..n).collect()
            };
            for mut item in items {
                let mut path = group.p.clone();
                if item.len() == 2
                    && let Some(name) = item.pop()
                {
                    path.push(name);
                }
                folders.push((item.swap_remove(0), path));
            }
            if group.f.is_empty() {
                if newest {
                    self.q.pop();
                } else {
                    self.q.remove(0);
                }
            }
        }
        Batch {
            f: folders,
            t: None,
        }
    }

    fn step(
        &mut self,
        api: &mut Api,
        tree: &mut Tree,
        settings: &Settings,
        out: &mut Out,
    ) -> Result<(), ProviderError> {
        if let Some(token) = self.dt.take() {
            return self.drives_page(api, &token, out);
        }
        if !self.d.is_empty() {
            return self.resolve_shortcuts(api, tree, settings, out);
        }
        let waiting = self.waiting();
        let wide = waiting > WIDE_QUEUE;
        if waiting > 0 && (self.b.is_empty() || (wide && self.b.len() < MAX_STACK)) {
            let batch = self.take_batch(wide);
            self.b.push(batch);
        }
        // Popped now, pushed back if it has more pages; on an error the state is dropped anyway.
        let Some(mut batch) = self.b.pop() else {
            return Ok(());
        };
        let ids: Vec<String> = batch.f.iter().map(|(id, _)| id.clone()).collect();
        let page = api.list_children(&ids, batch.t.as_deref())?;
        self.children(page.files, &batch.f, settings, out);
        if let Some(t) = page.next_page_token.filter(|t| !t.is_empty()) {
            batch.t = Some(t);
            self.b.push(batch);
        }
        Ok(())
    }

    fn drives_page(
        &mut self,
        api: &mut Api,
        token: &str,
        out: &mut Out,
    ) -> Result<(), ProviderError> {
        let page = api.list_drives(Some(token).filter(|t| !t.is_empty()))?;
        let shared = vec![SHARED_DRIVES.to_string()];
        for drive in page.drives {
            if drive.id.is_empty() || self.w.contains(&drive.id) {
                continue;
            }
            let root = File {
                id: drive.id.clone(),
                name: drive.name.clone(),
                mime_type: model::FOLDER_MIME.into(),
                drive_id: Some(drive.id.clone()),
                ..File::default()
            };
            out.entries.push(entries::folder(&root, None, &shared));
            self.w.push(drive.id.clone());
            self.enqueue(&shared, &drive.id, Some(&drive.name));
        }
        self.dt = page.next_page_token.filter(|t| !t.is_empty());
        Ok(())
    }

    /// Turn one `files.list` page for `folders` into entries, queued folders and shortcuts.
    fn children(
        &mut self,
        files: Vec<serde_json::Value>,
        folders: &[(String, Vec<String>)],
        settings: &Settings,
        out: &mut Out,
    ) {
        let mut multi: HashSet<String> = self.m.drain(..).collect();
        for raw in files {
            let id = model::raw_id(&raw);
            let file = match model::parse_file(raw) {
                Ok(f) => f,
                Err(reason) => {
                    out.skip(entries::skipped(&id, &id, &[], reason));
                    continue;
                }
            };
            // `trashed = false` is in the query; a server that ignores it must not resurrect
            // trashed files.
            if file.trashed {
                continue;
            }
            let path = match file
                .parents
                .iter()
                .find_map(|p| folders.iter().find(|(id, _)| id == p))
            {
                Some((_, path)) => path.clone(),
                None if folders.len() == 1 => folders[0].1.clone(),
                None => {
                    out.skip(entries::skipped(
                        &file.id,
                        &file.name,
                        &[],
                        "Drive listed it without naming which listed folder holds it",
                    ));
                    continue;
                }
            };
            // Only an id with several parents can come up twice in one walk.
            if file.parents.len() > 1 && !multi.insert(file.id.clone()) {
                continue;
            }
            if file.is_folder() {
                // Already a root of this walk (a nested include root, a shortcut's target).
                if self.w.contains(&file.id) {
                    continue;
                }
                out.entries.push(entries::folder(&file, None, &path));
                if self.r {
                    self.enqueue(&path, &file.id, Some(&file.name));
                }
            } else if file.is_shortcut() {
                match file.shortcut_target() {
                    Some(target) => self.d.push(PendingShortcut {
                        i: file.id.clone(),
                        n: file.name.clone(),
                        ps: file.parents.clone(),
                        di: file.drive_id.clone(),
                        p: path,
                        t: target.to_string(),
                    }),
                    None => out.skip(entries::skipped(
                        &file.id,
                        &file.name,
                        &path,
                        "dangling shortcut: it names no target",
                    )),
                }
            } else {
                out.add(entries::file(&file, &path, settings));
            }
        }
        let mut multi: Vec<String> = multi.into_iter().collect();
        multi.sort();
        self.m = multi;
    }

    /// Resolve waiting shortcuts until this call's request budget is spent.
    fn resolve_shortcuts(
        &mut self,
        api: &mut Api,
        tree: &mut Tree,
        settings: &Settings,
        out: &mut Out,
    ) -> Result<(), ProviderError> {
        let start = api.requests;
        let mut done = 0;
        while done < self.d.len() && api.requests - start < SHORTCUT_BUDGET {
            let shortcut = self.d[done].clone();
            self.resolve_shortcut(api, tree, &shortcut, settings, out)?;
            done += 1;
        }
        self.d.drain(..done);
        Ok(())
    }

    fn resolve_shortcut(
        &mut self,
        api: &mut Api,
        tree: &mut Tree,
        shortcut: &PendingShortcut,
        settings: &Settings,
        out: &mut Out,
    ) -> Result<(), ProviderError> {
        let identity = shortcut.as_file();
        let skip = |out: &mut Out, reason: String| {
            out.skip(entries::skipped(
                &shortcut.i,
                &shortcut.n,
                &shortcut.p,
                reason,
            ));
        };
        let target = match follow(api, &shortcut.i, &shortcut.t)? {
            Ok(target) => target,
            Err(reason) => {
                skip(out, reason);
                return Ok(());
            }
        };
        if !target.is_folder() {
            out.add(entries::shortcut_to_file(
                &identity,
                &target,
                &shortcut.p,
                settings,
            ));
            return Ok(());
        }
        if !self.r {
            out.entries
                .push(entries::folder(&identity, Some(&target), &shortcut.p));
            return Ok(());
        }
        // A folder inside the walk would be listed twice, and one above a walk root would lead
        // back into the walk: skip the shortcut instead.
        let mut inside = self.w.contains(&target.id) || self.a.contains(&target.id);
        let mut chain = Vec::new();
        if !inside {
            tree.seed(&target);
            let places = tree.places(api, &target.id)?;
            inside = places
                .iter()
                .any(|p| p.chain.iter().any(|c| self.w.contains(c)));
            if let Some(p) = places.into_iter().next() {
                chain = p.chain;
            }
        }
        if inside {
            skip(
                out,
                format!(
                    "shortcut loop: its target folder `{}` is already part of this listing, or \
                     holds part of it",
                    target.name
                ),
            );
            return Ok(());
        }
        self.add_ancestors(&chain);
        out.entries
            .push(entries::folder(&identity, Some(&target), &shortcut.p));
        self.w.push(target.id.clone());
        self.enqueue(&shortcut.p, &target.id, Some(&shortcut.n));
        Ok(())
    }
}

/// Follow a shortcut (and shortcuts to shortcuts) to what it finally points to. The inner
/// `Err` is a skip reason; the outer one a failed request.
pub fn follow(
    api: &mut Api,
    shortcut_id: &str,
    target_id: &str,
) -> Result<Result<File, String>, ProviderError> {
    let mut seen = vec![shortcut_id.to_string()];
    let mut next = target_id.to_string();
    loop {
        if seen.contains(&next) {
            return Ok(Err(
                "shortcut loop: it leads back to itself through other shortcuts".into(),
            ));
        }
        if seen.len() > MAX_HOPS {
            return Ok(Err(format!(
                "shortcut loop: more than {MAX_HOPS} shortcuts lead to one another"
            )));
        }
        let target = match api.get_file(&next) {
            Ok(Some(t)) if !t.trashed => t,
            Ok(Some(_)) => {
                return Ok(Err("dangling shortcut: its target is in the trash".into()));
            }
            Ok(None) => {
                return Ok(Err("dangling shortcut: its target no longer exists".into()));
            }
            Err(ProviderError::Forbidden(m)) => {
                return Ok(Err(format!("its target cannot be read: {m}")));
            }
            Err(e) => return Err(e),
        };
        if !target.is_shortcut() {
            return Ok(Ok(target));
        }
        seen.push(next);
        match target.shortcut_target() {
            Some(t) => next = t.to_string(),
            None => return Ok(Err("dangling shortcut: it names no target".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[&str]) -> Vec<String> {
        segments.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn batches_carry_full_paths_and_the_cursor_round_trips() {
        let mut state = State {
            v: VERSION,
            r: true,
            ..State::default()
        };
        state.enqueue(&path(&["Shared drives", "Team"]), "root-of-team", None);
        for i in 0..50 {
            state.enqueue(&path(&["Work"]), &format!("f{i}"), Some(&format!("n{i}")));
        }
        let state = State::decode(&state.encode().unwrap()).unwrap();
        let mut state = state;
        let first = state.take_batch(false);
        assert_eq!(first.f.len(), BATCH_FOLDERS);
        assert_eq!(
            first.f[0],
            ("root-of-team".into(), path(&["Shared drives", "Team"]))
        );
        assert_eq!(first.f[1], ("f0".into(), path(&["Work", "n0"])));
        let newest = state.take_batch(true);
        assert_eq!(newest.f.len(), 11);
        assert_eq!(newest.f.last().unwrap().0, "f49");
        assert!(state.q.is_empty());
    }

    #[test]
    fn foreign_cursors_expire() {
        for c in [
            "",
            "{}",
            r#"{"v":2}"#,
            r#"{"v":1,"q":[{"p":[],"f":[[]]}]}"#,
            "local-v1\n0",
        ] {
            assert!(
                matches!(State::decode(c), Err(ProviderError::CursorExpired(_))),
                "{c}"
            );
        }
    }
}
