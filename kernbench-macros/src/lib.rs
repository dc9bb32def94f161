//! The `#[kernel]` attribute of kernbench's kernel language.
//!
//! The logic lives in plain functions over `proc_macro2::TokenStream`
//! (`expand`) so it can be unit-tested; `parse/` checks the function and
//! `generate/` emits the kernel items, mirroring each other.

mod generate;
mod parse;

use proc_macro2::TokenStream;

/// Expands `#[kernel(attr)] item`. Never panics: errors become
/// `compile_error!`s at their spans, followed by the input (made to compile
/// on its own) so IDEs keep working.
fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match parse::parse_kernel(attr, item.clone()) {
        Ok(def) => generate::kernel_items(&def),
        Err((err, func)) => {
            let mut out = err.to_compile_error();
            out.extend(match func {
                Some(f) => generate::fallback(*f),
                None => item,
            });
            out
        }
    }
}

/// Turns a function into a kernel of kernbench's kernel language.
///
/// Each parameter's type must implement the runtime's `KernelArg` trait
/// (`Ptr<f16>`, `Ptr<f32>`, integers, `bool`, `f32`, `Named` enums such as
/// `Stage`); integer, `bool` and enum parameters may be marked
/// `#[constexpr]` (fixed at trace time: tile sizes, flags, variants), which
/// `ConstexprArg` checks. The macro never matches type names: the compiler
/// reports an unsupported type at the parameter. The function must not be
/// `async`, `const`, `unsafe`, generic, or return a value.
///
/// In the body, `tl::` operations record commands into the tracing
/// context of one program instance, which the macro passes to them
/// implicitly; ordinary Rust control flow unrolls at trace time.
///
/// For `fn name(...)` the macro generates, with the function's visibility:
/// - `struct name {}`: the kernel type, implementing
///   `kernbench_core::dsl::Kernel`, with `name::NAME`, `name::arg_meta()`,
///   `name::trace(&args, &program, &cfg)` and `name::trace_single(&args)`;
/// - `struct NameArgs { pub <param>: <type>, ... }` and the typed
///   constructor `name::args(...)`, so wrong argument types fail to compile.
///
/// Generated code refers to `::kernbench_core`, which the calling crate
/// must depend on.
///
/// ```ignore
/// use kernbench_core::dsl::prelude::*;
///
/// #[kernel]
/// fn copy(x: Ptr<f32>, y: Ptr<f32>, #[constexpr] bs: usize) {
///     let r0 = tl::program_id(0) * bs;
///     let t = tl::load(x.block([r0, 0], [bs, x.cols()]));
///     tl::store(y.block([r0, 0], [bs, y.cols()]), t);
/// }
///
/// let s = copy::trace_single(&copy::args(Ptr::new(0, 64, 8), Ptr::new(4096, 64, 8), 64)).unwrap();
/// println!("{s}");
/// ```
///
/// (`ignore`d here because this crate cannot depend on the runtime it
/// generates code for; the same example is compiled and run as the doc test
/// of the re-export `kernbench_core::dsl::kernel`.)
#[proc_macro_attribute]
pub fn kernel(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(attr.into(), item.into()).into()
}

#[cfg(test)]
mod tests {
    use super::expand;
    use quote::quote;

    fn errors(item: proc_macro2::TokenStream) -> String {
        expand(quote!(), item).to_string()
    }

    #[test]
    fn valid_kernel_expands_to_kernel_type() {
        let out = errors(quote!(
            pub fn k(a: Ptr<f16>, #[constexpr] bm: usize) {
                let x = tl::program_id(0);
            }
        ));
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains("pub struct k { }") || out.contains("pub struct k {}"),
            "{out}"
        );
        assert!(out.contains("KArgs"));
        assert!(out.contains("tl :: program_id (__kb_cx , 0)"), "{out}");
    }

    #[test]
    fn rejects_signature_misuse() {
        let out = errors(quote!(
            async fn k() -> usize {
                0
            }
        ));
        assert!(out.contains("cannot be `async`"), "{out}");
        assert!(out.contains("cannot return a value"), "{out}");
        let out = errors(quote!(
            fn k<T>(x: Vec<T>) {}
        ));
        assert!(out.contains("cannot be generic"), "{out}");
        let out = errors(quote!(
            fn k((a, b): (u8, u8)) {}
        ));
        assert!(out.contains("plain identifiers"), "{out}");
    }

    #[test]
    fn parameter_types_are_checked_by_the_runtime_traits() {
        // Which types are allowed is the compiler's question to the traits,
        // asked at each parameter (trybuild pins the messages).
        let out = errors(quote!(
            fn k(x: Ptr<f32>, #[constexpr] s: Stage) {}
        ));
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains("< Ptr < f32 > as :: kernbench_core :: dsl :: KernelArg > :: KIND"),
            "{out}"
        );
        assert!(out.contains("__constexpr_arg :: < Stage >"), "{out}");
        assert!(!out.contains("__constexpr_arg :: < Ptr"), "{out}");
    }

    #[test]
    fn tool_attributes_pass_through_and_others_are_refused() {
        let out = errors(quote!(
            #[rustfmt::skip]
            #[clippy::cognitive_complexity = "100"]
            fn k(a: Ptr<f16>) {}
        ));
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("# [rustfmt :: skip]"), "{out}");
        let out = errors(quote!(
            #[inline]
            fn k(a: Ptr<f16>) {}
        ));
        assert!(out.contains("unsupported attribute"), "{out}");
    }

    #[test]
    fn rejects_attribute_arguments_and_non_functions() {
        let out = expand(
            quote!(foo),
            quote!(
                fn k() {}
            ),
        )
        .to_string();
        assert!(out.contains("takes no arguments"), "{out}");
        let out = errors(quote!(
            struct S;
        ));
        assert!(out.contains("compile_error"), "{out}");
    }

    #[test]
    fn error_output_reemits_the_function() {
        let out = errors(quote!(
            async fn k(#[constexpr] s: f32) {
                tl::rank();
            }
        ));
        assert!(out.contains("fn k (__kb_cx"), "{out}");
        assert!(!out.contains("# [constexpr]"), "{out}");
    }
}
