//! Which local folders a user's `local` configs may read: `P8_LOCAL_ROOTS` parsed into a
//! policy, the roots it gives one user, and the opening of a config's root inside them, both
//! when the config is saved and at the start of every run.
//!
//! A root is opened from a handle on the user's allowed folder one name at a time
//! ([`HeldFolder`]), never by resolving the whole path and comparing prefixes: a symlink swapped
//! in after a check can't lead a run outside. Every refusal for a user with roots reads the same,
//! whether the folder is outside those roots, missing, or not a folder, so the answer does not
//! tell which paths exist on the server.

use crate::runtime::local_root::HeldFolder;
use crate::store::ids::UserId;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Where local-folder configs may point.
#[derive(Debug, Clone)]
pub enum LocalRoots {
    /// Anywhere: the operator's own configs (the CLI, and runs under `p8sync serve` when
    /// `P8_LOCAL_ROOTS` is not set, where only the operator can have made a local config).
    Anywhere,
    /// Only inside each owner's own roots, as `P8_LOCAL_ROOTS` gives them (no entries: no
    /// local folders for anyone).
    PerUser(Vec<RootEntry>),
}

/// One entry of `P8_LOCAL_ROOTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootEntry {
    /// `PATH`: each user gets `PATH/<user id>` (made by the operator, not by p8sync).
    EachUser(PathBuf),
    /// `USER_UUID=PATH`: a root for that one user.
    OneUser(UserId, PathBuf),
}

/// The folders one user's local configs may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRoots {
    /// Any folder (the operator's configs).
    Anywhere,
    /// Only inside these (none: the user may sync no local folder).
    Within(Vec<PathBuf>),
}

/// A `P8_LOCAL_ROOTS` entry that can't be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "P8_LOCAL_ROOTS entry `{entry}`: {reason} (entries are `PATH`, giving each user PATH/<user id>, or `USER_UUID=PATH`, comma separated)"
)]
pub struct RootsError {
    entry: String,
    reason: String,
}

/// A config's root that this user may not sync. For a user with roots the text is the same
/// whatever the folder is (outside, missing, a file), so it tells nothing about the server's
/// folders.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RootRefused(String);

/// A config's root, ready to grant to a run.
#[derive(Debug)]
pub enum GrantedRoot {
    /// The path as configured (the operator's configs).
    Named(PathBuf),
    /// The folder opened inside the owner's roots, held open for the run.
    Held(HeldFolder),
}

impl LocalRoots {
    /// Parse a `P8_LOCAL_ROOTS` value (comma separated entries; see [`RootEntry`]).
    pub fn parse(value: &str) -> Result<LocalRoots, RootsError> {
        crate::config::split_list(value, &[','])
            .into_iter()
            .map(|entry| parse_entry(&entry))
            .collect::<Result<Vec<_>, _>>()
            .map(LocalRoots::PerUser)
    }

    /// `P8_LOCAL_ROOTS` from the environment; `None` when it is not set (or empty).
    pub fn from_env() -> Result<Option<LocalRoots>, RootsError> {
        match std::env::var("P8_LOCAL_ROOTS") {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// The roots `user` may read: only entries for everyone (as `PATH/<user>`) and for `user`.
    pub fn roots_for(&self, user: UserId) -> UserRoots {
        match self {
            LocalRoots::Anywhere => UserRoots::Anywhere,
            LocalRoots::PerUser(entries) => UserRoots::Within(
                entries
                    .iter()
                    .filter_map(|e| match e {
                        RootEntry::EachUser(path) => Some(path.join(user.to_string())),
                        RootEntry::OneUser(owner, path) if *owner == user => Some(path.clone()),
                        RootEntry::OneUser(..) => None,
                    })
                    .collect(),
            ),
        }
    }
}

fn parse_entry(entry: &str) -> Result<RootEntry, RootsError> {
    let bad = |reason: &str| RootsError {
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    // An absolute path may hold a `=`; anything else names a user first.
    let (user, path) = if entry.starts_with('/') {
        (None, entry)
    } else {
        let (user, path) = entry
            .split_once('=')
            .ok_or_else(|| bad("a path must be absolute"))?;
        let user = user
            .trim()
            .parse::<UserId>()
            .map_err(|_| bad("the part before `=` is not a user id (a UUID)"))?;
        (Some(user), path.trim())
    };
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(bad("a path must be absolute"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad("a path must not contain `..`"));
    }
    Ok(match user {
        Some(user) => RootEntry::OneUser(user, path),
        None => RootEntry::EachUser(path),
    })
}

impl UserRoots {
    /// Open `root` if this user may sync it: for a user with roots, an existing folder inside
    /// one of them, reached without leaving it (and then held open); for the operator, any
    /// folder. Blocking: a few `openat` calls.
    pub fn open(&self, root: &Path) -> Result<GrantedRoot, RootRefused> {
        let allowed = match self {
            UserRoots::Anywhere if root.is_dir() => return Ok(GrantedRoot::Named(root.into())),
            UserRoots::Anywhere => {
                return Err(RootRefused(format!(
                    "the folder {} does not exist or is not a folder",
                    root.display()
                )));
            }
            UserRoots::Within(allowed) => allowed,
        };
        if allowed.is_empty() {
            return Err(RootRefused(
                "this server offers you no local folders (the operator can give some with P8_LOCAL_ROOTS)".into(),
            ));
        }
        // Tried as written and as resolved, so either spelling of an allowed root is inside it.
        let spellings = allowed
            .iter()
            .flat_map(|a| [Some(a.clone()), a.canonicalize().ok()])
            .flatten();
        for base in spellings {
            if let Some(names) = names_below(root, &base)
                && let Ok(held) = HeldFolder::open_inside(&base, &names)
            {
                return Ok(GrantedRoot::Held(held));
            }
        }
        let shown: Vec<String> = allowed
            .iter()
            .map(|a| format!("`{}`", a.display()))
            .collect();
        Err(RootRefused(format!(
            "must be an existing folder inside your local roots ({}; the operator sets them with P8_LOCAL_ROOTS)",
            shown.join(", ")
        )))
    }
}

/// The names that lead from `base` to `root` (`..` included: the walk refuses to climb out),
/// when `root` is absolute and written under `base`.
fn names_below<'a>(root: &'a Path, base: &Path) -> Option<Vec<&'a OsStr>> {
    if !root.is_absolute() {
        return None;
    }
    let rest = root.strip_prefix(base).ok()?;
    Some(
        rest.components()
            .map(|c| match c {
                Component::Normal(name) => name,
                _ => OsStr::new(".."),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u8) -> UserId {
        UserId(uuid::Uuid::from_bytes([n; 16]))
    }

    #[test]
    fn entries_are_per_user_paths_or_explicit_mappings() {
        let alice = user(1);
        let roots = LocalRoots::parse(&format!(" /srv/roots , {alice}=/data/alice,,")).unwrap();
        let LocalRoots::PerUser(entries) = &roots else {
            panic!("{roots:?}")
        };
        assert_eq!(
            entries,
            &[
                RootEntry::EachUser("/srv/roots".into()),
                RootEntry::OneUser(alice, "/data/alice".into()),
            ]
        );
        assert_eq!(
            roots.roots_for(alice),
            UserRoots::Within(vec![
                PathBuf::from(format!("/srv/roots/{alice}")),
                "/data/alice".into(),
            ])
        );
        // Another user gets only their own folder, never Alice's mapping.
        let bob = user(2);
        assert_eq!(
            roots.roots_for(bob),
            UserRoots::Within(vec![PathBuf::from(format!("/srv/roots/{bob}"))])
        );
        // A path may hold a `=`.
        assert!(matches!(
            LocalRoots::parse("/srv/a=b").unwrap(),
            LocalRoots::PerUser(e) if e == [RootEntry::EachUser("/srv/a=b".into())]
        ));
        assert_eq!(LocalRoots::Anywhere.roots_for(alice), UserRoots::Anywhere);
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        for (value, says) in [
            ("srv/roots", "must be absolute"),
            ("not-a-uuid=/data/x", "not a user id"),
            (&format!("{}=data/x", user(1)), "must be absolute"),
            (&format!("{}=", user(1)), "must be absolute"),
            ("/srv/../etc", "`..`"),
        ] {
            let e = LocalRoots::parse(value).unwrap_err().to_string();
            assert!(e.contains(says), "{value}: {e}");
            assert!(e.contains("P8_LOCAL_ROOTS"), "{e}");
        }
    }

    #[test]
    fn a_root_opens_only_inside_the_users_own_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let (alice, bob) = (user(1), user(2));
        let roots = LocalRoots::PerUser(vec![RootEntry::EachUser(tmp.path().into())]);
        let mine = tmp.path().join(alice.to_string());
        let theirs = tmp.path().join(bob.to_string());
        std::fs::create_dir_all(mine.join("docs")).unwrap();
        std::fs::create_dir_all(&theirs).unwrap();
        std::fs::write(theirs.join("secret.txt"), "bob's").unwrap();
        std::fs::write(mine.join("file.txt"), "a file").unwrap();
        std::fs::write(mine.join("docs/note.txt"), "alice's").unwrap();
        std::os::unix::fs::symlink(&theirs, mine.join("abs-link")).unwrap();
        std::os::unix::fs::symlink(format!("../{bob}"), mine.join("rel-link")).unwrap();
        std::os::unix::fs::symlink("docs", mine.join("inner-link")).unwrap();
        let hers = roots.roots_for(alice);

        let held = match hers.open(&mine.join("docs")).unwrap() {
            GrantedRoot::Held(h) => h,
            other => panic!("{other:?}"),
        };
        // A link that stays inside is followed; the root itself is allowed.
        assert!(hers.open(&mine.join("inner-link")).is_ok());
        assert!(hers.open(&mine).is_ok());
        let refusals: Vec<String> = [
            theirs.clone(),
            mine.join("abs-link"),
            mine.join("rel-link"),
            mine.join(format!("../{bob}")),
            mine.join("missing"),
            mine.join("file.txt"),
            PathBuf::from(format!("{alice}/docs")),
            PathBuf::from("/"),
        ]
        .iter()
        .map(|p| hers.open(p).unwrap_err().to_string())
        .collect();
        assert!(refusals.iter().all(|r| r == &refusals[0]), "{refusals:#?}");
        assert!(refusals[0].contains(&mine.display().to_string()));
        assert!(refusals[0].contains("P8_LOCAL_ROOTS"));
        assert!(!refusals[0].contains("docs"));

        // The held folder stays the one that was opened when its name is swapped for a link.
        std::fs::rename(mine.join("docs"), mine.join("old-docs")).unwrap();
        std::os::unix::fs::symlink(&theirs, mine.join("docs")).unwrap();
        assert!(held.path().join("note.txt").is_file());
        assert!(held.path().join("secret.txt").symlink_metadata().is_err());
        assert!(hers.open(&mine.join("docs")).is_err());
        // Bob's own root is his, and the operator's configs go anywhere.
        assert!(roots.roots_for(bob).open(&theirs).is_ok());
        assert!(matches!(
            UserRoots::Anywhere.open(&theirs).unwrap(),
            GrantedRoot::Named(p) if p == theirs
        ));
        assert!(UserRoots::Within(vec![]).open(&theirs).is_err());
    }
}
