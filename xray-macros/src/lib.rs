//! Attribute macros of the xray tracing toolkit.
//!
//! Use them through `xray-runtime`, which re-exports them and provides
//! everything their expansions call:
//! `use xray_runtime::{traced, xray_main, xray_root};`. The documentation of
//! each macro lives there.
//!
//! Each macro is a one-line switch into `expand`, which works on
//! `proc_macro2` tokens: parse (`args`, `item`, `impl_block`), validate
//! (`validate`), resolve (`options`), generate (`instrument`, `entry`).

mod args;
mod async_like;
mod choices;
mod entry;
mod expand;
mod impl_block;
mod instrument;
mod item;
mod options;
mod paths;
#[cfg(test)]
mod tests;
mod validate;

use proc_macro::TokenStream;

/// Wraps a function in a span. See `xray_runtime::traced`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(args.into(), item.into()).into()
}

/// Starts a trace, or continues the caller's. See `xray_runtime::xray_root`.
#[proc_macro_attribute]
pub fn xray_root(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::xray_root(args.into(), item.into()).into()
}

/// Sets tracing up around `main`. See `xray_runtime::xray_main`.
#[proc_macro_attribute]
pub fn xray_main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::xray_main(args.into(), item.into()).into()
}
