//! Kernel parameters: plain `name: Type` bindings and `#[constexpr]`.
//!
//! Which types are allowed is not decided here: the generated code asks
//! the runtime's `KernelArg` trait (and `ConstexprArg` for `#[constexpr]`),
//! so the compiler reports an unsupported type at the parameter, and new
//! argument types need no change to the macro.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Ident, PatType, Type};

/// One checked parameter.
pub struct KernelArg {
    /// Its name.
    pub name: Ident,
    /// `mut` on the binding, kept for the body.
    pub mutability: Option<syn::token::Mut>,
    /// The type as written.
    pub ty: Type,
    /// The `#[constexpr]` attribute's span, when the parameter has one.
    pub constexpr: Option<Span>,
}

/// The type's text without token spacing, for messages and metadata.
pub fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

/// Checks one `name: Type` parameter and its attributes.
pub fn parse_arg(pt: &PatType) -> Result<KernelArg, syn::Error> {
    let (name, mutability) = match &*pt.pat {
        syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
            (pi.ident.clone(), pi.mutability)
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "kernel parameters must be plain identifiers",
            ));
        }
    };
    let mut constexpr = None;
    let mut err: Option<syn::Error> = None;
    for a in &pt.attrs {
        if a.path().is_ident("constexpr") && matches!(a.meta, syn::Meta::Path(_)) {
            constexpr = Some(a.span());
        } else {
            super::push_err(
                &mut err,
                syn::Error::new_spanned(
                    a,
                    "unsupported parameter attribute (only `#[constexpr]` is allowed)",
                ),
            );
        }
    }
    if let Some(e) = err {
        return Err(e);
    }
    Ok(KernelArg {
        name,
        mutability,
        ty: (*pt.ty).clone(),
        constexpr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(src: &str) -> Result<KernelArg, String> {
        let f: syn::ItemFn = syn::parse_str(&format!("fn f({src}) {{}}")).unwrap();
        match f.sig.inputs.first() {
            Some(syn::FnArg::Typed(pt)) => parse_arg(pt).map_err(|e| e.to_string()),
            _ => Err("no parameter".into()),
        }
    }

    fn err(src: &str) -> String {
        arg(src).err().unwrap_or_default()
    }

    #[test]
    fn any_type_is_left_to_the_trait() {
        let a = arg("#[constexpr] mut n: usize").unwrap();
        assert_eq!(
            (a.name.to_string(), type_text(&a.ty)),
            ("n".into(), "usize".into())
        );
        assert!(a.mutability.is_some() && a.constexpr.is_some());
        let a = arg("s: Stage").unwrap();
        assert!(a.constexpr.is_none());
        assert!(arg("v: Vec<u8>").is_ok());
    }

    #[test]
    fn rejects_patterns_and_other_attributes() {
        assert!(err("(a, b): (u8, u8)").contains("plain identifiers"));
        assert!(err("#[inline] n: usize").contains("only `#[constexpr]`"));
        assert!(arg("#[constexpr(x)] n: usize").is_err());
    }
}
