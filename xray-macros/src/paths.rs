//! How generated code names the runtime and its own locals.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;

/// The only path expansions use to reach the runtime.
pub fn private() -> TokenStream {
    quote!(::xray_runtime::__private)
}

/// The same path, spanned at a user's token: type errors in the call it
/// starts ("required by a bound introduced by this call") point there.
pub fn private_at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::xray_runtime::__private)
}

/// A local the user's code cannot see or shadow.
pub fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}
