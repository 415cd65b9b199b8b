//! Writing the site's files to `--out` safely.
//!
//! 1. The output folder is resolved through symbolic links (its nearest
//!    existing ancestor is canonicalised; nothing is created yet) and
//!    refused when it lies inside the registry folder, or holds it.
//! 2. An existing output folder is used only when it is empty, or when it is
//!    a site pactum wrote earlier: it holds the marker file and nothing but
//!    the files its `SHA256SUMS` lists (and folders). Anything else is
//!    refused, never taken over: an unrelated folder is not clobbered.
//! 3. The new site is written into a fresh folder beside it, made for the
//!    purpose, every file created new (`create_new`: an existing name, a
//!    link included, is never opened), files `0644`, folders `0755`.
//! 4. The fresh folder then takes the output's place by renames; a previous
//!    site is removed only after the new one is in place.
//!
//! **Invariant:** nothing outside the fresh folder is written, and the only
//! things ever removed are an empty output folder or a previous site whose
//! every file is one pactum listed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::app::AppError;

/// The file that marks a folder as a site pactum wrote.
pub const MARKER: &str = ".pactum-site";
/// The checksums file.
pub const SUMS: &str = "SHA256SUMS";

fn io(what: &str, path: &Path, e: std::io::Error) -> AppError {
    AppError::Other(format!("{what} {}: {e}", path.display()))
}

/// What state the output folder is in before writing.
enum Existing {
    Absent,
    Empty,
    PreviousSite,
}

/// The output folder resolved through links, without creating anything:
/// its nearest existing ancestor canonicalised, the rest of its path kept
/// (`..` and `.` refused there).
fn resolve_out(out: &Path) -> Result<PathBuf, AppError> {
    let bad = || {
        AppError::invalid_with(
            format!("--out {} does not name a folder", out.display()),
            "give a folder's path, for example --out site",
        )
    };
    if !matches!(out.components().next_back(), Some(Component::Normal(_))) {
        return Err(bad());
    }
    let absolute = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| io("cannot resolve", out, e))?
            .join(out)
    };
    let mut existing = absolute.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    // Climb to the nearest existing ancestor. `--out` itself, when it is a
    // link, is not followed: its parent is resolved and its name kept (so
    // that the link is seen, and refused, as what `--out` names).
    loop {
        let found = fs::symlink_metadata(existing).is_ok();
        if found && (!rest.is_empty() || !is_link(existing)) {
            break;
        }
        rest.push(existing.file_name().ok_or_else(bad)?);
        existing = existing.parent().ok_or_else(bad)?;
    }
    let mut resolved = existing
        .canonicalize()
        .map_err(|e| io("cannot resolve", existing, e))?;
    for part in rest.into_iter().rev() {
        if part == ".." || part == "." {
            return Err(bad());
        }
        resolved.push(part);
    }
    Ok(resolved)
}

fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Lists the files under `dir`, relative, refusing links.
fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) -> Result<(), AppError> {
    for entry in fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))? {
        let entry = entry.map_err(|e| io("cannot read", dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io("cannot read", &path, e))?;
        if kind.is_dir() {
            files_under(&path, base, out)?;
        } else if kind.is_file() {
            let rel = path.strip_prefix(base).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        } else {
            return Err(not_a_site(
                base,
                &format!("{} is not a plain file", path.display()),
            ));
        }
    }
    Ok(())
}

fn not_a_site(out: &Path, why: &str) -> AppError {
    AppError::invalid_with(
        format!(
            "{} is not empty and is not a site pactum wrote: {why}",
            out.display()
        ),
        "give a new or empty folder to --out (pactum replaces only a site it wrote itself)",
    )
}

fn existing(out: &Path) -> Result<Existing, AppError> {
    let meta = match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(io("cannot read", out, e)),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(AppError::invalid_with(
            format!("--out {} is a symbolic link", out.display()),
            "give the folder itself, not a link to it",
        ));
    }
    if !meta.is_dir() {
        return Err(AppError::invalid(format!(
            "--out {} exists and is not a folder",
            out.display()
        )));
    }
    let mut files = Vec::new();
    files_under(out, out, &mut files)?;
    let any_entry = fs::read_dir(out)
        .map_err(|e| io("cannot read", out, e))?
        .next()
        .is_some();
    if !any_entry {
        return Ok(Existing::Empty);
    }
    if !files.iter().any(|f| f == MARKER) {
        return Err(not_a_site(out, &format!("it has no {MARKER} file")));
    }
    let sums = fs::read_to_string(out.join(SUMS))
        .map_err(|_| not_a_site(out, &format!("it has no readable {SUMS}")))?;
    let listed: Vec<&str> = sums
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(_, p)| p))
        .collect();
    if let Some(stranger) = files
        .iter()
        .find(|f| f.as_str() != SUMS && !listed.contains(&f.as_str()))
    {
        return Err(not_a_site(
            out,
            &format!("it holds {stranger}, which pactum did not write"),
        ));
    }
    Ok(Existing::PreviousSite)
}

/// Creates a new file (never opening an existing name), `0644`.
fn create_file(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    let mut file = options
        .open(path)
        .map_err(|e| io("cannot create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| io("cannot write", path, e))?;
    file.flush().map_err(|e| io("cannot write", path, e))
}

/// Creates a new folder, `0755`.
fn create_dir(path: &Path) -> Result<(), AppError> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o755);
    }
    builder
        .create(path)
        .map_err(|e| io("cannot create", path, e))
}

/// Writes `files` (relative paths with `/`, sorted) as the site at `out`,
/// refusing an output inside `registry`. Returns the resolved output.
pub fn write_site(
    out: &Path,
    registry: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<PathBuf, AppError> {
    let out = resolve_out(out)?;
    let registry = registry
        .canonicalize()
        .map_err(|e| io("cannot resolve", registry, e))?;
    if out.starts_with(&registry) || registry.starts_with(&out) {
        return Err(AppError::invalid_with(
            format!(
                "--out {} is inside the registry folder {} (or holds it)",
                out.display(),
                registry.display()
            ),
            "publish to a folder apart from the registry's",
        ));
    }
    let state = existing(&out)?;
    let parent = out.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| io("cannot make", parent, e))?;
    let fresh = tempfile::Builder::new()
        .prefix(".pactum-site-new-")
        .tempdir_in(parent)
        .map_err(|e| io("cannot make a folder in", parent, e))?;
    for (rel, bytes) in files {
        let mut path = fresh.path().to_path_buf();
        let parts: Vec<&str> = rel.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() || *part == "." || *part == ".." {
                return Err(AppError::Other(format!(
                    "a site file has a bad name: {rel}"
                )));
            }
            path.push(part);
            if i + 1 < parts.len() && !path.is_dir() {
                create_dir(&path)?;
            }
        }
        create_file(&path, bytes)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(fresh.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| io("cannot set the permissions of", fresh.path(), e))?;
    }
    let fresh = fresh.keep();
    match state {
        Existing::Absent => {}
        Existing::Empty => fs::remove_dir(&out).map_err(|e| io("cannot replace", &out, e))?,
        Existing::PreviousSite => {
            let old = tempfile::Builder::new()
                .prefix(".pactum-site-old-")
                .tempdir_in(parent)
                .map_err(|e| io("cannot make a folder in", parent, e))?
                .keep();
            let old = old.join("site");
            fs::rename(&out, &old).map_err(|e| io("cannot move aside", &out, e))?;
            fs::rename(&fresh, &out).map_err(|e| io("cannot move into place", &out, e))?;
            if let Some(holder) = old.parent() {
                fs::remove_dir_all(holder).map_err(|e| io("cannot remove", holder, e))?;
            }
            return Ok(out);
        }
    }
    fs::rename(&fresh, &out).map_err(|e| io("cannot move into place", &out, e))?;
    Ok(out)
}
