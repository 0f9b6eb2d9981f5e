//! Checks that need more than one option, or the function, to decide.
//! Simpler checks happen while parsing (`args.rs`). Every error points at
//! the offending token and says how to fix it.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, ReturnType};

use crate::args::{Field, RootArgs, SpanArgs};
use crate::async_like::Shape;
use crate::item::ItemFn;

/// The most annotations X-Ray indexes on one segment.
const MAX_ANNOTATIONS: usize = 50;
/// The longest X-Ray annotation key.
const MAX_ANNOTATION_KEY: usize = 500;

/// Where a function's options were written (those of an impl block are
/// checked by [`block_options`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On a function (or a method in a block without `#[traced]`).
    Function,
    /// On a method inside a `#[traced]` impl block.
    Method,
}

/// A `const fn` runs at compile time, where no span can exist.
pub fn traceable(name: &str, function: &ItemFn) -> syn::Result<()> {
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            format!(
                "{name} cannot trace a `const fn`: spans exist only at run time; remove `const` or the attribute"
            ),
        ));
    }
    Ok(())
}

/// Options written on one function.
pub fn function_options(args: &SpanArgs, function: &ItemFn, place: Place) -> syn::Result<()> {
    skip_alone(args, place)?;
    if let Some(names) = &args.args.value {
        let params = function.parameter_names();
        for (i, name) in names.iter().enumerate() {
            if !params.iter().any(|p| p == name) {
                let list: Vec<_> = params.iter().map(ToString::to_string).collect();
                let known = if list.is_empty() {
                    "the function takes no arguments".to_string()
                } else {
                    format!("its arguments are: {}", list.join(", "))
                };
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "`{name}` is not an argument of `{}`; {known}",
                        function.sig.ident
                    ),
                ));
            }
            unique_arg(names, i)?;
        }
    }
    fields(args)?;
    if let Some((true, span)) = args.err.value
        && matches!(function.sig.output, ReturnType::Default)
    {
        return Err(syn::Error::new(
            span,
            "`err` records the `Err` of a function that returns a `Result`, and this one returns nothing",
        ));
    }
    Ok(())
}

/// `ret`, `err` and `metrics` read the value in a closure around the body, which
/// `#[track_caller]` does not reach.
pub fn caller_location(args: &SpanArgs, function: &ItemFn, shape: &Shape) -> syn::Result<()> {
    if !shape.keeps_caller_location(function) {
        return Ok(());
    }
    let ret = args.ret.value.filter(|(format, _)| format.is_some());
    let err = args.err.value.filter(|(on, _)| *on);
    let metrics = args.metrics.value.filter(|(on, _)| *on);
    let asked = [
        ("ret", ret.map(|(_, s)| s)),
        ("err", err.map(|(_, s)| s)),
        ("metrics", metrics.map(|(_, s)| s)),
    ];
    if let Some((name, span)) = asked
        .into_iter()
        .find_map(|(name, span)| span.map(|s| (name, s)))
    {
        return Err(syn::Error::new(
            span,
            format!(
                "`{name}` reads the value in a closure around the body, where `#[track_caller]` does not reach; remove `{name}` or `#[track_caller]`"
            ),
        ));
    }
    Ok(())
}

/// Options written on an impl block: defaults for each of its methods.
/// `args` names are checked against the methods by the caller.
pub fn block_options(args: &SpanArgs) -> syn::Result<()> {
    if let Some(span) = args.name.span {
        return Err(syn::Error::new(
            span,
            "`name` on an impl block would give every method the same span name; put `name` on the methods, as in `#[traced(name = \"...\")]`",
        ));
    }
    if let Some(span) = args.skip.value {
        return Err(syn::Error::new(
            span,
            "`skip` goes on a method inside a #[traced] impl block, as in `#[traced(skip)] fn helper()`; to trace no method, remove #[traced] from the block",
        ));
    }
    if let Some(names) = &args.args.value {
        for i in 0..names.len() {
            unique_arg(names, i)?;
        }
    }
    fields(args)
}

fn unique_arg(names: &[Ident], i: usize) -> syn::Result<()> {
    let name = &names[i];
    if names[..i].contains(name) {
        return Err(syn::Error::new(
            name.span(),
            format!("`{name}` is listed twice in `args`"),
        ));
    }
    Ok(())
}

/// `skip` means "not traced": alone on a method of a `#[traced]` block.
fn skip_alone(args: &SpanArgs, place: Place) -> syn::Result<()> {
    let Some(skip) = args.skip.value else {
        return Ok(());
    };
    if place == Place::Function {
        return Err(syn::Error::new(
            skip,
            "`skip` opts a method out of a #[traced] impl block; to leave this function untraced, remove the attribute",
        ));
    }
    if let Some((other, span)) = args.given().into_iter().find(|(name, _)| *name != "skip") {
        return Err(syn::Error::new(
            span,
            format!(
                "`skip` leaves this method untraced, so `{other}` does nothing; remove one of them"
            ),
        ));
    }
    Ok(())
}

fn fields(args: &SpanArgs) -> syn::Result<()> {
    if let Some(fields) = &args.attrs.value {
        for (i, field) in fields.iter().enumerate() {
            if field.key.is_empty() {
                return Err(syn::Error::new(
                    field.key_span,
                    "an attribute key cannot be empty",
                ));
            }
            if fields[..i].iter().any(|f| f.key == field.key) {
                return Err(syn::Error::new(
                    field.key_span,
                    format!("attribute `{}` is given twice", field.key),
                ));
            }
        }
    }
    if let Some(fields) = &args.annotations.value {
        annotations(fields)?;
    }
    Ok(())
}

/// X-Ray's rules, checked where the key is written rather than at the
/// collector, which would drop or rewrite it silently.
fn annotations(fields: &[Field]) -> syn::Result<()> {
    for (i, field) in fields.iter().enumerate() {
        let key = &field.key;
        if key.is_empty() || key.len() > MAX_ANNOTATION_KEY {
            return Err(syn::Error::new(
                field.key_span,
                format!(
                    "an X-Ray annotation key has 1 to {MAX_ANNOTATION_KEY} characters; this one has {}",
                    key.len()
                ),
            ));
        }
        if let Some(bad) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(syn::Error::new(
                field.key_span,
                format!(
                    "X-Ray annotation keys may contain only ASCII letters, digits and `_`, and `{key}` contains {bad:?}; \
                     try `{}`",
                    key.chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect::<String>()
                ),
            ));
        }
        if fields[..i].iter().any(|f| f.key == *key) {
            return Err(syn::Error::new(
                field.key_span,
                format!("annotation `{key}` is given twice"),
            ));
        }
        if i == MAX_ANNOTATIONS {
            return Err(syn::Error::new(
                field.key_span,
                format!(
                    "X-Ray indexes at most {MAX_ANNOTATIONS} annotations per segment; record the rest with `attrs(...)`"
                ),
            ));
        }
    }
    Ok(())
}

/// A root span's parent comes from one place.
pub fn root_options(args: &RootArgs) -> syn::Result<()> {
    let given: Vec<(&str, Span)> = [
        ("headers", args.headers.value.as_ref().map(|e| e.span())),
        (
            "trace_header",
            args.trace_header.value.as_ref().map(|e| e.span()),
        ),
        ("lambda", args.lambda.value),
    ]
    .into_iter()
    .filter_map(|(name, span)| span.map(|s| (name, s)))
    .collect();
    if let [(first, _), (second, span), ..] = given.as_slice() {
        return Err(syn::Error::new(
            *span,
            format!("`{second}` and `{first}` both name where the trace comes from; keep one"),
        ));
    }
    Ok(())
}

/// `#[xray_main]` goes on `fn main()`, and an async one needs a runtime
/// attribute to run it.
pub fn main_fn(function: &ItemFn, is_inert: impl Fn(&syn::Attribute) -> bool) -> syn::Result<()> {
    let sig = &function.sig;
    if sig.ident != "main" {
        return Err(syn::Error::new(
            sig.ident.span(),
            format!(
                "#[xray_main] goes on `fn main`, not on `{}`; elsewhere, call `xray_runtime::init(Config)` and keep the guard it returns",
                sig.ident
            ),
        ));
    }
    if let Some(input) = sig.inputs.first() {
        return Err(syn::Error::new(
            input.span(),
            "`main` takes no arguments; remove them",
        ));
    }
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "`main` cannot be a `const fn`",
        ));
    }
    if let Some(asyncness) = &sig.asyncness
        && function.attrs.iter().all(is_inert)
    {
        return Err(syn::Error::new(
            asyncness.span(),
            "an async `main` needs a runtime: put `#[tokio::main]` below `#[xray_main]`",
        ));
    }
    Ok(())
}
