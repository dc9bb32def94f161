//! Rewriting `tl::` paths in a kernel body.
//!
//! Token-level rather than a syntax-tree visitor so calls inside macro
//! invocations (`println!`, `vec!`, ...) are rewritten too. Every `tl::X`
//! path becomes `::kernbench_core::dsl::tl::X` (so a kernel file needs no
//! import for it) and every call `tl::op(args)` / `tl::op::<T>(args)` gets
//! the tracing context as its first argument.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::quote_spanned;

fn is_punct(t: Option<&TokenTree>, c: char) -> bool {
    matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// `tl` at `i` starts a path (`tl::name`) that is not itself a suffix of
/// another path or a field access.
fn starts_tl_path(toks: &[TokenTree], i: usize) -> bool {
    let is_tl = matches!(&toks[i], TokenTree::Ident(id) if id == "tl");
    // `a::tl::x` and `a.tl` are not ours; `0..tl::x()` (a range) is.
    let field =
        i > 0 && is_punct(toks.get(i - 1), '.') && !(i > 1 && is_punct(toks.get(i - 2), '.'));
    let prev_blocks = i > 0 && is_punct(toks.get(i - 1), ':') || field;
    let colons = matches!(toks.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && is_punct(toks.get(i + 2), ':');
    is_tl && !prev_blocks && colons && matches!(toks.get(i + 3), Some(TokenTree::Ident(_)))
}

/// Index just past a turbofish `::<...>` starting at `j`, if there is one.
fn turbofish_end(toks: &[TokenTree], j: usize) -> Option<usize> {
    if !(is_punct(toks.get(j), ':')
        && is_punct(toks.get(j + 1), ':')
        && is_punct(toks.get(j + 2), '<'))
    {
        return None;
    }
    let mut depth = 0usize;
    let mut k = j + 2;
    while let Some(t) = toks.get(k) {
        if is_punct(Some(t), '<') {
            depth += 1;
        } else if is_punct(Some(t), '>') && !(k > 0 && is_punct(toks.get(k - 1), '-')) {
            depth -= 1;
            if depth == 0 {
                return Some(k + 1);
            }
        }
        k += 1;
    }
    None
}

/// Rewrites every `tl::` path in `body`, passing `cx` to `tl::` calls.
pub fn rewrite_tl(body: TokenStream, cx: &Ident) -> TokenStream {
    let toks: Vec<TokenTree> = body.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < toks.len() {
        if starts_tl_path(&toks, i) {
            let span = toks[i].span();
            out.extend(quote_spanned!(span=> ::kernbench_core::dsl::tl::));
            out.extend([toks[i + 3].clone()]);
            let mut j = i + 4;
            if let Some(end) = turbofish_end(&toks, j) {
                for t in &toks[j..end] {
                    out.extend([recurse(t, cx)]);
                }
                j = end;
            }
            match toks.get(j) {
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                    let inner = rewrite_tl(g.stream(), cx);
                    let mut args = TokenStream::new();
                    args.extend([TokenTree::Ident(cx.clone())]);
                    if !inner.is_empty() {
                        args.extend([TokenTree::Punct(Punct::new(',', Spacing::Alone))]);
                        args.extend(inner);
                    }
                    let mut ng = Group::new(Delimiter::Parenthesis, args);
                    ng.set_span(g.span());
                    out.extend([TokenTree::Group(ng)]);
                    i = j + 1;
                }
                _ => i = j,
            }
        } else {
            out.extend([recurse(&toks[i], cx)]);
            i += 1;
        }
    }
    out
}

fn recurse(t: &TokenTree, cx: &Ident) -> TokenTree {
    match t {
        TokenTree::Group(g) => {
            let mut ng = Group::new(g.delimiter(), rewrite_tl(g.stream(), cx));
            ng.set_span(g.span());
            TokenTree::Group(ng)
        }
        other => other.clone(),
    }
}

/// The hidden context parameter's name.
pub fn cx_ident() -> Ident {
    Ident::new("__kb_cx", Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rw(ts: TokenStream) -> String {
        rewrite_tl(ts, &cx_ident()).to_string()
    }

    #[test]
    fn inserts_context_in_calls() {
        assert_eq!(
            rw(quote!(tl::rank())),
            quote!(::kernbench_core::dsl::tl::rank(__kb_cx)).to_string()
        );
        assert_eq!(
            rw(quote!(let x = tl::program_id(0);)),
            quote!(let x = ::kernbench_core::dsl::tl::program_id(__kb_cx, 0);).to_string()
        );
    }

    #[test]
    fn handles_turbofish_and_nesting() {
        assert_eq!(
            rw(quote!(tl::zeros::<f32>([bm, bn]))),
            quote!(::kernbench_core::dsl::tl::zeros::<f32>(__kb_cx, [bm, bn])).to_string()
        );
        assert_eq!(
            rw(quote!(tl::store(c, tl::load(a)))),
            quote!(::kernbench_core::dsl::tl::store(
                __kb_cx,
                c,
                ::kernbench_core::dsl::tl::load(__kb_cx, a)
            ))
            .to_string()
        );
        assert_eq!(
            rw(quote!({
                for i in 0..n {
                    v.push(tl::recv::<Vec<f32>>(i, [1, 2]));
                }
            })),
            quote! {{ for i in 0..n { v.push(::kernbench_core::dsl::tl::recv::<Vec<f32>>(__kb_cx, i, [1, 2])); } }}
            .to_string()
        );
    }

    #[test]
    fn leaves_other_paths_and_non_calls() {
        assert_eq!(rw(quote!(foo::tl::x(1))), quote!(foo::tl::x(1)).to_string());
        assert_eq!(
            rw(quote!(self.tl::<u8>())),
            quote!(self.tl::<u8>()).to_string()
        );
        assert_eq!(
            rw(quote!(1..tl::rank())),
            quote!(1..::kernbench_core::dsl::tl::rank(__kb_cx)).to_string()
        );
        assert_eq!(
            rw(quote!(tl::Stage::Sram)),
            quote!(::kernbench_core::dsl::tl::Stage::Sram).to_string()
        );
        assert_eq!(
            rw(quote!(println!("{}", tl::rank()))),
            quote!(println!("{}", ::kernbench_core::dsl::tl::rank(__kb_cx))).to_string()
        );
    }
}
