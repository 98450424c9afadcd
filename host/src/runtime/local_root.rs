//! Resolving a `local-file` fetch plan to a host path, without ever leaving the granted root.

use std::path::{Component, Path, PathBuf};

/// A local-file fetch plan that cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum LocalPathError {
    /// The path is absolute or climbs out with `..`.
    #[error("`{0}` is not a plain relative path; a provider may only name files inside its root")]
    NotRelative(String),
    /// The path leads outside the root (through a symlink).
    #[error("`{0}` leads outside the granted root (through a symlink); refusing to read it")]
    Escapes(String),
    /// The file is missing or unreadable.
    #[error("`{path}` cannot be read: {source}")]
    Io {
        /// The relative path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("`{0}` is not a regular file")]
    NotAFile(String),
}

fn check_relative(relative: &str) -> Result<&Path, LocalPathError> {
    let rel = Path::new(relative);
    let plain = !relative.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !plain {
        return Err(LocalPathError::NotRelative(relative.to_string()));
    }
    Ok(rel)
}

/// The host path of `relative` inside `root`, after checking that it really is inside
/// (symlinks resolved) and is a regular file. Prefer [`open`] when the file will be read: a
/// path checked now may be swapped for a symlink before it is opened.
pub fn resolve(root: &Path, relative: &str) -> Result<PathBuf, LocalPathError> {
    let rel = check_relative(relative)?;
    let io = |source| LocalPathError::Io {
        path: relative.to_string(),
        source,
    };
    let root = root.canonicalize().map_err(io)?;
    let full = root.join(rel).canonicalize().map_err(io)?;
    if !full.starts_with(&root) {
        return Err(LocalPathError::Escapes(relative.to_string()));
    }
    if !full.metadata().map_err(io)?.is_file() {
        return Err(LocalPathError::NotAFile(relative.to_string()));
    }
    Ok(full)
}

/// Open `relative` inside `root` for reading. The check is made on the file actually opened
/// (its path as the kernel reports it), so swapping a component for a symlink between a check
/// and the open cannot lead outside the root.
pub fn open(root: &Path, relative: &str) -> Result<std::fs::File, LocalPathError> {
    let rel = check_relative(relative)?;
    let io = |source| LocalPathError::Io {
        path: relative.to_string(),
        source,
    };
    let root = root.canonicalize().map_err(io)?;
    let file = std::fs::File::open(root.join(rel)).map_err(io)?;
    let real = opened_path(&file, &root.join(rel)).map_err(io)?;
    if !real.starts_with(&root) {
        return Err(LocalPathError::Escapes(relative.to_string()));
    }
    if !file.metadata().map_err(io)?.is_file() {
        return Err(LocalPathError::NotAFile(relative.to_string()));
    }
    Ok(file)
}

#[cfg(target_os = "linux")]
fn opened_path(file: &std::fs::File, _path: &Path) -> std::io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

#[cfg(not(target_os = "linux"))]
fn opened_path(_file: &std::fs::File, path: &Path) -> std::io::Result<PathBuf> {
    path.canonicalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/ok.txt"), "ok").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.path().join("link"))
            .unwrap();
        std::os::unix::fs::symlink("ok.txt", root.path().join("sub/inner-link")).unwrap();

        assert!(
            resolve(root.path(), "sub/ok.txt")
                .unwrap()
                .ends_with("sub/ok.txt")
        );
        assert!(
            resolve(root.path(), "sub/inner-link")
                .unwrap()
                .ends_with("sub/ok.txt")
        );
        assert!(matches!(
            resolve(root.path(), "link"),
            Err(LocalPathError::Escapes(_))
        ));
        assert!(matches!(
            resolve(root.path(), "../x"),
            Err(LocalPathError::NotRelative(_))
        ));
        assert!(matches!(
            resolve(root.path(), "/etc/passwd"),
            Err(LocalPathError::NotRelative(_))
        ));
        assert!(matches!(
            resolve(root.path(), "sub"),
            Err(LocalPathError::NotAFile(_))
        ));
        assert!(matches!(
            resolve(root.path(), "missing"),
            Err(LocalPathError::Io { .. })
        ));

        use std::io::Read;
        let mut text = String::new();
        open(root.path(), "sub/inner-link")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "ok");
        assert!(matches!(
            open(root.path(), "link"),
            Err(LocalPathError::Escapes(_))
        ));
        assert!(matches!(
            open(root.path(), "../x"),
            Err(LocalPathError::NotRelative(_))
        ));
        assert!(matches!(
            open(root.path(), "sub"),
            Err(LocalPathError::NotAFile(_))
        ));
    }
}
