//! The granted local root, read by the host: opening the file of a `local-file` fetch plan, and
//! the folder listings behind `host.read-root-dir`/`host.stat-root-path`, never leaving the root.
//!
//! Paths come from the provider, in the name encoding ([`super::names`]), and are walked one
//! name at a time from a handle on the root: each folder is opened from its parent's handle with
//! `O_NOFOLLOW`, a symlink is read and followed by hand (only while it stays inside the root:
//! no absolute targets, no `..` above the root, at most [`MAX_SYMLINKS`] of them), and the file
//! is opened with `O_NOFOLLOW | O_NONBLOCK` and checked by `fstat` on the handle itself. So a
//! name swapped for a symlink, a FIFO or a device between a check and the open is refused, not
//! followed, and never blocks. Everything here is blocking I/O: async callers use
//! [`open_async`] and the `*_async` listings, which run on the blocking pool.

use super::bindings::p8::provider::host::{RootItem, RootItemKind};
use super::names;
use super::types::Timestamp;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Most symlinks one path may pass through (Linux's own limit).
pub const MAX_SYMLINKS: usize = 40;
/// Most names one `read-root-dir` call returns.
pub const MAX_LIST: u32 = 10_000;

/// A local path that cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum LocalPathError {
    /// The path is absolute or climbs out with `..`.
    #[error("`{0}` is not a plain relative path; a provider may only name files inside its root")]
    NotRelative(String),
    /// A name in the path is not in the name encoding.
    #[error("`{0}` is not a path in the name encoding: {1}")]
    NotEncoded(String, names::NameError),
    /// The path leads outside the root (through a symlink).
    #[error("`{0}` leads outside the granted root (through a symlink); refusing to read it")]
    Escapes(String),
    /// The path passes through more symlinks than [`MAX_SYMLINKS`] (a loop, most likely).
    #[error("`{0}` passes through more than {MAX_SYMLINKS} symlinks (a symlink loop?)")]
    Loop(String),
    /// The file is missing or unreadable.
    #[error("`{path}` cannot be read: {source}")]
    Io {
        /// The relative path (as the provider gave it).
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("`{path}` is {what}, not a regular file; only regular files are read")]
    NotAFile {
        /// The relative path.
        path: String,
        /// What it is instead ("a named pipe (FIFO)", "a folder", ...).
        what: &'static str,
    },
    /// Not a folder.
    #[error("`{0}` is not a folder")]
    NotAFolder(String),
}

impl LocalPathError {
    /// The I/O error behind this one, if that is what it is.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            LocalPathError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// The raw names of an encoded relative path (`""`, `.` and empty names are skipped).
fn parse(relative: &str) -> Result<Vec<Vec<u8>>, LocalPathError> {
    if relative.starts_with('/') {
        return Err(LocalPathError::NotRelative(relative.to_string()));
    }
    let mut out = Vec::new();
    for segment in relative.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(LocalPathError::NotRelative(relative.to_string())),
            s => {
                let raw = names::decode(s)
                    .map_err(|e| LocalPathError::NotEncoded(relative.to_string(), e))?;
                out.push(raw);
            }
        }
    }
    Ok(out)
}

/// Check that `relative` is a plain relative path in the name encoding.
pub fn check_path(relative: &str) -> Result<(), LocalPathError> {
    parse(relative).map(|_| ())
}

/// A plain `/`-separated path (as components built against 0.1.0 give them) in the name
/// encoding: each name encoded, so a `‛` in it stays a `‛`.
pub fn encode_plain_path(plain: &str) -> String {
    plain
        .split('/')
        .map(|name| names::encode(name.as_bytes()))
        .collect::<Vec<_>>()
        .join("/")
}

fn kind_of(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// What a file type is, in words, for anything that is not a regular file.
fn what(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a folder",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a named pipe (FIFO)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Unknown => "of an unknown type",
    }
}

/// Where a path leads inside the root: the open folders from the root down to the one that
/// holds the final name (empty: the root itself), the final name (`.` when the path ends at a
/// folder reached as a whole), and what that name is (not followed: never a symlink).
struct Found {
    folders: Vec<OwnedFd>,
    name: Vec<u8>,
    stat: Stat,
}

impl Found {
    fn parent<'a>(&'a self, root: BorrowedFd<'a>) -> BorrowedFd<'a> {
        self.folders.last().map(|f| f.as_fd()).unwrap_or(root)
    }
}

fn io(path: &str) -> impl Fn(rustix::io::Errno) -> LocalPathError + '_ {
    move |e| LocalPathError::Io {
        path: path.to_string(),
        source: e.into(),
    }
}

/// Flags for opening a folder on the way down: never through a symlink, never blocking.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK
}

/// Follow `names` from `root`, symlinks included, without leaving the root.
fn walk(root: BorrowedFd<'_>, names: Vec<Vec<u8>>, shown: &str) -> Result<Found, LocalPathError> {
    let mut queue: VecDeque<Vec<u8>> = names.into();
    let mut folders: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == b".." {
            // Only a symlink's target can say `..`; above the root is outside it.
            if folders.pop().is_none() {
                return Err(LocalPathError::Escapes(shown.to_string()));
            }
            continue;
        }
        let here = folders.last().map(|f| f.as_fd()).unwrap_or(root);
        let stat = rustix::fs::statat(here, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io(shown))?;
        match kind_of(&stat) {
            FileType::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(LocalPathError::Loop(shown.to_string()));
                }
                let target =
                    rustix::fs::readlinkat(here, name.as_slice(), Vec::new()).map_err(io(shown))?;
                let target = target.as_bytes();
                if target.starts_with(b"/") {
                    return Err(LocalPathError::Escapes(shown.to_string()));
                }
                for part in target.rsplit(|b| *b == b'/') {
                    if !part.is_empty() && part != b"." {
                        queue.push_front(part.to_vec());
                    }
                }
            }
            _ if queue.is_empty() => {
                return Ok(Found {
                    folders,
                    name,
                    stat,
                });
            }
            FileType::Directory => {
                let fd = rustix::fs::openat(here, name.as_slice(), dir_flags(), Mode::empty())
                    .map_err(io(shown))?;
                folders.push(fd);
            }
            _ => {
                return Err(LocalPathError::Io {
                    path: shown.to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
                });
            }
        }
    }
    // The path ended at a folder as a whole: the root, or where a symlink or `..` led.
    let here = folders.last().map(|f| f.as_fd()).unwrap_or(root);
    let stat = rustix::fs::fstat(here).map_err(io(shown))?;
    Ok(Found {
        folders,
        name: b".".to_vec(),
        stat,
    })
}

/// Open the root folder itself (for [`open_small`], once per run): the root is the operator's
/// choice, so it may be reached through symlinks.
pub fn open_root(root: &Path) -> Result<OwnedFd, LocalPathError> {
    rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| LocalPathError::Io {
        path: root.display().to_string(),
        source: e.into(),
    })
}

/// Open the folder `found` names.
fn open_folder(
    root: BorrowedFd<'_>,
    found: &Found,
    shown: &str,
) -> Result<OwnedFd, LocalPathError> {
    if kind_of(&found.stat) != FileType::Directory {
        return Err(LocalPathError::NotAFolder(shown.to_string()));
    }
    let fd = rustix::fs::openat(
        found.parent(root),
        found.name.as_slice(),
        dir_flags(),
        Mode::empty(),
    )
    .map_err(io(shown))?;
    Ok(fd)
}

/// A folder opened inside a trusted one and kept open. It is granted to a run by the path of
/// its descriptor (`/proc/self/fd/<n>`), so the folder that was checked is the folder the run
/// reads until the value is dropped, whatever its name points to by then.
#[derive(Debug)]
pub struct HeldFolder {
    /// While it is open, `path` leads to the folder it holds; the host reads through it.
    fd: OwnedFd,
    path: PathBuf,
}

impl HeldFolder {
    /// Open the folder `names` lead to from `base`, one name at a time like any path inside a
    /// root: `..` and symlinks are followed only while they stay inside `base`. `base` itself
    /// is the operator's choice and may be reached through symlinks.
    pub fn open_inside(base: &Path, names: &[&OsStr]) -> Result<HeldFolder, LocalPathError> {
        let shown = base
            .join(names.iter().collect::<PathBuf>())
            .display()
            .to_string();
        let base_fd = open_root(base)?;
        let names = names.iter().map(|n| n.as_bytes().to_vec()).collect();
        let found = walk(base_fd.as_fd(), names, &shown)?;
        let fd = open_folder(base_fd.as_fd(), &found, &shown)?;
        let path = PathBuf::from(format!(
            "/proc/self/fd/{}",
            rustix::fd::AsRawFd::as_raw_fd(&fd)
        ));
        // Only Linux with /proc mounted reaches a descriptor by path; anywhere else the path
        // would name something else (or nothing), so it is checked against the handle.
        let held = rustix::fs::fstat(&fd).map_err(io(&shown))?;
        let reached = rustix::fs::stat(&path).map_err(io(&shown))?;
        if (held.st_dev, held.st_ino) != (reached.st_dev, reached.st_ino) {
            return Err(LocalPathError::Io {
                path: shown,
                source: std::io::Error::other("/proc/self/fd does not reach the opened folder"),
            });
        }
        Ok(HeldFolder { fd, path })
    }

    /// The path that reaches the held folder while this value lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The held folder itself, for the host's own reads (no path lookup per file).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Open `relative` (in the name encoding) inside `root` for reading: a regular file, reached
/// without leaving the root, checked on the opened handle. It blocks its thread (briefly: no
/// open here waits for a FIFO's writer), but is safe on an async worker: on a multi-threaded
/// tokio runtime it runs under `block_in_place`, so the worker's other tasks move elsewhere.
/// [`open_async`] runs it on the blocking pool instead.
pub fn open(root: &Path, relative: &str) -> Result<std::fs::File, LocalPathError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| open_now(root, relative))
        }
        _ => open_now(root, relative),
    }
}

fn open_now(root: &Path, relative: &str) -> Result<std::fs::File, LocalPathError> {
    let root_fd = open_root(root)?;
    let fd = open_in(root_fd.as_fd(), relative)?;
    blocking_reads(fd, relative)
}

/// Open `relative` inside the folder `root_fd` (see [`open`]); the handle is still
/// non-blocking.
fn open_in(root_fd: BorrowedFd<'_>, relative: &str) -> Result<OwnedFd, LocalPathError> {
    let names = parse(relative)?;
    if names.is_empty() {
        return Err(LocalPathError::NotRelative(relative.to_string()));
    }
    let found = walk(root_fd, names, relative)?;
    let kind = kind_of(&found.stat);
    // Refuse before opening: opening a device can do things of its own.
    if kind != FileType::RegularFile {
        return Err(LocalPathError::NotAFile {
            path: relative.to_string(),
            what: what(kind),
        });
    }
    let fd = rustix::fs::openat(
        found.parent(root_fd),
        found.name.as_slice(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io(relative))?;
    // The check that counts is on the handle: the name may have been swapped since.
    let kind = kind_of(&rustix::fs::fstat(&fd).map_err(io(relative))?);
    if kind != FileType::RegularFile {
        return Err(LocalPathError::NotAFile {
            path: relative.to_string(),
            what: what(kind),
        });
    }
    Ok(fd)
}

/// A regular file's handle, with `O_NONBLOCK` cleared for whoever reads it next (reads of a
/// regular file ignore it; this is for anything that checks).
fn blocking_reads(fd: OwnedFd, relative: &str) -> Result<std::fs::File, LocalPathError> {
    let flags = rustix::fs::fcntl_getfl(&fd).map_err(io(relative))?;
    rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK).map_err(io(relative))?;
    Ok(std::fs::File::from(fd))
}

/// [`open`], on the blocking pool, so no async worker waits on the disk.
pub async fn open_async(root: &Path, relative: &str) -> Result<std::fs::File, LocalPathError> {
    let (root, rel) = (root.to_path_buf(), relative.to_string());
    blocking(relative, move || open_now(&root, &rel)).await
}

/// A file opened by [`open_small`].
#[derive(Debug)]
pub enum Opened {
    /// The whole file: it was no larger than asked.
    Read(Vec<u8>),
    /// A larger file, open at its start.
    Open(std::fs::File),
}

/// Open `relative` inside the folder `root_fd` (see [`open`]) and read it whole when it holds
/// at most `small` bytes. This runs on the calling thread, async worker included: a small file
/// on a local disk is read in microseconds, and a trip to the blocking pool and back (two
/// thread wake-ups) cost more than the read, for every file of a run. Larger files come back
/// open, to be streamed.
pub fn open_small(
    root_fd: BorrowedFd<'_>,
    relative: &str,
    small: usize,
) -> Result<Opened, LocalPathError> {
    use std::io::{Read, Seek};
    let failed = |source| LocalPathError::Io {
        path: relative.to_string(),
        source,
    };
    let mut file = std::fs::File::from(open_in(root_fd, relative)?);
    let mut bytes = Vec::with_capacity(small.min(64 * 1024) + 1);
    (&mut file)
        .take(small as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() <= small {
        return Ok(Opened::Read(bytes));
    }
    file.rewind().map_err(failed)?;
    Ok(Opened::Open(blocking_reads(file.into(), relative)?))
}

async fn blocking<T: Send + 'static>(
    shown: &str,
    work: impl FnOnce() -> Result<T, LocalPathError> + Send + 'static,
) -> Result<T, LocalPathError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(LocalPathError::Io {
            path: shown.to_string(),
            source: std::io::Error::other(format!("the reading task failed: {e}")),
        })
    })
}

/// The host path of `relative` (in the name encoding) inside `root`, after checking that it
/// really is inside (symlinks resolved) and is a regular file. For tests and tools: a path
/// checked now may be swapped before it is used, so anything that reads uses [`open`].
pub fn resolve(root: &Path, relative: &str) -> Result<PathBuf, LocalPathError> {
    let names = parse(relative)?;
    if names.is_empty() {
        return Err(LocalPathError::NotRelative(relative.to_string()));
    }
    let io = |source| LocalPathError::Io {
        path: relative.to_string(),
        source,
    };
    let root = root.canonicalize().map_err(io)?;
    let mut full = root.clone();
    for name in &names {
        full.push(OsStr::from_bytes(name));
    }
    let full = full.canonicalize().map_err(io)?;
    if !full.starts_with(&root) {
        return Err(LocalPathError::Escapes(relative.to_string()));
    }
    if !full.metadata().map_err(io)?.is_file() {
        return Err(LocalPathError::NotAFile {
            path: relative.to_string(),
            what: "not a regular file",
        });
    }
    Ok(full)
}

fn timestamp(seconds: i64, nanoseconds: i64) -> Timestamp {
    Timestamp {
        seconds,
        nanoseconds: u32::try_from(nanoseconds).unwrap_or(0).min(999_999_999),
    }
}

#[allow(clippy::unnecessary_cast)] // the stat fields' types differ between targets
fn item(name: String, symlink: bool, stat: &Stat) -> RootItem {
    let kind = match kind_of(stat) {
        FileType::RegularFile => RootItemKind::File,
        FileType::Directory => RootItemKind::Folder,
        other => {
            RootItemKind::Unsupported(format!("not a regular file or folder: {}", what(other)))
        }
    };
    RootItem {
        size: match kind {
            RootItemKind::File => stat.st_size as u64,
            _ => 0,
        },
        modified: Some(timestamp(stat.st_mtime as i64, stat.st_mtime_nsec as i64)),
        name,
        symlink,
        kind,
    }
}

fn unsupported(name: String, symlink: bool, reason: String) -> RootItem {
    RootItem {
        name,
        symlink,
        kind: RootItemKind::Unsupported(reason),
        size: 0,
        modified: None,
    }
}

/// Describe `name` in the folder `folder` (reached by `folder_names` from the root); an error
/// only when the name itself cannot be looked at (gone, or not readable).
fn describe(
    root: BorrowedFd<'_>,
    folder_names: &[Vec<u8>],
    folder: BorrowedFd<'_>,
    name: &[u8],
) -> Result<RootItem, rustix::io::Errno> {
    let encoded = names::encode(name);
    let stat = rustix::fs::statat(folder, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if kind_of(&stat) != FileType::Symlink {
        return Ok(item(encoded, false, &stat));
    }
    let target = rustix::fs::readlinkat(folder, name, Vec::new())
        .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut path = folder_names.to_vec();
    path.push(name.to_vec());
    let reason = match walk(root, path, &encoded) {
        Ok(found) => return Ok(item(encoded, true, &found.stat)),
        Err(LocalPathError::Escapes(_)) => {
            format!("symlink points outside the root (to `{target}`)")
        }
        Err(LocalPathError::Loop(_)) => format!("symlink loop (through `{target}`)"),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => {
            format!("broken symlink (to `{target}`)")
        }
        Err(e) => format!("cannot follow the symlink (to `{target}`): {e}"),
    };
    Ok(unsupported(encoded, true, reason))
}

/// The names in the folder `path` (in the name encoding) of `root`, in the byte order of the raw
/// names, after the name `after`, at most `limit` (capped at [`MAX_LIST`]) of them.
pub fn read_dir(
    root: &Path,
    path: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<RootItem>, LocalPathError> {
    let folder_names = parse(path)?;
    let after = after
        .map(|a| names::decode(a).map_err(|e| LocalPathError::NotEncoded(a.to_string(), e)))
        .transpose()?;
    let root_fd = open_root(root)?;
    let root_fd = root_fd.as_fd();
    let shown = if path.is_empty() { "." } else { path };
    let found = walk(root_fd, folder_names.clone(), shown)?;
    let folder = open_folder(root_fd, &found, shown)?;
    let mut raw: Vec<Vec<u8>> = Vec::new();
    let dir = rustix::fs::Dir::read_from(&folder).map_err(io(shown))?;
    for entry in dir {
        let entry = entry.map_err(io(shown))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if after.as_ref().is_none_or(|a| name > a.as_slice()) {
            raw.push(name.to_vec());
        }
    }
    raw.sort_unstable();
    raw.truncate(limit.min(MAX_LIST) as usize);
    let mut items = Vec::with_capacity(raw.len());
    for name in &raw {
        match describe(root_fd, &folder_names, folder.as_fd(), name) {
            Ok(item) => items.push(item),
            // Gone since the folder was read: nothing to report.
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => items.push(unsupported(
                names::encode(name),
                false,
                format!("cannot read its metadata: {}", std::io::Error::from(e)),
            )),
        }
    }
    Ok(items)
}

/// What `path` (in the name encoding) of `root` is, as [`read_dir`] would describe it.
pub fn stat(root: &Path, path: &str) -> Result<RootItem, LocalPathError> {
    let mut folder_names = parse(path)?;
    let root_fd = open_root(root)?;
    let root_fd = root_fd.as_fd();
    let Some(name) = folder_names.pop() else {
        let stat = rustix::fs::fstat(root_fd).map_err(io("."))?;
        return Ok(item(String::new(), false, &stat));
    };
    let shown = path;
    let found = walk(root_fd, folder_names.clone(), shown)?;
    let folder = open_folder(root_fd, &found, shown)?;
    describe(root_fd, &folder_names, folder.as_fd(), &name).map_err(io(shown))
}

/// [`read_dir`] on the blocking pool.
pub async fn read_dir_async(
    root: PathBuf,
    path: String,
    after: Option<String>,
    limit: u32,
) -> Result<Vec<RootItem>, LocalPathError> {
    let shown = path.clone();
    blocking(&shown, move || {
        read_dir(&root, &path, after.as_deref(), limit)
    })
    .await
}

/// [`stat`] on the blocking pool.
pub async fn stat_async(root: PathBuf, path: String) -> Result<RootItem, LocalPathError> {
    let shown = path.clone();
    blocking(&shown, move || stat(&root, &path)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            FileType::Fifo,
            Mode::RUSR | Mode::WUSR,
            0,
        )
        .unwrap();
    }

    fn read(root: &Path, rel: &str) -> Result<String, LocalPathError> {
        let mut text = String::new();
        open(root, rel)?.read_to_string(&mut text).unwrap();
        Ok(text)
    }

    #[test]
    fn stays_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("sub")).unwrap();
        std::fs::write(r.join("sub/ok.txt"), "ok").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), r.join("link")).unwrap();
        std::os::unix::fs::symlink("ok.txt", r.join("sub/inner-link")).unwrap();
        std::os::unix::fs::symlink("../sub/ok.txt", r.join("sub/up-and-back")).unwrap();
        std::os::unix::fs::symlink("../../secret.txt", r.join("sub/rel-escape")).unwrap();
        std::os::unix::fs::symlink("sub", r.join("dir-link")).unwrap();
        std::os::unix::fs::symlink("loop-b", r.join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", r.join("loop-b")).unwrap();

        assert!(resolve(r, "sub/ok.txt").unwrap().ends_with("sub/ok.txt"));
        assert!(
            resolve(r, "sub/inner-link")
                .unwrap()
                .ends_with("sub/ok.txt")
        );
        assert!(matches!(
            resolve(r, "link"),
            Err(LocalPathError::Escapes(_))
        ));

        assert_eq!(read(r, "sub/ok.txt").unwrap(), "ok");
        assert_eq!(read(r, "sub/inner-link").unwrap(), "ok");
        assert_eq!(read(r, "sub/up-and-back").unwrap(), "ok");
        assert_eq!(read(r, "dir-link/ok.txt").unwrap(), "ok");
        assert_eq!(read(r, "./sub//ok.txt").unwrap(), "ok");
        for escape in ["link", "sub/rel-escape"] {
            assert!(
                matches!(read(r, escape), Err(LocalPathError::Escapes(_))),
                "{escape}"
            );
        }
        assert!(matches!(read(r, "loop-a"), Err(LocalPathError::Loop(_))));
        for bad in ["../x", "/etc/passwd", "sub/../../x", ""] {
            assert!(
                matches!(read(r, bad), Err(LocalPathError::NotRelative(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            read(r, "sub"),
            Err(LocalPathError::NotAFile {
                what: "a folder",
                ..
            })
        ));
        assert!(matches!(read(r, "missing"), Err(LocalPathError::Io { .. })));
        assert!(matches!(
            read(r, "sub/ok.txt/x"),
            Err(LocalPathError::Io { .. })
        ));
    }

    #[test]
    fn names_are_decoded_byte_for_byte() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let latin1 = OsStr::from_bytes(b"caf\xE9.txt");
        std::fs::write(r.join(latin1), "latin-1").unwrap();
        std::fs::write(r.join("back\\slash.txt"), "backslash").unwrap();
        std::fs::write(r.join("quote‛E9"), "a literal quote").unwrap();
        assert_eq!(read(r, "caf‛E9.txt").unwrap(), "latin-1");
        assert_eq!(read(r, "back\\slash.txt").unwrap(), "backslash");
        assert_eq!(read(r, "quote‛‛E9").unwrap(), "a literal quote");
        // Other spellings are refused, not guessed at.
        for bad in ["caf‛e9.txt", "quote‛E9", "caf‛C3‛A9.txt", "a‛2Fb"] {
            let err = read(r, bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    LocalPathError::NotEncoded(..) | LocalPathError::Io { .. }
                ),
                "{bad}: {err}"
            );
        }
        // `quote‛E9` is a fine spelling, of another name (`quote` and the byte E9).
        assert_eq!(
            read(r, "quote‛E9").unwrap_err().io_kind(),
            Some(std::io::ErrorKind::NotFound)
        );
        assert!(matches!(
            read(r, "quote‛41"),
            Err(LocalPathError::NotEncoded(..))
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        mkfifo(&r.join("pipe"));
        std::os::unix::fs::symlink("pipe", r.join("to-pipe")).unwrap();
        let started = std::time::Instant::now();
        for name in ["pipe", "to-pipe"] {
            let err = open(r, name).unwrap_err();
            assert!(
                matches!(
                    err,
                    LocalPathError::NotAFile {
                        what: "a named pipe (FIFO)",
                        ..
                    }
                ),
                "{name}: {err}"
            );
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
        let devnull = open(Path::new("/dev"), "null").unwrap_err();
        assert!(devnull.to_string().contains("a device"), "{devnull}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opens_on_an_async_worker_do_not_hold_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "alpha").unwrap();
        mkfifo(&root.path().join("pipe"));
        let mut text = String::new();
        open_async(root.path(), "a.txt")
            .await
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "alpha");
        assert!(open_async(root.path(), "pipe").await.is_err());
        // The plain `open`, called right on the worker, goes through block_in_place.
        assert!(open(root.path(), "a.txt").is_ok());
        assert!(open(root.path(), "pipe").is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn open_works_on_a_single_threaded_runtime_too() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "alpha").unwrap();
        assert!(open(root.path(), "a.txt").is_ok());
        assert!(open_async(root.path(), "a.txt").await.is_ok());
    }

    #[test]
    fn listings_show_every_name_encoded_and_in_order() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("d")).unwrap();
        std::fs::write(r.join(OsStr::from_bytes(b"caf\xE9.txt")), "12345").unwrap();
        std::fs::write(r.join("b.txt"), "b").unwrap();
        std::fs::write(r.join("B.txt"), "B").unwrap();
        std::fs::write(r.join("d/inner.txt"), "inner").unwrap();
        mkfifo(&r.join("pipe"));
        std::os::unix::fs::symlink(outside.path(), r.join("out")).unwrap();
        std::os::unix::fs::symlink("d/inner.txt", r.join("in-link")).unwrap();
        std::os::unix::fs::symlink("nowhere", r.join("dangling")).unwrap();
        std::os::unix::fs::symlink("d", r.join("d-link")).unwrap();

        let items = read_dir(r, "", None, 100).unwrap();
        let listed: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            listed,
            [
                "B.txt",
                "b.txt",
                "caf‛E9.txt",
                "d",
                "d-link",
                "dangling",
                "in-link",
                "out",
                "pipe"
            ]
        );
        let get = |n: &str| items.iter().find(|i| i.name == n).unwrap();
        assert_eq!(get("caf‛E9.txt").kind, RootItemKind::File);
        assert_eq!(get("caf‛E9.txt").size, 5);
        assert!(get("caf‛E9.txt").modified.is_some());
        assert_eq!(get("d").kind, RootItemKind::Folder);
        assert_eq!(
            (get("d-link").kind.clone(), get("d-link").symlink),
            (RootItemKind::Folder, true)
        );
        assert_eq!(
            (get("in-link").kind.clone(), get("in-link").size),
            (RootItemKind::File, 5)
        );
        let reason = |n: &str| match &get(n).kind {
            RootItemKind::Unsupported(r) => r.clone(),
            other => panic!("{n}: {other:?}"),
        };
        assert!(
            reason("out").contains("outside the root"),
            "{}",
            reason("out")
        );
        assert!(reason("dangling").contains("broken symlink"));
        assert!(reason("pipe").contains("FIFO"), "{}", reason("pipe"));

        // Paging: after a name, at most `limit`.
        let page = read_dir(r, "", Some("caf‛E9.txt"), 2).unwrap();
        let names: Vec<&str> = page.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["d", "d-link"]);
        assert!(read_dir(r, "", Some("zzz"), 10).unwrap().is_empty());

        let inner = read_dir(r, "d-link", None, 10).unwrap();
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].name, "inner.txt");
        assert!(matches!(
            read_dir(r, "b.txt", None, 10),
            Err(LocalPathError::NotAFolder(_))
        ));
        assert!(matches!(
            read_dir(r, "out", None, 10),
            Err(LocalPathError::Escapes(_))
        ));
        assert!(matches!(
            read_dir(r, "..", None, 10),
            Err(LocalPathError::NotRelative(_))
        ));

        let one = stat(r, "d/inner.txt").unwrap();
        assert_eq!((one.name.as_str(), one.size), ("inner.txt", 5));
        assert_eq!(stat(r, "caf‛E9.txt").unwrap().kind, RootItemKind::File);
        assert_eq!(
            stat(r, "missing").unwrap_err().io_kind(),
            Some(std::io::ErrorKind::NotFound)
        );
        assert!(stat(r, "dangling").is_ok_and(|i| i.symlink));
    }
}
