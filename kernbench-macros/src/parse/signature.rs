//! Checks on the function signature and attributes.

use syn::{Attribute, ReturnType, Signature};

use super::push_err;

/// Rejects what a traced kernel cannot be: const, async, unsafe, extern,
/// generic, variadic, or returning a value.
pub fn check(sig: &Signature, err: &mut Option<syn::Error>) {
    let mut bad =
        |span: &dyn quote::ToTokens, msg: &str| push_err(err, syn::Error::new_spanned(span, msg));
    if let Some(t) = &sig.constness {
        bad(
            t,
            "a kernel cannot be a `const fn`: it is traced at run time",
        );
    }
    if let Some(t) = &sig.asyncness {
        bad(
            t,
            "a kernel cannot be `async`: it is traced into a command stream, not awaited",
        );
    }
    if let Some(t) = &sig.unsafety {
        bad(t, "a kernel cannot be `unsafe`");
    }
    if let Some(t) = &sig.abi {
        bad(t, "a kernel cannot have an `extern` ABI");
    }
    if !sig.generics.params.is_empty() {
        bad(
            &sig.generics,
            "a kernel cannot be generic: use `#[constexpr]` parameters for values fixed at trace time",
        );
    } else if let Some(w) = &sig.generics.where_clause {
        bad(w, "a kernel cannot have a `where` clause");
    }
    if let Some(v) = &sig.variadic {
        bad(v, "a kernel cannot be variadic");
    }
    if let ReturnType::Type(arrow, ty) = &sig.output {
        let span = quote::quote!(#arrow #ty);
        bad(
            &span,
            "a kernel cannot return a value: write results to memory with `tl::store`",
        );
    }
}

const PASSTHROUGH: &[&str] = &[
    "cfg", "cfg_attr", "allow", "warn", "deny", "expect", "forbid",
];

/// Splits the function's attributes into docs and attributes copied to
/// every generated item; anything else is rejected.
/// `#[rustfmt::skip]`, `#[clippy::...]`: tool attributes rustc ignores,
/// kept on the generated items.
fn is_tool_attr(a: &Attribute) -> bool {
    let segs = &a.path().segments;
    segs.len() == 2
        && segs
            .first()
            .is_some_and(|s| s.ident == "rustfmt" || s.ident == "clippy")
}

pub fn split_attrs(
    attrs: &[Attribute],
    err: &mut Option<syn::Error>,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let (mut docs, mut pass) = (Vec::new(), Vec::new());
    for a in attrs {
        if a.path().is_ident("doc") {
            docs.push(a.clone());
        } else if PASSTHROUGH.iter().any(|p| a.path().is_ident(p)) || is_tool_attr(a) {
            pass.push(a.clone());
        } else {
            push_err(
                err,
                syn::Error::new_spanned(
                    a,
                    "unsupported attribute on a `#[kernel]` function (allowed: docs, cfg, lint and `rustfmt::`/`clippy::` tool attributes)",
                ),
            );
        }
    }
    (docs, pass)
}
