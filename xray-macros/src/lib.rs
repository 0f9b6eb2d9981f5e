//! Attribute macros of xray; use them through `xray-runtime`.
use proc_macro::TokenStream;

#[proc_macro_attribute]
pub fn traced(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

#[proc_macro_attribute]
pub fn xray_root(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

#[proc_macro_attribute]
pub fn xray_main(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
