//! `--param key=value` parameters of benches and catalog kernels.
//!
//! Each bench or kernel declares its parameters once, as [`ParamSpec`]s
//! (name, default, kind, meaning). [`Params::resolve`] applies the caller's
//! overrides and checks every value against its kind, so a bad value is
//! refused before any work; the bench then reads them into its own typed
//! struct with [`Params::positive`], [`Params::count`] and
//! [`Params::choice`]. `kernbench list` and every error message are
//! generated from the same specs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kernbench_core::support::Named;

/// The largest integer parameter unless its spec says otherwise: 2^20.
/// Any product of three such values, in bytes of f32, stays far inside
/// 64 bits, so a bench's size arithmetic cannot wrap; no dimension of a
/// real workload (a 128K context, a 64K-wide layer) comes near it.
pub const MAX_INT: usize = 1 << 20;

/// What values a parameter takes.
#[derive(Clone, Copy, Debug)]
pub enum ParamKind {
    /// An integer from 1 to `max`.
    Positive {
        /// The largest value accepted.
        max: usize,
    },
    /// An integer from 0 to `max`.
    Count {
        /// The largest value accepted.
        max: usize,
    },
    /// One of the names of a [`Named`] enum.
    Choice {
        /// Every valid name, comma-separated.
        names: fn() -> String,
        /// Whether a word is one of them.
        accepts: fn(&str) -> bool,
    },
}

fn is_name<T: Named>(s: &str) -> bool {
    T::from_name(s).is_ok()
}

impl ParamKind {
    /// A choice among the names of `T`.
    pub const fn choice<T: Named>() -> Self {
        ParamKind::Choice {
            names: T::names,
            accepts: is_name::<T>,
        }
    }

    /// What a value must be, as error messages and `list` say it.
    pub fn expected(self) -> String {
        match self {
            ParamKind::Positive { max } => format!("an integer from 1 to {max}"),
            ParamKind::Count { max } => format!("an integer from 0 to {max}"),
            ParamKind::Choice { names, .. } => format!("one of {}", names()),
        }
    }

    fn accepts(self, v: &str) -> bool {
        match self {
            ParamKind::Positive { max } => v.parse::<usize>().is_ok_and(|x| x > 0 && x <= max),
            ParamKind::Count { max } => v.parse::<usize>().is_ok_and(|x| x <= max),
            ParamKind::Choice { accepts, .. } => accepts(v),
        }
    }
}

/// One `key=value` parameter.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// Key.
    pub name: &'static str,
    /// Default value, as it would be written on the command line.
    pub default: &'static str,
    /// What values it takes.
    pub kind: ParamKind,
    /// One-line meaning.
    pub help: &'static str,
}

impl ParamSpec {
    /// A positive integer parameter.
    pub const fn positive(name: &'static str, default: &'static str, help: &'static str) -> Self {
        ParamSpec {
            name,
            default,
            kind: ParamKind::Positive { max: MAX_INT },
            help,
        }
    }

    /// The same integer parameter with a different largest value.
    pub const fn up_to(mut self, max: usize) -> Self {
        self.kind = match self.kind {
            ParamKind::Positive { .. } => ParamKind::Positive { max },
            ParamKind::Count { .. } => ParamKind::Count { max },
            k => k,
        };
        self
    }

    /// A non-negative integer parameter.
    pub const fn count(name: &'static str, default: &'static str, help: &'static str) -> Self {
        ParamSpec {
            name,
            default,
            kind: ParamKind::Count { max: MAX_INT },
            help,
        }
    }

    /// A parameter naming one value of `T`.
    pub const fn choice<T: Named>(
        name: &'static str,
        default: &'static str,
        help: &'static str,
    ) -> Self {
        ParamSpec {
            name,
            default,
            kind: ParamKind::choice::<T>(),
            help,
        }
    }
}

/// Why parameters could not be resolved or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The bench or kernel has no parameter of that name.
    #[error("`{owner}` has no parameter `{param}`; valid parameters: {valid}")]
    Unknown {
        /// The bench or kernel.
        owner: &'static str,
        /// The key given.
        param: String,
        /// Every `key=default`, comma-separated.
        valid: String,
    },
    /// A value that does not parse or is out of range.
    #[error("parameter `{param}`: invalid value `{value}`, expected {expected}")]
    BadValue {
        /// Key.
        param: &'static str,
        /// Given value.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// Code asked for a parameter its specs do not declare (a defect of the
    /// bench, not of the command line).
    #[error("`{owner}` reads parameter `{param}`, which it does not declare")]
    Undeclared {
        /// The bench or kernel.
        owner: &'static str,
        /// The key read.
        param: &'static str,
    },
}

/// Resolved parameters: defaults overridden by the caller's, each checked
/// against its kind.
#[derive(Debug, Clone)]
pub struct Params {
    owner: &'static str,
    specs: &'static [ParamSpec],
    values: Vec<String>,
}

impl Params {
    /// `specs`' defaults overridden by `overrides` (later keys win); `owner`
    /// names the bench or kernel in errors.
    pub fn resolve(
        owner: &'static str,
        specs: &'static [ParamSpec],
        overrides: &[(String, String)],
    ) -> Result<Params, ParamError> {
        let mut values: Vec<String> = specs.iter().map(|p| p.default.to_string()).collect();
        for (k, v) in overrides {
            match specs.iter().position(|p| p.name == k) {
                Some(i) => values[i] = v.clone(),
                None => {
                    return Err(ParamError::Unknown {
                        owner,
                        param: k.clone(),
                        valid: defaults_text(specs),
                    })
                }
            }
        }
        for (spec, v) in specs.iter().zip(&values) {
            if !spec.kind.accepts(v) {
                return Err(bad(spec, v));
            }
        }
        Ok(Params {
            owner,
            specs,
            values,
        })
    }

    /// `(key, value)` pairs in declaration order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.specs
            .iter()
            .zip(&self.values)
            .map(|(s, v)| (s.name, v.as_str()))
    }

    /// The parameters as a sorted map, as reports print them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lookup(&self, name: &'static str) -> Result<(&ParamSpec, &str), ParamError> {
        self.specs
            .iter()
            .zip(&self.values)
            .find(|(s, _)| s.name == name)
            .map(|(s, v)| (s, v.as_str()))
            .ok_or(ParamError::Undeclared {
                owner: self.owner,
                param: name,
            })
    }

    /// A positive integer parameter (at most its spec's largest value).
    pub fn positive(&self, name: &'static str) -> Result<usize, ParamError> {
        self.int(name, 1)
    }

    /// A positive integer parameter that fits in 32 bits (PE and cube
    /// counts).
    pub fn positive_u32(&self, name: &'static str) -> Result<u32, ParamError> {
        let v = self.positive(name)?;
        u32::try_from(v).map_err(|_| ParamError::BadValue {
            param: name,
            value: v.to_string(),
            expected: "a count that fits in 32 bits".into(),
        })
    }

    /// A non-negative integer parameter (at most its spec's largest value).
    pub fn count(&self, name: &'static str) -> Result<usize, ParamError> {
        self.int(name, 0)
    }

    /// An integer parameter of at least `min`, in its spec's range.
    fn int(&self, name: &'static str, min: usize) -> Result<usize, ParamError> {
        let (spec, v) = self.lookup(name)?;
        v.parse::<usize>()
            .ok()
            .filter(|&x| x >= min)
            .ok_or_else(|| bad(spec, v))
    }

    /// A parameter naming one value of `T`.
    pub fn choice<T: Named>(&self, name: &'static str) -> Result<T, ParamError> {
        let (spec, v) = self.lookup(name)?;
        T::from_name(v).map_err(|e| ParamError::BadValue {
            param: spec.name,
            value: v.to_string(),
            expected: format!("one of {}", e.valid),
        })
    }
}

fn bad(spec: &ParamSpec, v: &str) -> ParamError {
    ParamError::BadValue {
        param: spec.name,
        value: v.to_string(),
        expected: spec.kind.expected(),
    }
}

/// `key=default` for every parameter, comma-separated.
pub fn defaults_text(specs: &[ParamSpec]) -> String {
    let mut s = String::new();
    for (i, p) in specs.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(s, "{sep}{}={}", p.name, p.default);
    }
    s
}

/// The listing of one bench or kernel: its name and description, the line
/// of defaults, then one line per parameter with its meaning (integers are
/// from 1 to [`MAX_INT`] unless marked; a choice lists its names).
pub fn describe(o: &mut String, name: &str, description: &str, specs: &[ParamSpec]) {
    let _ = writeln!(o, "  {name:<16} {description}");
    if specs.is_empty() {
        return;
    }
    let _ = writeln!(o, "  {:<16} params: {}", "", defaults_text(specs));
    let width = specs.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in specs {
        let values = match p.kind {
            ParamKind::Positive { max: MAX_INT } => String::new(),
            ParamKind::Positive { max } => format!(" (1 to {max})"),
            ParamKind::Count { max } => format!(" (0 to {max})"),
            ParamKind::Choice { names, .. } => format!(": {}", names()),
        };
        let _ = writeln!(o, "  {:<16}   {:<width$}  {}{values}", "", p.name, p.help);
    }
}

/// A bench's or catalog kernel's parameters, read once into a typed struct.
pub trait ParamSet: Sized {
    /// Every parameter, in the order listings show them.
    const SPECS: &'static [ParamSpec];

    /// Reads resolved parameters (see [`Params::resolve`]) into the struct.
    fn parse(p: &Params) -> Result<Self, ParamError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernbench_core::dsl::Stage;

    const SPECS: &[ParamSpec] = &[
        ParamSpec::positive("m", "8", "rows"),
        ParamSpec::count("seg", "0", "segment"),
        ParamSpec::choice::<Stage>("staging", "tcm", "where operands go"),
    ];

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn overrides_apply_in_order_and_are_typed() {
        let p = Params::resolve("t", SPECS, &kv(&[("m", "3"), ("m", "5")])).unwrap();
        assert_eq!(p.positive("m"), Ok(5));
        assert_eq!(p.count("seg"), Ok(0));
        assert_eq!(p.choice::<Stage>("staging"), Ok(Stage::Tcm));
        let names: Vec<_> = p.pairs().map(|(k, _)| k).collect();
        assert_eq!(names, ["m", "seg", "staging"]);
    }

    #[test]
    fn bad_values_are_refused_at_resolve_with_what_is_expected() {
        let e = Params::resolve("t", SPECS, &kv(&[("m", "0")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter `m`: invalid value `0`, expected an integer from 1 to 1048576"
        );
        let e = Params::resolve("t", SPECS, &kv(&[("seg", "1048577")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter `seg`: invalid value `1048577`, expected an integer from 0 to 1048576"
        );
        let e = Params::resolve("t", SPECS, &kv(&[("staging", "l2")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameter `staging`: invalid value `l2`, expected one of hbm_ref, tcm, sram"
        );
        let e = Params::resolve("t", SPECS, &kv(&[("q", "1")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`t` has no parameter `q`; valid parameters: m=8, seg=0, staging=tcm"
        );
    }

    #[test]
    fn reading_an_undeclared_parameter_is_an_error_not_an_empty_value() {
        let p = Params::resolve("t", SPECS, &[]).unwrap();
        assert_eq!(
            p.positive("n"),
            Err(ParamError::Undeclared {
                owner: "t",
                param: "n"
            })
        );
    }
}
