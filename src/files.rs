//! Output files, written whole: into a temporary file beside the
//! destination, then renamed over it, so an interrupted run never leaves a
//! truncated file behind. Shared by `kernbench run --trace` and the
//! milestone outputs.
//!
//! - A destination that exists must be a regular file; a device, FIFO,
//!   socket or directory is refused before any work.
//! - A symbolic link is followed: the file it points to is replaced and
//!   the link stays (as a shell's `>` would write through it).
//! - Temporaries are removed when a write fails and, once
//!   [`remove_temporaries_on_signal`] is installed, on SIGINT / SIGTERM.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// Temporaries being written now, removed if the process is interrupted.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Most symbolic links followed from a destination (as the kernel's
/// `MAXSYMLINKS`): a longer chain is a loop.
const MAX_LINKS: usize = 40;

/// On SIGINT or SIGTERM (Ctrl-C, `kill`): removes the temporaries being
/// written, says so on stderr and exits with status 130. Installed once by
/// each binary's `main`; a second call is a no-op.
pub fn remove_temporaries_on_signal() {
    // An error means a handler is already installed; either way one is.
    let _ = ctrlc::set_handler(|| {
        let pending = temporaries();
        for tmp in pending.iter() {
            let _ = std::fs::remove_file(tmp);
        }
        eprintln!("error: interrupted");
        // The lock is held until exit, so no new temporary appears.
        std::process::exit(130);
    });
}

/// Writes `bytes` to `path` whole (see the module docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dest = destination(path)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(dest.file_name().unwrap_or_default());
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dest.with_file_name(tmp_name);
    track(&tmp, true);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, &dest));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    track(&tmp, false);
    written.map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks, before any work, that `path` names a regular file (or none yet)
/// in an existing directory, through any symbolic links.
pub fn check_writable(path: &Path) -> Result<(), FileError> {
    destination(path).map(|_| ())
}

/// The temporaries being written (a panic elsewhere while holding the
/// lock leaves the list usable).
fn temporaries() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn track(tmp: &Path, on: bool) {
    let mut pending = temporaries();
    if on {
        pending.push(tmp.to_path_buf());
    } else {
        pending.retain(|p| p != tmp);
    }
}

/// The file a write to `path` replaces: `path` with its symbolic links
/// followed, checked to be a regular file or absent, in a directory.
fn destination(path: &Path) -> Result<PathBuf, FileError> {
    let bad = |why| FileError::BadPath {
        path: path.to_path_buf(),
        why,
    };
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    // "out/x.json/" and "out/x.json/." name a directory, though
    // `file_name` ignores the slash and the dot.
    let text = path.as_os_str().to_string_lossy();
    if path.file_name().is_none() || text.ends_with('/') || text.ends_with("/.") {
        return Err(bad("not a file name"));
    }
    // The process's own streams and devices: `/dev/stdout` may even be a
    // regular file (a shell redirection), which a rename would unlink.
    if text.starts_with("/dev/") || text.starts_with("/proc/") {
        return Err(bad("a device or process path, not a file"));
    }
    // What exists there, through every link.
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(bad("it is a directory")),
        Ok(m) if !m.is_file() => return Err(bad("not a regular file (a device, FIFO or socket)")),
        Ok(_) => return std::fs::canonicalize(path).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    // Nothing there yet: the file to create, through any dangling links.
    let mut dest = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&dest) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&dest).map_err(io)?;
                // A relative target is relative to the link's directory.
                dest = match dest.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {
                return match dest.parent() {
                    _ if dest.file_name().is_none() => Err(bad("not a file name")),
                    Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => {
                        Err(bad("no such directory"))
                    }
                    _ => Ok(dest),
                }
            }
        }
    }
    Err(bad("too many levels of symbolic links"))
}
