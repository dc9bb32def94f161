//! Vocabulary every layer shares and that depends on nothing else in the
//! crate: enums named by lower-case words ([`Named`]) and the text of a
//! caught panic ([`panic_message`]).

mod named;
mod panic;

pub(crate) use named::named_str;
pub use named::{Named, UnknownName};
pub use panic::panic_message;
