//! The annotated function, parsed up to its body. The body is kept as
//! tokens: the macros never need to parse it, and a body with a syntax
//! error still expands, so the compiler reports the user's real error.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{AttrStyle, Attribute, FnArg, Ident, Pat, Signature, Token, Visibility};

pub struct ItemFn {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// `default fn` in a specializing impl.
    pub defaultness: Option<Token![default]>,
    pub sig: Signature,
    /// Inner attributes at the top of the body (`#![allow(..)]`), taken
    /// out of it: expansions lift them onto the function, where they keep
    /// applying to the whole body (a block nested in generated code would
    /// not accept every one of them).
    pub inner_attrs: Vec<Attribute>,
    /// The body without its inner attributes, braces included.
    pub body: Group,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let defaultness = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(input.error(
                "this function has no body to trace; put the attribute on the implementation",
            ));
        }
        let body =
            brace_group(input.parse()?).ok_or_else(|| input.error("expected the function body"))?;
        let (inner_attrs, body) = split_inner_attrs(body);
        Ok(Self {
            attrs,
            vis,
            defaultness,
            sig,
            inner_attrs,
            body,
        })
    }
}

/// The body's braces, also when a `macro_rules!` matcher (`$body:block`)
/// wrapped them in an invisible group.
fn brace_group(tree: TokenTree) -> Option<Group> {
    match tree {
        TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => Some(group),
        TokenTree::Group(group) if group.delimiter() == Delimiter::None => {
            let mut inner = group.stream().into_iter();
            match (inner.next(), inner.next()) {
                (Some(only), None) => brace_group(only),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A block's inner attributes, and the block without them.
pub fn split_inner_attrs(body: Group) -> (Vec<Attribute>, Group) {
    let split = |input: ParseStream<'_>| {
        let inner = input.call(Attribute::parse_inner)?;
        let rest: TokenStream = input.parse()?;
        Ok((inner, rest))
    };
    match split.parse2(body.stream()) {
        Ok((inner, rest)) if !inner.is_empty() => {
            let mut stripped = Group::new(Delimiter::Brace, rest);
            stripped.set_span(body.span());
            (inner, stripped)
        }
        // No inner attributes, or malformed ones the compiler will report.
        _ => (Vec::new(), body),
    }
}

impl ItemFn {
    /// Names bound by the function's parameters, `self` included.
    pub fn parameter_names(&self) -> Vec<Ident> {
        fn bind(pat: &Pat, names: &mut Vec<Ident>) {
            match pat {
                Pat::Ident(p) => {
                    names.push(p.ident.clone());
                    if let Some((_, sub)) = &p.subpat {
                        bind(sub, names);
                    }
                }
                Pat::Tuple(p) => p.elems.iter().for_each(|p| bind(p, names)),
                Pat::TupleStruct(p) => p.elems.iter().for_each(|p| bind(p, names)),
                Pat::Struct(p) => p.fields.iter().for_each(|f| bind(&f.pat, names)),
                Pat::Slice(p) => p.elems.iter().for_each(|p| bind(p, names)),
                Pat::Reference(p) => bind(&p.pat, names),
                Pat::Type(p) => bind(&p.pat, names),
                Pat::Paren(p) => bind(&p.pat, names),
                Pat::Or(p) => p.cases.iter().take(1).for_each(|p| bind(p, names)),
                _ => {}
            }
        }
        let mut names = Vec::new();
        for input in &self.sig.inputs {
            match input {
                FnArg::Receiver(r) => names.push(Ident::new("self", r.self_token.span)),
                FnArg::Typed(t) => bind(&t.pat, &mut names),
            }
        }
        names
    }

    /// Whether the function is `#[track_caller]`.
    pub fn tracks_caller(&self) -> bool {
        self.attrs.iter().any(|a| a.path().is_ident("track_caller"))
    }

    /// The body's inner attributes as outer attributes of the function
    /// (what tokio's and tracing's attribute macros do).
    pub fn lifted_attrs(&self) -> impl Iterator<Item = Attribute> + '_ {
        self.inner_attrs.iter().map(|attr| Attribute {
            style: AttrStyle::Outer,
            ..attr.clone()
        })
    }

    /// The body as written, inner attributes included.
    pub fn full_body(&self) -> Group {
        if self.inner_attrs.is_empty() {
            return self.body.clone();
        }
        let mut stream = TokenStream::new();
        for attr in &self.inner_attrs {
            attr.to_tokens(&mut stream);
        }
        stream.extend(self.body.stream());
        let mut group = Group::new(Delimiter::Brace, stream);
        group.set_span(self.body.span());
        group
    }
}

impl ToTokens for ItemFn {
    /// The function as written.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.attrs.iter().map(ToTokens::to_token_stream));
        self.vis.to_tokens(tokens);
        self.defaultness.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.full_body().to_tokens(tokens);
    }
}
