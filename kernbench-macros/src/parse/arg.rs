//! Kernel parameters: supported types and `#[constexpr]`.

use quote::ToTokens;
use syn::{GenericArgument, Ident, PatType, PathArguments, Type};

/// What a parameter is, as far as the runtime cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `Ptr<f16>`.
    PtrF16,
    /// `Ptr<f32>`.
    PtrF32,
    /// An integer type.
    Int,
    /// `bool`.
    Bool,
    /// `f32`.
    F32,
}

/// One checked parameter.
pub struct KernelArg {
    /// Its name.
    pub name: Ident,
    /// `mut` on the binding, kept for the body.
    pub mutability: Option<syn::token::Mut>,
    /// The type as written.
    pub ty: Type,
    /// Its kind.
    pub kind: ArgKind,
    /// Marked `#[constexpr]`.
    pub constexpr: bool,
}

const INTS: &[&str] = &[
    "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
];

const SUPPORTED: &str = "expected `Ptr<f16>`, `Ptr<f32>`, an integer type (`usize`, `u32`, `i64`, ...), `bool` or `f32`";

/// The type's text without token spacing, for messages and metadata.
pub fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

fn last_ident(ty: &Type) -> Option<(&Ident, &PathArguments)> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().map(|s| (&s.ident, &s.arguments))
        }
        _ => None,
    }
}

/// Classifies a parameter type.
pub fn classify(ty: &Type) -> Result<ArgKind, syn::Error> {
    let unsupported = || {
        syn::Error::new_spanned(
            ty,
            format!(
                "unsupported kernel argument type `{}`: {SUPPORTED}",
                type_text(ty)
            ),
        )
    };
    let (ident, args) = last_ident(ty).ok_or_else(unsupported)?;
    if ident == "Ptr" {
        let elem = match args {
            PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first() {
                Some(GenericArgument::Type(t)) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let bad_elem = || syn::Error::new_spanned(ty, "`Ptr` element type must be `f16` or `f32`");
        let elem = elem.ok_or_else(bad_elem)?;
        return match last_ident(elem) {
            Some((e, PathArguments::None)) if e == "f16" => Ok(ArgKind::PtrF16),
            Some((e, PathArguments::None)) if e == "f32" => Ok(ArgKind::PtrF32),
            _ => Err(syn::Error::new_spanned(
                elem,
                "`Ptr` element type must be `f16` or `f32`",
            )),
        };
    }
    let single =
        matches!(ty, Type::Path(p) if p.path.segments.len() == 1 && p.path.leading_colon.is_none());
    if !single || !matches!(args, PathArguments::None) {
        return Err(unsupported());
    }
    let name = ident.to_string();
    match name.as_str() {
        n if INTS.contains(&n) => Ok(ArgKind::Int),
        "bool" => Ok(ArgKind::Bool),
        "f32" => Ok(ArgKind::F32),
        _ => Err(unsupported()),
    }
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
            constexpr = Some(a);
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
    let kind = classify(&pt.ty);
    let kind = match (kind, err) {
        (Ok(k), None) => k,
        (Ok(_), Some(e)) => return Err(e),
        (Err(mut e), other) => {
            if let Some(o) = other {
                e.combine(o);
            }
            return Err(e);
        }
    };
    if let Some(a) = constexpr {
        if !matches!(kind, ArgKind::Int | ArgKind::Bool) {
            return Err(syn::Error::new_spanned(
                a,
                format!(
                    "`#[constexpr]` is only allowed on integer and `bool` parameters, not `{}`",
                    type_text(&pt.ty)
                ),
            ));
        }
    }
    Ok(KernelArg {
        name,
        mutability,
        ty: (*pt.ty).clone(),
        kind,
        constexpr: constexpr.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(src: &str) -> Result<ArgKind, String> {
        let ty: Type = syn::parse_str(src).map_err(|e| e.to_string())?;
        classify(&ty).map_err(|e| e.to_string())
    }

    #[test]
    fn classifies_supported_types() {
        assert_eq!(kind("Ptr<f16>"), Ok(ArgKind::PtrF16));
        assert_eq!(kind("Ptr<half::f16>"), Ok(ArgKind::PtrF16));
        assert_eq!(kind("kernbench_core::dsl::Ptr<f32>"), Ok(ArgKind::PtrF32));
        assert_eq!(kind("usize"), Ok(ArgKind::Int));
        assert_eq!(kind("i64"), Ok(ArgKind::Int));
        assert_eq!(kind("bool"), Ok(ArgKind::Bool));
        assert_eq!(kind("f32"), Ok(ArgKind::F32));
    }

    #[test]
    fn rejects_unsupported_types() {
        assert!(kind("Vec<u8>")
            .unwrap_err()
            .contains("unsupported kernel argument type `Vec<u8>`"));
        assert!(kind("&usize").is_err());
        assert!(kind("f64").is_err());
        assert!(kind("Ptr<u8>").unwrap_err().contains("element type"));
        assert!(kind("Ptr").unwrap_err().contains("element type"));
    }
}
