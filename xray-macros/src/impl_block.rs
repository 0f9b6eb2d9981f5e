//! `#[traced]` on an impl block (inherent or trait impl): each method gets
//! the span it would get with `#[traced]` of its own.
//!
//! The block's options are defaults for its methods; a method's own
//! `#[traced(...)]` replaces them option by option (`kind` on the method
//! replaces the block's `kind`, and so on). `#[traced(skip)]` leaves a method
//! untraced; a method with its own `#[xray_root]` is left to that attribute;
//! a `const fn` cannot have a span and is left as it is. The block's `args`
//! record each name in the methods that take it.
//!
//! An attribute macro on an item runs before those on the items inside it,
//! so this macro sees the methods' `#[traced(...)]` attributes and takes
//! them off: left in place, they would trace the method a second time. They
//! are recognised by name (a path ending in `traced`); one imported under
//! another name is not recognised and expands on its own.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Attribute, Ident, Meta};

use crate::args::{self, Macro, SpanArgs};
use crate::async_like::Shape;
use crate::instrument::instrument;
use crate::item::ItemFn;
use crate::options::SpanOptions;
use crate::validate::{self, Place};

/// An impl block, parsed down to its methods' signatures; method bodies
/// stay tokens.
pub struct ImplBlock {
    attrs: Vec<Attribute>,
    /// `unsafe impl<..> Trait for Type where ..`, as written.
    header: TokenStream,
    /// The span of the braces.
    brace_span: Span,
    inner_attrs: Vec<Attribute>,
    members: Vec<Member>,
}

enum Member {
    Fn(Box<ItemFn>),
    /// Associated consts and types, macro calls: kept as they are.
    Other(TokenStream),
}

/// Whether `item` is an impl block, before parsing its contents.
pub fn is_impl_block(item: &TokenStream) -> bool {
    let parser = |input: ParseStream<'_>| {
        input.call(Attribute::parse_outer)?;
        while input.peek(syn::Token![default]) || input.peek(syn::Token![unsafe]) {
            input.parse::<TokenTree>()?;
        }
        let is_impl = input.peek(syn::Token![impl]);
        input.parse::<TokenStream>()?;
        Ok(is_impl)
    };
    parser.parse2(item.clone()).unwrap_or(false)
}

impl Parse for ImplBlock {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let mut header = Vec::new();
        while !input.is_empty() {
            header.push(input.parse::<TokenTree>()?);
        }
        let body = match header.pop() {
            Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body,
            _ => return Err(input.error("expected the body of the impl block")),
        };
        let (inner_attrs, members) = parse_members.parse2(body.stream())?;
        Ok(Self {
            attrs,
            header: header.into_iter().collect(),
            brace_span: body.span(),
            inner_attrs,
            members,
        })
    }
}

fn parse_members(input: ParseStream<'_>) -> syn::Result<(Vec<Attribute>, Vec<Member>)> {
    let inner_attrs = input.call(Attribute::parse_inner)?;
    let mut members = Vec::new();
    while !input.is_empty() {
        if input.fork().parse::<ItemFn>().is_ok() {
            members.push(Member::Fn(input.parse()?));
        } else {
            let item: syn::ImplItem = input.parse()?;
            members.push(Member::Other(item.into_token_stream()));
        }
    }
    Ok((inner_attrs, members))
}

/// What the block does with one method.
enum Plan {
    /// Leave it exactly as written (it has its own `#[xray_root]`).
    Untouched,
    /// Leave it untraced, without its `#[traced(skip)]`.
    Untraced,
    /// Trace it with these options of its own (empty if it has none).
    Traced(SpanArgs),
}

pub fn traced(args: TokenStream, block: ImplBlock) -> TokenStream {
    let mut errors = Errors::default();
    let mut block_args = SpanArgs::default();
    errors.add(
        args::parse_with(args, |meta| {
            block_args.parse_option(meta, Macro::Traced, None)
        })
        .and_then(|()| validate::block_options(&block_args)),
    );

    let plans: Vec<Option<Plan>> = block
        .members
        .iter()
        .map(|member| match member {
            Member::Fn(method) => errors.keep(plan(method)),
            Member::Other(_) => None,
        })
        .collect();

    // The block's `args` must name an argument of at least one traced method.
    if let Some(names) = &block_args.args.value {
        let traced: Vec<&ItemFn> = methods(&block, &plans).collect();
        let taken: Vec<Ident> = traced.iter().flat_map(|m| m.parameter_names()).collect();
        for name in names {
            if !taken.contains(name) {
                let mut list: Vec<String> = taken.iter().map(ToString::to_string).collect();
                list.sort();
                list.dedup();
                let known = if list.is_empty() {
                    "its traced methods take no arguments".to_string()
                } else {
                    format!("their arguments are: {}", list.join(", "))
                };
                errors.add(Err(syn::Error::new(
                    name.span(),
                    format!("no traced method of this impl block takes `{name}`; {known}"),
                )));
            }
        }
    }

    if let Some(error) = errors.0 {
        // The block as written, without the methods' attributes (which
        // would report the same errors again): the rest of the crate keeps
        // type-checking against it.
        let mut tokens = emit(&block, &plans, |method, _| strip(method));
        tokens.extend(error.into_compile_error());
        return tokens;
    }
    if cfg!(feature = "disabled") {
        return emit(&block, &plans, |method, _| strip(method));
    }
    emit(&block, &plans, |method, plan| match plan {
        Plan::Traced(own) => {
            let method = without_traced_attrs(method);
            let shape = Shape::of(&method);
            let options = SpanOptions::resolve(own, Some(&block_args), None, &method, &shape);
            instrument(&method, &shape, &options)
        }
        Plan::Untraced => strip(method),
        Plan::Untouched => method.to_token_stream(),
    })
}

/// Decides what happens to `method`, checking its own options.
fn plan(method: &ItemFn) -> syn::Result<Plan> {
    if method.attrs.iter().any(|a| is_named(a, "xray_root")) {
        return Ok(Plan::Untouched);
    }
    let mut own: Option<(SpanArgs, &Attribute)> = None;
    for attr in method.attrs.iter().filter(|a| is_named(a, "traced")) {
        if own.is_some() {
            return Err(syn::Error::new_spanned(
                attr,
                "#[traced] is given twice on this method; keep one",
            ));
        }
        let tokens = match &attr.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens.clone(),
            Meta::NameValue(nv) => {
                return Err(syn::Error::new_spanned(
                    &nv.value,
                    "write the options in parentheses, as in `#[traced(kind = client)]`",
                ));
            }
        };
        let mut args = SpanArgs::default();
        args::parse_with(tokens, |meta| args.parse_option(meta, Macro::Traced, None))?;
        own = Some((args, attr));
    }
    let Some((own, _)) = own else {
        // Traced by the block alone: a `const fn` cannot have a span.
        if method.sig.constness.is_some() {
            return Ok(Plan::Untraced);
        }
        return Ok(Plan::Traced(SpanArgs::default()));
    };
    validate::function_options(&own, method, Place::Method)?;
    if own.skip.value.is_some() {
        return Ok(Plan::Untraced);
    }
    validate::traceable("#[traced]", method)?;
    validate::caller_location(&own, method, &Shape::of(method))?;
    Ok(Plan::Traced(own))
}

/// The methods the block traces.
fn methods<'a>(
    block: &'a ImplBlock,
    plans: &'a [Option<Plan>],
) -> impl Iterator<Item = &'a ItemFn> + 'a {
    block
        .members
        .iter()
        .zip(plans)
        .filter_map(|(member, plan)| match (member, plan) {
            (Member::Fn(method), Some(Plan::Traced(_))) => Some(&**method),
            _ => None,
        })
}

/// The block with each method replaced by `method(method, plan)`.
fn emit(
    block: &ImplBlock,
    plans: &[Option<Plan>],
    mut method: impl FnMut(&ItemFn, &Plan) -> TokenStream,
) -> TokenStream {
    let mut body = TokenStream::new();
    for attr in &block.inner_attrs {
        attr.to_tokens(&mut body);
    }
    for (member, plan) in block.members.iter().zip(plans) {
        match (member, plan) {
            (Member::Fn(m), Some(plan)) => body.extend(method(m, plan)),
            // A method whose options were refused: as written, minus them.
            (Member::Fn(m), None) => body.extend(strip(m)),
            (Member::Other(tokens), _) => body.extend(tokens.clone()),
        }
    }
    let mut group = Group::new(Delimiter::Brace, body);
    group.set_span(block.brace_span);
    let attrs = &block.attrs;
    let header = &block.header;
    quote!(#(#attrs)* #header #group)
}

/// The method as written, minus its `#[traced(...)]` (unless it is left to
/// its own `#[xray_root]`).
fn strip(method: &ItemFn) -> TokenStream {
    if method.attrs.iter().any(|a| is_named(a, "xray_root")) {
        return method.to_token_stream();
    }
    without_traced_attrs(method).to_token_stream()
}

fn without_traced_attrs(method: &ItemFn) -> ItemFn {
    ItemFn {
        attrs: method
            .attrs
            .iter()
            .filter(|a| !is_named(a, "traced"))
            .cloned()
            .collect(),
        vis: method.vis.clone(),
        defaultness: method.defaultness,
        sig: method.sig.clone(),
        inner_attrs: method.inner_attrs.clone(),
        body: method.body.clone(),
    }
}

/// `#[name]`, `#[name(..)]`, `#[path::to::name(..)]`.
fn is_named(attr: &Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// Every error found, reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn add(&mut self, result: syn::Result<()>) {
        self.keep(result);
    }

    fn keep<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                match &mut self.0 {
                    Some(errors) => errors.combine(error),
                    None => self.0 = Some(error),
                }
                None
            }
        }
    }
}
