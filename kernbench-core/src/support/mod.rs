//! Vocabulary every layer shares and that depends on nothing else in the
//! crate: enums named by lower-case words ([`Named`]), the text of a caught
//! panic ([`panic_message`]) and an error with its causes on one line
//! ([`error_chain`]).

mod chain;
mod named;
mod panic;

pub use chain::error_chain;
pub(crate) use named::named_str;
pub use named::{Named, UnknownName};
pub use panic::panic_message;
