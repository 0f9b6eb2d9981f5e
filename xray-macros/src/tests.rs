//! Expansion tests on `proc_macro2` tokens, without a compiler.
//!
//! `cargo test -p xray-macros --features disabled` checks that with tracing
//! compiled out every macro gives back the item it was given (minus the
//! methods' `#[traced(...)]` inside a `#[traced]` impl block); without the
//! feature, the same inputs are instrumented.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

/// Items each macro accepts, with options.
fn traced_cases() -> Vec<(TokenStream, TokenStream)> {
    vec![
        (
            quote!(),
            quote!(
                fn add(a: u32, b: u32) -> u32 {
                    a + b
                }
            ),
        ),
        (
            quote!(
                name = "load",
                kind = client,
                args(id),
                attrs(order.id = id),
                err,
                ret
            ),
            quote!(
                async fn load(id: u64) -> Result<u64, String> {
                    Ok(id)
                }
            ),
        ),
        (
            quote!(),
            quote! {
                /// Docs.
                #[must_use]
                pub fn total(values: &[u32]) -> u32 {
                    #![allow(unused_variables)]
                    values.iter().sum()
                }
            },
        ),
        (
            quote!(),
            quote! {
                fn later(id: u64) -> impl ::core::future::Future<Output = u64> {
                    async move { id }
                }
            },
        ),
        (
            quote!(kind = client),
            quote! {
                impl Store {
                    fn load(&self) -> u32 { 1 }
                    const fn limit() -> u32 { 2 }
                }
            },
        ),
    ]
}

fn same(a: &TokenStream, b: &TokenStream) -> bool {
    a.to_string() == b.to_string()
}

#[cfg(feature = "disabled")]
mod disabled {
    use super::*;

    #[test]
    fn traced_gives_the_item_back() {
        for (args, item) in traced_cases() {
            let out = expand::traced(args, item.clone());
            assert!(same(&out, &item), "changed:\n{item}\n=>\n{out}");
        }
    }

    #[test]
    fn xray_root_and_xray_main_give_the_item_back() {
        let root = quote!(
            fn handle(header: &str) -> usize {
                header.len()
            }
        );
        let out = expand::xray_root(quote!(trace_header = header), root.clone());
        assert!(same(&out, &root), "{out}");
        let main = quote!(
            fn main() {
                run();
            }
        );
        let out = expand::xray_main(quote!(service = "checkout"), main.clone());
        assert!(same(&out, &main), "{out}");
    }

    #[test]
    fn a_traced_impl_block_loses_only_its_methods_attributes() {
        let item = quote! {
            impl Store {
                #[traced(skip)]
                fn helper(&self) {}
                #[traced(name = "store.load")]
                fn load(&self) -> u32 { 1 }
                #[xray_root]
                fn handle(&self) {}
            }
        };
        let expected = quote! {
            impl Store {
                fn helper(&self) {}
                fn load(&self) -> u32 { 1 }
                #[xray_root]
                fn handle(&self) {}
            }
        };
        let out = expand::traced(quote!(), item);
        assert!(same(&out, &expected), "{out}");
    }

    #[test]
    fn options_are_still_checked() {
        let out = expand::traced(
            quote!(kind = sever),
            quote!(
                fn f() {}
            ),
        );
        assert!(out.to_string().contains("compile_error"), "{out}");
    }
}

#[cfg(not(feature = "disabled"))]
mod enabled {
    use super::*;

    #[test]
    fn traced_instruments_the_item() {
        for (args, item) in traced_cases() {
            let out = expand::traced(args, item.clone());
            assert!(!same(&out, &item), "unchanged: {item}");
            let text = out.to_string();
            assert!(text.contains(":: xray_runtime :: __private"), "{text}");
            assert!(!text.contains("compile_error"), "{text}");
        }
    }

    #[test]
    fn inner_attributes_are_lifted_onto_the_function() {
        let out = expand::traced(
            quote!(),
            quote! {
                fn f() -> u32 {
                    #![allow(unused_mut)]
                    let mut x = 1;
                    x
                }
            },
        );
        let text = out.to_string();
        assert!(text.starts_with("# [allow (unused_mut)] fn f"), "{text}");
        assert!(!text.contains("# !"), "{text}");
    }

    #[test]
    fn a_returned_async_block_is_instrumented() {
        let out = expand::traced(
            quote!(),
            quote! {
                fn f(id: u64) -> impl Future<Output = u64> {
                    let id = id + 1;
                    async move { id }
                }
            },
        );
        let text = out.to_string();
        let start = text.find("__private :: start (").expect("span started");
        let setup = text.find("let id = id + 1").expect("setup kept");
        let instrument = text
            .find("__private :: instrument (")
            .expect("future instrumented");
        assert!(start < setup && setup < instrument, "{text}");
        assert!(!text.contains("__private :: enter"), "{text}");
    }

    #[test]
    fn async_trait_boxing_is_looked_through() {
        // What `#[async_trait]` makes of `async fn get(&self) -> u32 { 1 }`.
        let out = expand::traced(
            quote!(),
            quote! {
                fn get<'life0, 'async_trait>(&'life0 self)
                    -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = u32> + ::core::marker::Send + 'async_trait>>
                where 'life0: 'async_trait, Self: 'async_trait
                {
                    Box::pin(async move {
                        let __self = self;
                        let __ret: u32 = { 1 };
                        __ret
                    })
                }
            },
        );
        let text = out.to_string();
        assert!(
            text.contains("Box :: pin (:: xray_runtime :: __private :: instrument ("),
            "{text}"
        );
    }

    #[test]
    fn other_tail_expressions_are_traced_as_sync() {
        for body in [
            quote!({
                let f = async move { 1 };
                f
            }),
            quote!({ x = async move { 1 } }),
            quote!({
                if c {
                    async move { 1 }
                } else {
                    async move { 2 }
                }
            }),
            quote!({ Other::pin(async move { 1 }) }),
        ] {
            let out = expand::traced(quote!(), quote!(fn f() -> impl Future<Output = u8> #body));
            let text = out.to_string();
            assert!(text.contains("__private :: enter ("), "{text}");
        }
    }

    #[test]
    fn an_impl_block_traces_each_method_but_skipped_and_const_ones() {
        let out = expand::traced(
            quote!(kind = client),
            quote! {
                impl Store {
                    fn load(&self) -> u32 { 1 }
                    #[traced(skip)]
                    fn helper(&self) {}
                    const fn limit() -> u32 { 2 }
                    #[traced(kind = server)]
                    fn serve(&self) {}
                    const X: u32 = 1;
                }
            },
        );
        let text = out.to_string();
        assert_eq!(text.matches("__private :: enter (").count(), 2, "{text}");
        assert!(!text.contains("# [traced"), "{text}");
        assert!(text.contains("SpanKind :: Client"), "{text}");
        assert!(text.contains("SpanKind :: Server"), "{text}");
        assert!(text.contains("const X : u32 = 1 ;"), "{text}");
    }

    #[test]
    fn a_body_that_does_not_parse_still_expands() {
        let out = expand::traced(quote!(), quote!(fn f() -> u32 { let x = ; x }));
        let text = out.to_string();
        assert!(text.contains("__private :: enter ("), "{text}");
        assert!(text.contains("let x = ;"), "{text}");
    }
}
