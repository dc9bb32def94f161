//! An error and its causes as one line.

use std::error::Error;

/// `error: cause: cause's cause ...`: the error's message followed by each
/// source's, for a one-line report. A source whose text the message already
/// carries is not repeated.
///
/// ```
/// use kernbench_core::support::error_chain;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("launch failed")]
/// struct Outer(#[source] std::fmt::Error);
///
/// assert_eq!(error_chain(&Outer(std::fmt::Error)), "launch failed: an error occurred when formatting an argument");
/// ```
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cur = s.source();
    }
    line
}
