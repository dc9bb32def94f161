//! A domain's output files: JSON written the same way everywhere, CSV
//! lines, and reading back what a run wrote.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MilestoneError;

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// Every file, in the order written.
    pub files: Vec<PathBuf>,
    /// Sweep points run (0 when figures were re-rendered only).
    pub points: usize,
}

/// `value` as pretty JSON with a final newline: the one format of every
/// JSON file the milestones write.
pub fn json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, MilestoneError> {
    let mut v = serde_json::to_vec_pretty(value).map_err(MilestoneError::Json)?;
    v.push(b'\n');
    Ok(v)
}

/// Reads a JSON file a run wrote.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, MilestoneError> {
    let text = std::fs::read(path).map_err(|source| MilestoneError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|e| MilestoneError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Files written whole into one folder, in the order written.
#[derive(Debug)]
pub struct Outputs {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Outputs {
    pub fn new(dir: &Path) -> Self {
        Outputs {
            dir: dir.to_path_buf(),
            files: Vec::new(),
        }
    }

    /// Writes `bytes` as `name` in the folder.
    pub fn save(&mut self, name: &str, bytes: &[u8]) -> Result<(), MilestoneError> {
        let path = self.dir.join(name);
        write_file(&path, bytes)?;
        self.files.push(path);
        Ok(())
    }

    pub fn into_files(self) -> Vec<PathBuf> {
        self.files
    }
}

/// Writes a file whole.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), MilestoneError> {
    Ok(crate::files::write_atomic(path, bytes)?)
}

/// Creates the output directory and checks, before any point runs, that
/// every file already in it can be replaced: a device or FIFO where an
/// output would go is refused now, not after the sweep.
pub fn make_dir(dir: &Path) -> Result<(), MilestoneError> {
    let read = |source| MilestoneError::Read {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(read)?;
    // Outputs are files; a subfolder is not where one goes.
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if !path.is_dir() {
            crate::files::check_writable(&path)?;
        }
    }
    Ok(())
}

/// A CSV document: a header and one line per row; fields never hold a
/// comma or a quote (names and numbers only).
#[derive(Debug, Clone, Default)]
pub struct Csv {
    text: String,
}

impl Csv {
    pub fn new(header: &[&str]) -> Self {
        let mut text = header.join(",");
        text.push('\n');
        Csv { text }
    }

    pub fn row(&mut self, fields: &[String]) {
        self.text.push_str(&fields.join(","));
        self.text.push('\n');
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.text.into_bytes()
    }
}

/// A number as CSV writes it: the shortest form that reads back exactly.
pub fn num(v: f64) -> String {
    format!("{v}")
}
