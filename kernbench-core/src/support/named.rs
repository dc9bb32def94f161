//! Enums with a fixed set of lower-case names, parsed and printed by name.

use std::fmt::Write as _;

/// An enum whose values are named by stable lower-case words: what a
/// parameter, a topology key or a report spells. Parsing an unknown word
/// gives an [`UnknownName`] that lists the valid ones.
///
/// ```
/// use kernbench_core::support::Named;
/// use kernbench_core::dsl::Stage;
///
/// assert_eq!(Stage::from_name("sram"), Ok(Stage::Sram));
/// assert_eq!("hbm_ref".parse::<Stage>(), Ok(Stage::HbmRef));
/// let e = Stage::from_name("l2").unwrap_err();
/// assert_eq!(e.to_string(), "unknown staging `l2`; valid: hbm_ref, tcm, sram");
/// ```
pub trait Named: Copy + Sized + 'static {
    /// What the names name, as an error message says it (`staging`,
    /// `ring kind`).
    const WHAT: &'static str;
    /// Every value, in the order listings show them.
    const ALL: &'static [Self];

    /// The value's name.
    fn name(self) -> &'static str;

    /// The value called `name`, or an error listing every valid name.
    fn from_name(name: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| UnknownName {
                what: Self::WHAT,
                got: name.to_string(),
                valid: Self::names(),
            })
    }

    /// Every valid name, comma-separated, in [`Self::ALL`] order.
    fn names() -> String {
        let mut s = String::new();
        for (i, v) in Self::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(s, "{sep}{}", v.name());
        }
        s
    }
}

/// A name that is not one of a [`Named`] enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{got}`; valid: {valid}")]
pub struct UnknownName {
    /// What was being named ([`Named::WHAT`]).
    pub what: &'static str,
    /// The word given.
    pub got: String,
    /// Every valid name, comma-separated.
    pub valid: String,
}

/// Implements `FromStr` and `Display` through [`Named`], so `"tcm".parse()`
/// and `format!("{stage}")` use the same words as everything else.
macro_rules! named_str {
    ($t:ty) => {
        impl ::std::str::FromStr for $t {
            type Err = $crate::support::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t as $crate::support::Named>::from_name(s)
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::support::Named::name(*self))
            }
        }
    };
}
pub(crate) use named_str;
