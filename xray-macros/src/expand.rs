//! The macros' entry points: parse, validate, expand. On any error the
//! original item is emitted with the error, so the rest of the crate keeps
//! type-checking against it and the user sees one error, not fifty.

use proc_macro2::{Span, TokenStream};

use crate::args::{self, Macro, MainArgs, RootArgs, SpanArgs};
use crate::async_like::Shape;
use crate::entry;
use crate::impl_block::{self, ImplBlock};
use crate::instrument::instrument;
use crate::item::ItemFn;
use crate::options::SpanOptions;
use crate::validate::{self, Place};

pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    if impl_block::is_impl_block(&item) {
        return match syn::parse2::<ImplBlock>(item.clone()) {
            Ok(block) => impl_block::traced(args, block),
            Err(error) => with_error(item, error),
        };
    }
    span_macro(Macro::Traced, args, item)
}

pub fn xray_root(args: TokenStream, item: TokenStream) -> TokenStream {
    span_macro(Macro::Root, args, item)
}

pub fn xray_main(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = not_a_function("#[xray_main]", &item);
            return with_error(item, error);
        }
    };
    let mut main_args = MainArgs::default();
    let checked = args::parse_with(args, |meta| main_args.parse_option(meta))
        .and_then(|()| validate::main_fn(&function, entry::is_inert));
    if let Err(error) = checked {
        return with_error(item, error);
    }
    if cfg!(feature = "disabled") {
        return item;
    }
    entry::main(&function, &main_args)
}

fn span_macro(which: Macro, args: TokenStream, item: TokenStream) -> TokenStream {
    let name = match which {
        Macro::Traced => "#[traced]",
        Macro::Root => "#[xray_root]",
    };
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = not_a_function(name, &item);
            return with_error(item, error);
        }
    };
    let mut span_args = SpanArgs::default();
    let mut root_args = RootArgs::default();
    let parsed = args::parse_with(args, |meta| {
        let root = (which == Macro::Root).then_some(&mut root_args);
        span_args.parse_option(meta, which, root)
    });
    let shape = Shape::of(&function);
    let checked = parsed
        .and_then(|()| validate::traceable(name, &function))
        .and_then(|()| validate::function_options(&span_args, &function, Place::Function))
        .and_then(|()| validate::caller_location(&span_args, &function, &shape))
        .and_then(|()| validate::root_options(&root_args));
    if let Err(error) = checked {
        return with_error(item, error);
    }
    if cfg!(feature = "disabled") {
        return item;
    }
    let root = (which == Macro::Root).then_some(&root_args);
    let options = SpanOptions::resolve(&span_args, None, root, &function, &shape);
    instrument(&function, &shape, &options)
}

/// The original item followed by the error.
fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut tokens = item;
    tokens.extend(error.into_compile_error());
    tokens
}

fn not_a_function(which: &str, item: &TokenStream) -> syn::Error {
    if let Ok(declaration) = syn::parse2::<syn::TraitItemFn>(item.clone())
        && declaration.default.is_none()
    {
        return syn::Error::new(
            declaration.sig.ident.span(),
            format!(
                "`{}` has no body to trace; put {which} on the implementations",
                declaration.sig.ident
            ),
        );
    }
    let what = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_)) => "a struct",
        Ok(syn::Item::Enum(_)) => "an enum",
        Ok(syn::Item::Impl(_)) if which == "#[xray_root]" => {
            "an impl block; put it on the methods that start a trace, and #[traced] on the block for the others"
        }
        Ok(syn::Item::Impl(_)) => "an impl block",
        Ok(syn::Item::Trait(_)) => {
            "a trait; put it on the methods that have a body, or on the impl blocks"
        }
        Ok(syn::Item::Mod(_)) => "a module",
        Ok(syn::Item::Const(_)) => "a constant",
        Ok(syn::Item::Static(_)) => "a static",
        Ok(syn::Item::Type(_)) => "a type alias",
        _ => "this item",
    };
    let span = item
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    syn::Error::new(span, format!("{which} goes on a function, not on {what}"))
}
