//! The items `#[kernel]` generates: the kernel type, its argument struct,
//! the `Kernel` impl and the traced body.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemFn;

use super::body::{cx_ident, rewrite_tl};
use crate::parse::KernelDef;

/// `ring_allreduce` -> `RingAllreduceArgs`.
fn args_type_name(name: &Ident) -> Ident {
    let mut camel = String::new();
    for part in name.to_string().split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            camel.extend(c.to_uppercase());
            camel.push_str(chars.as_str());
        }
    }
    format_ident!("{}Args", camel, span = name.span())
}

/// All items for a valid kernel.
pub fn kernel_items(def: &KernelDef) -> TokenStream {
    let dsl = quote!(::kernbench_core::dsl);
    let KernelDef {
        vis,
        name,
        docs,
        passthrough,
        args,
        body,
    } = def;
    let args_ty = args_type_name(name);
    let cx = cx_ident();
    let name_str = name.to_string();
    let names: Vec<&Ident> = args.iter().map(|a| &a.name).collect();
    let tys: Vec<&syn::Type> = args.iter().map(|a| &a.ty).collect();
    let muts: Vec<_> = args.iter().map(|a| a.mutability).collect();
    // The runtime's traits decide which types are allowed. Every use of
    // them is spanned at the parameter's type, so the compiler points there
    // and folds the uses into one error; a type that is not even `Copy`
    // also fails the argument struct's derives.
    let metas = args.iter().map(|a| {
        let n = a.name.to_string();
        let t = crate::parse::type_text(&a.ty);
        let c = a.constexpr.is_some();
        let ty = &a.ty;
        let kind = quote_spanned!(ty.span()=> <#ty as #dsl::KernelArg>::KIND);
        quote!(#dsl::ArgMeta { name: #n, ty: #t, kind: #kind, constexpr: #c })
    });
    let values = args.iter().map(|a| {
        let (name, ty) = (&a.name, &a.ty);
        quote_spanned!(ty.span()=> <#ty as #dsl::KernelArg>::arg_value(&self.#name))
    });
    let constexpr_checks = args.iter().filter_map(|a| {
        let ty = &a.ty;
        a.constexpr
            .map(|span| quote_spanned!(span=> __constexpr_arg::<#ty>();))
    });
    let body = rewrite_tl(quote!(#body), &cx);
    let args_doc = format!("Arguments of the [`{name_str}`] kernel, in declaration order.");
    let ctor_doc =
        format!("Bundles the arguments of [`{name_str}`]; argument types are checked here.");

    quote! {
        #(#docs)*
        #(#passthrough)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        #vis struct #name {}

        #[doc = #args_doc]
        #(#passthrough)*
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #args_ty {
            #(pub #names: #tys,)*
        }

        #(#passthrough)*
        const _: () = {
            fn __constexpr_arg<T: #dsl::ConstexprArg>() {}
            #[allow(dead_code)]
            fn __check() {
                #(#constexpr_checks)*
            }
        };

        #(#passthrough)*
        impl #dsl::KernelArgs for #args_ty {
            fn values(&self) -> ::std::vec::Vec<#dsl::ArgValue> {
                ::std::vec![#(#values),*]
            }
        }

        #(#passthrough)*
        #[allow(dead_code)]
        impl #name {
            /// The kernel's name.
            pub const NAME: &'static str = #name_str;

            #[doc = #ctor_doc]
            #[allow(clippy::too_many_arguments)]
            #vis fn args(#(#names: #tys),*) -> #args_ty {
                #args_ty { #(#names),* }
            }

            /// Parameter metadata (see `Kernel::arg_meta`).
            #vis fn arg_meta() -> &'static [#dsl::ArgMeta] {
                <Self as #dsl::Kernel>::arg_meta()
            }

            /// Traces one program (see `Kernel::trace`).
            #vis fn trace(
                args: &#args_ty,
                program: &#dsl::ProgramInfo,
                cfg: &#dsl::TraceConfig,
            ) -> ::std::result::Result<#dsl::CommandStream, #dsl::TraceError> {
                <Self as #dsl::Kernel>::trace(args, program, cfg)
            }

            /// Traces the only program of a 1x1x1 grid with default limits.
            #vis fn trace_single(
                args: &#args_ty,
            ) -> ::std::result::Result<#dsl::CommandStream, #dsl::TraceError> {
                <Self as #dsl::Kernel>::trace_single(args)
            }

            #[allow(clippy::too_many_arguments, unused_mut, unused_variables, non_snake_case)]
            fn __body(#cx: &#dsl::KernelCx, #(#muts #names: #tys),*) #body
        }

        #(#passthrough)*
        impl #dsl::Kernel for #name {
            type Args = #args_ty;
            const NAME: &'static str = #name_str;

            fn arg_meta() -> &'static [#dsl::ArgMeta] {
                const META: &[#dsl::ArgMeta] = &[#(#metas),*];
                META
            }

            fn trace(
                args: &#args_ty,
                program: &#dsl::ProgramInfo,
                cfg: &#dsl::TraceConfig,
            ) -> ::std::result::Result<#dsl::CommandStream, #dsl::TraceError> {
                #dsl::__trace(#name_str, program, cfg, |#cx| {
                    Self::__body(#cx, #(args.#names),*)
                })
            }
        }
    }
}

/// The input function, made to compile on its own: `#[constexpr]` and
/// `self` removed, the context parameter added and `tl::` calls rewritten,
/// so an error in the signature does not cascade into the body and IDEs
/// keep analysing it.
pub fn fallback(mut func: ItemFn) -> TokenStream {
    let cx = cx_ident();
    let mut inputs: syn::punctuated::Punctuated<syn::FnArg, syn::token::Comma> =
        syn::punctuated::Punctuated::new();
    inputs.push(syn::parse_quote!(#cx: &::kernbench_core::dsl::KernelCx));
    for input in func.sig.inputs.iter() {
        if let syn::FnArg::Typed(pt) = input {
            // Parameter attributes (`#[constexpr]`) mean nothing to rustc.
            let mut pt = pt.clone();
            pt.attrs.clear();
            inputs.push(syn::FnArg::Typed(pt));
        }
    }
    func.sig.inputs = inputs;
    let block = &func.block;
    let body = rewrite_tl(quote!(#block), &cx);
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    quote! {
        #(#attrs)*
        #[allow(dead_code, unused_variables, unused_mut, clippy::all)]
        #vis #sig #body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_type_names() {
        assert_eq!(
            args_type_name(&format_ident!("ring_allreduce")).to_string(),
            "RingAllreduceArgs"
        );
        assert_eq!(
            args_type_name(&format_ident!("matmul")).to_string(),
            "MatmulArgs"
        );
        assert_eq!(
            args_type_name(&format_ident!("_x__y")).to_string(),
            "XYArgs"
        );
    }
}
