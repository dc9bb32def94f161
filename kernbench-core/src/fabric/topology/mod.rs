//! The machine description: `topology.yaml` parsed with serde, then validated
//! so that every later stage can trust its numbers.
//!
//! Errors name the offending key and, where it can be found, the line.

mod config;
mod locate;
mod validate;

use std::path::{Path, PathBuf};

pub use config::*;
pub use validate::MAX_MACHINE_UNITS;

/// The default topology, the one at the workspace root; tests and examples
/// use it without touching the file system.
pub const DEFAULT_TOPOLOGY_YAML: &str = include_str!("../../../../topology.yaml");

/// The most bytes a topology file may hold: a machine description is a few
/// KB; anything past a megabyte is the wrong file.
pub const MAX_TOPOLOGY_BYTES: u64 = 1 << 20;

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read topology {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read topology {}: larger than {MAX_TOPOLOGY_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        origin: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{origin}{}: `{key}` {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        origin: String,
        line: Option<usize>,
        key: String,
        message: String,
    },
}

impl TopologyError {
    /// The dotted key the error is about, when it is about one value.
    pub fn key(&self) -> Option<&str> {
        match self {
            TopologyError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl Topology {
    /// Reads and validates a topology file. At most [`MAX_TOPOLOGY_BYTES`]
    /// are read, so a device or a huge file fails at once.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TopologyError> {
        use std::io::Read as _;
        let path = path.as_ref();
        let io = |source| TopologyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_TOPOLOGY_BYTES + 1).read_to_string(&mut text))
            .map_err(io)?;
        if text.len() as u64 > MAX_TOPOLOGY_BYTES {
            return Err(TopologyError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates topology text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, TopologyError> {
        if let Some(line) = too_deep(text) {
            return Err(TopologyError::Parse {
                origin: origin.to_string(),
                line: Some(line),
                message: format!("more than {MAX_BRACKETS} brackets"),
            });
        }
        let topo: Topology = serde_yaml::from_str(text).map_err(|e| TopologyError::Parse {
            origin: origin.to_string(),
            line: e.location().map(|l| l.line()),
            // serde_yaml appends "at line L column C"; the line is in the prefix.
            message: strip_location(&e.to_string()),
        })?;
        topo.validate().map_err(|v| TopologyError::Invalid {
            origin: origin.to_string(),
            line: locate::line_of(text, &v.key),
            key: v.key,
            message: v.message,
        })?;
        Ok(topo)
    }

    /// The built-in default topology (the workspace's `topology.yaml`).
    pub fn default_topology() -> Self {
        match Self::parse(DEFAULT_TOPOLOGY_YAML, "topology.yaml") {
            Ok(t) => t,
            // The file is compiled in and covered by tests; failing here is a
            // build defect, not user input.
            Err(e) => panic!("built-in topology.yaml is invalid: {e}"),
        }
    }

    /// Total cubes per SIP.
    pub fn cubes_per_sip(&self) -> u32 {
        self.system.cube_mesh.x * self.system.cube_mesh.y
    }
}

/// Most flow brackets (`[`, `{`) a topology may hold: the file needs one
/// pair, and a machine written all in flow style a few dozen. The YAML
/// parser's time grows with the square of the nesting depth, so a
/// megabyte of brackets would take minutes; counting every bracket
/// (quoted, commented or not) bounds the depth whatever the quoting.
const MAX_BRACKETS: usize = 256;

/// The line of the bracket past [`MAX_BRACKETS`], if there is one.
fn too_deep(text: &str) -> Option<usize> {
    let mut seen = 0usize;
    for (i, line) in text.lines().enumerate() {
        seen += line.bytes().filter(|&b| b == b'[' || b == b'{').count();
        if seen > MAX_BRACKETS {
            return Some(i + 1);
        }
    }
    None
}

fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
