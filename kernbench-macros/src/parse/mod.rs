//! Parsing and checking a `#[kernel]` function into a [`KernelDef`].
//!
//! Every problem becomes a `syn::Error` at the offending span; all of them
//! are collected so one compile shows every mistake.

mod arg;
mod signature;

use proc_macro2::TokenStream;
use syn::{Attribute, Block, Ident, ItemFn, Visibility};

pub use arg::{type_text, KernelArg};

/// A checked kernel function.
pub struct KernelDef {
    /// Visibility of the function, given to the generated items.
    pub vis: Visibility,
    /// The function's name (the kernel's name).
    pub name: Ident,
    /// `///` docs, moved to the kernel type.
    pub docs: Vec<Attribute>,
    /// `cfg`/lint attributes, copied to every generated item.
    pub passthrough: Vec<Attribute>,
    /// Parameters in order.
    pub args: Vec<KernelArg>,
    /// The body, untouched.
    pub body: Block,
}

/// Adds `e` to the accumulated error.
pub(crate) fn push_err(acc: &mut Option<syn::Error>, e: syn::Error) {
    match acc {
        Some(a) => a.combine(e),
        None => *acc = Some(e),
    }
}

/// Parses `#[kernel(attr)] item`. On error also returns the parsed
/// function (when it parsed) so the caller can re-emit it.
pub fn parse_kernel(
    attr: TokenStream,
    item: TokenStream,
) -> Result<KernelDef, (syn::Error, Option<Box<ItemFn>>)> {
    let func: ItemFn = syn::parse2(item).map_err(|e| (e, None))?;
    let mut err = None;
    if !attr.is_empty() {
        push_err(
            &mut err,
            syn::Error::new_spanned(&attr, "`#[kernel]` takes no arguments"),
        );
    }
    signature::check(&func.sig, &mut err);
    let (docs, passthrough) = signature::split_attrs(&func.attrs, &mut err);
    let mut args = Vec::new();
    for input in &func.sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => push_err(
                &mut err,
                syn::Error::new_spanned(r, "a kernel is a free function: `self` is not allowed"),
            ),
            syn::FnArg::Typed(pt) => match arg::parse_arg(pt) {
                Ok(a) => args.push(a),
                Err(e) => push_err(&mut err, e),
            },
        }
    }
    match err {
        Some(e) => Err((e, Some(Box::new(func)))),
        None => Ok(KernelDef {
            vis: func.vis,
            name: func.sig.ident,
            docs,
            passthrough,
            args,
            body: *func.block,
        }),
    }
}
