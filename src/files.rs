//! Output files, written whole: into a temporary file beside the
//! destination, then renamed over it, so an interrupted run never leaves a
//! truncated file behind. Shared by `kernbench run --trace` and the
//! milestone outputs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path cannot name an output file.
    #[error("cannot write {}: {why}", path.display())]
    BadPath { path: PathBuf, why: &'static str },
    /// The file system refused.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path` whole (see the module docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    check_writable(path)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(FileError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// Checks, before any work, that `path` names a file in an existing directory.
pub fn check_writable(path: &Path) -> Result<(), FileError> {
    let bad = |why| FileError::BadPath {
        path: path.to_path_buf(),
        why,
    };
    if path.file_name().is_none() || path.is_dir() {
        return Err(bad("not a file name"));
    }
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(bad("no such directory")),
        _ => Ok(()),
    }
}
