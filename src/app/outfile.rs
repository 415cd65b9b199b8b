//! Files a command writes outside the registry (an export, a key, a site):
//! every one goes through [`OutputFile`], so that none can land inside the
//! registry folder and a failed write never costs the file it replaces.
//!
//! The rules, in order:
//! 1. The path is resolved before anything is written: its folder through
//!    every symbolic link and `..`, then the file's own name. The name must
//!    be a plain file name (not `.`, `..` or empty).
//! 2. The resolved path must not be inside a protected folder (the
//!    registry's), compared by device and inode on every ancestor, so a
//!    link, a `..` trick, a bind mount or another spelling of the folder is
//!    caught as surely as the path itself; nor may it be the folder itself.
//! 3. An existing target that is a symbolic link is refused: writing
//!    through it would write where the link points, which the user did not
//!    name; replacing it would silently turn a link into a file. Name the
//!    file it points to instead. An existing folder is refused too.
//! 4. The content goes to a new temporary file beside the target (same
//!    folder, so the rename is atomic), which is synced and then renamed
//!    over the target ([`OutputFile::commit`]); the folder is synced after.
//!    Until then the old file is untouched; a write that fails or is
//!    abandoned removes the temporary file and leaves the old one whole.
//! 5. A new file gets the permissions the umask allows (`0666 & !umask`),
//!    or those given ([`OutputFile::create_private`]: `0600`); a file that
//!    replaces another keeps the permission bits of the one it replaces.

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::AppError;

/// A file being written; it appears at its path only on [`commit`](Self::commit).
pub struct OutputFile {
    target: PathBuf,
    temp: BufWriter<tempfile::NamedTempFile>,
}

fn cannot(path: &Path, what: impl std::fmt::Display) -> AppError {
    AppError::invalid(format!(
        "cannot write {}: {what}",
        crate::domain::text::escape_for_terminal(&path.display().to_string())
    ))
}

/// The path with its folder resolved (links, `.` and `..`), its own name
/// kept as given.
fn resolve(target: &Path) -> Result<PathBuf, AppError> {
    let name = match target.components().next_back() {
        Some(Component::Normal(name)) => name.to_owned(),
        _ => return Err(cannot(target, "it does not end in a file name")),
    };
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = parent.canonicalize().map_err(|e| {
        cannot(
            target,
            format!("its folder {} cannot be used ({e})", parent.display()),
        )
    })?;
    Ok(parent.join(name))
}

/// True when `path` (resolved) is `folder` or inside it.
fn inside(path: &Path, folder: &Path) -> bool {
    let Ok(folder_meta) = std::fs::metadata(folder) else {
        return false;
    };
    let same = |p: &Path| {
        std::fs::metadata(p)
            .is_ok_and(|m| m.dev() == folder_meta.dev() && m.ino() == folder_meta.ino())
    };
    // the path itself may not exist yet; every ancestor does
    let canonical_folder = folder.canonicalize().ok();
    path.ancestors().any(|a| {
        same(a)
            || canonical_folder
                .as_deref()
                .is_some_and(|f| a == f || a.starts_with(f))
    })
}

impl OutputFile {
    /// Starts writing `target`, which must not be inside any of `protected`
    /// (folders), nor a symbolic link or a folder.
    pub fn create(target: &Path, protected: &[&Path]) -> Result<Self, AppError> {
        Self::create_with(target, protected, None)
    }

    /// As [`OutputFile::create`], for a secret: the file is `0600` whatever
    /// the umask or the file it replaces.
    pub fn create_private(target: &Path, protected: &[&Path]) -> Result<Self, AppError> {
        Self::create_with(target, protected, Some(0o600))
    }

    /// The target resolved (rules 1 and 2): refused when it lies inside any
    /// of `protected`. For a file that must be new (a key), which its caller
    /// creates itself without replacing anything.
    pub fn outside(target: &Path, protected: &[&Path]) -> Result<PathBuf, AppError> {
        let resolved = resolve(target)?;
        for folder in protected {
            if inside(&resolved, folder) {
                return Err(AppError::invalid_with(
                    format!(
                        "cannot write {}: it is inside the registry folder {}",
                        crate::domain::text::escape_for_terminal(&target.display().to_string()),
                        crate::domain::text::escape_for_terminal(&folder.display().to_string())
                    ),
                    "write the file somewhere outside the registry folder",
                ));
            }
        }
        Ok(resolved)
    }

    fn create_with(
        target: &Path,
        protected: &[&Path],
        mode: Option<u32>,
    ) -> Result<Self, AppError> {
        let resolved = Self::outside(target, protected)?;
        let existing = match std::fs::symlink_metadata(&resolved) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(cannot(target, e)),
        };
        let keep_mode = match &existing {
            Some(m) if m.file_type().is_symlink() => {
                return Err(AppError::invalid_with(
                    format!(
                        "cannot write {}: it is a symbolic link",
                        crate::domain::text::escape_for_terminal(&target.display().to_string())
                    ),
                    "name the file the link points to, or another path",
                ));
            }
            Some(m) if m.is_dir() => return Err(cannot(target, "it is a folder")),
            Some(m) if !m.is_file() => return Err(cannot(target, "it is not a regular file")),
            Some(m) => Some(m.mode() & 0o7777),
            None => None,
        };
        let folder = resolved.parent().unwrap_or(Path::new("/"));
        let name = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(Permissions::from_mode(mode.unwrap_or(0o666)))
            .tempfile_in(folder)
            .map_err(|e| cannot(target, e))?;
        let wanted = mode.or(keep_mode);
        if let Some(bits) = wanted {
            temp.as_file()
                .set_permissions(Permissions::from_mode(bits))
                .map_err(|e| cannot(target, e))?;
        }
        Ok(Self {
            target: resolved,
            temp: BufWriter::new(temp),
        })
    }

    /// Where the file will be.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Makes the file durable and puts it at its path, replacing what was
    /// there in one rename.
    pub fn commit(self) -> Result<(), AppError> {
        let target = self.target;
        let failed = |e: &dyn std::fmt::Display| {
            AppError::Other(format!(
                "writing {}: {e} (any file that was there is unchanged)",
                crate::domain::text::escape_for_terminal(&target.display().to_string())
            ))
        };
        let temp = self.temp.into_inner().map_err(|e| failed(e.error()))?;
        temp.as_file().sync_all().map_err(|e| failed(&e))?;
        temp.persist(&target).map_err(|e| failed(&e.error))?;
        if let Some(folder) = target.parent() {
            File::open(folder)
                .and_then(|d| d.sync_all())
                .map_err(|e| failed(&e))?;
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}
