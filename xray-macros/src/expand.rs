//! From parsed options and function to the instrumented function.
//!
//! Expansions are thin: they declare the span's static description, collect
//! attributes in a closure the runtime calls only for recorded spans, and
//! hand the body to `::xray_runtime::__private`. Everything else (ending the
//! span exactly once, panics, cancellation) is ordinary runtime code.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, Pat, ReturnType, Type};

use crate::args::{self, Field, Format, Macro, MainArgs, RootArgs, SpanArgs};
use crate::item::ItemFn;
use crate::paths::{local, private};

/// The most annotations X-Ray indexes on one segment.
const MAX_ANNOTATIONS: usize = 50;
/// The longest X-Ray annotation key.
const MAX_ANNOTATION_KEY: usize = 500;

/// The original item followed by the error: the rest of the crate keeps
/// type-checking against the function, and the user sees one error.
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
        Ok(syn::Item::Impl(_)) => "an impl block (put it on each method)",
        Ok(syn::Item::Trait(_)) => "a trait",
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

pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    span_macro(Macro::Traced, args, item)
}

pub fn xray_root(args: TokenStream, item: TokenStream) -> TokenStream {
    span_macro(Macro::Root, args, item)
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
    let checked = parsed
        .and_then(|()| validate_fn(name, &function))
        .and_then(|()| validate_span_args(&span_args, &function))
        .and_then(|()| validate_root_args(&root_args));
    if let Err(error) = checked {
        return with_error(item, error);
    }
    if cfg!(feature = "disabled") {
        return item;
    }
    let root = (which == Macro::Root).then_some(&root_args);
    instrument(function, &span_args, root)
}

fn validate_fn(name: &str, function: &ItemFn) -> syn::Result<()> {
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

/// Names bound by the function's parameters, `self` included.
fn parameter_names(function: &ItemFn) -> Vec<Ident> {
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
    for input in &function.sig.inputs {
        match input {
            FnArg::Receiver(r) => names.push(Ident::new("self", r.self_token.span)),
            FnArg::Typed(t) => bind(&t.pat, &mut names),
        }
    }
    names
}

fn validate_span_args(args: &SpanArgs, function: &ItemFn) -> syn::Result<()> {
    if let Some(names) = &args.args.value {
        let params = parameter_names(function);
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
            if names[..i].contains(name) {
                return Err(syn::Error::new(
                    name.span(),
                    format!("`{name}` is listed twice in `args`"),
                ));
            }
        }
    }
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
        validate_annotations(fields)?;
    }
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

/// X-Ray's rules, checked where the key is written rather than at the
/// collector, which would drop or rewrite it silently.
fn validate_annotations(fields: &[Field]) -> syn::Result<()> {
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

fn validate_root_args(args: &RootArgs) -> syn::Result<()> {
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

/// Whether the return type is written as a `Result` (`Result<..>`,
/// `io::Result<..>`, an alias named `...Result`).
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match ty.as_ref() {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident.to_string().ends_with("Result")),
            _ => false,
        },
        ReturnType::Default => false,
    }
}

/// The return type with every `impl Trait` replaced by `_`, usable in a
/// `let` annotation.
fn binding_type(output: &ReturnType) -> Type {
    struct EraseImplTrait;
    impl VisitMut for EraseImplTrait {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(t) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](t.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            EraseImplTrait.visit_type_mut(&mut ty);
            ty
        }
    }
}

fn kind_tokens(kind: Option<&Ident>, default: &str) -> TokenStream {
    let private = private();
    let name = kind.map_or_else(|| default.to_string(), ToString::to_string);
    let variant = match name.as_str() {
        "server" => "Server",
        "client" => "Client",
        "producer" => "Producer",
        "consumer" => "Consumer",
        _ => "Internal",
    };
    let variant = Ident::new(variant, kind.map_or_else(Span::call_site, Ident::span));
    quote!(#private::SpanKind::#variant)
}

fn value_tokens(format: Format, value: &TokenStream, span: Span) -> TokenStream {
    let private = private();
    match format {
        Format::Auto => {
            quote_spanned!(span=> (&&#private::dispatch::AttrWrap(&(#value))).__xray_attr_value())
        }
        Format::Display => quote_spanned!(span=> #private::display_value(&(#value))),
        Format::Debug => quote_spanned!(span=> #private::debug_value(&(#value))),
    }
}

/// The closure that records attributes when the span is sampled.
fn recorder(args: &SpanArgs) -> TokenStream {
    let private = private();
    let r = local("__xray_recorder");
    let mut records = Vec::new();
    for name in args.args.value.iter().flatten() {
        let key = name.to_string();
        let value = value_tokens(Format::Auto, &name.to_token_stream(), name.span());
        records.push(quote_spanned!(name.span()=> #r.attr(#key, #value);));
    }
    for field in args.attrs.value.iter().flatten() {
        let key = &field.key;
        let value = value_tokens(
            field.format,
            &field.value.to_token_stream(),
            field.value.span(),
        );
        records.push(quote_spanned!(field.key_span=> #r.attr(#key, #value);));
    }
    for field in args.annotations.value.iter().flatten() {
        let key = &field.key;
        let expr = &field.value;
        let value = match field.format {
            Format::Auto => quote_spanned!(expr.span()=> #private::annotation_value(&(#expr))),
            format => value_tokens(format, &expr.to_token_stream(), expr.span()),
        };
        records.push(quote_spanned!(field.key_span=> #r.annotation(#key, #value);));
    }
    if records.is_empty() {
        return quote!(|_: &mut #private::Recorder| {});
    }
    quote! {
        |#r: &mut #private::Recorder| {
            #[allow(unused_imports)]
            use #private::dispatch::{AttrDebug as _, AttrNative as _};
            #(#records)*
        }
    }
}

/// What to record once the function returned `out` (a reference), or
/// `None` when nothing is.
///
/// Whether the value is a `Result` is decided by its type, through the
/// `OutcomeWrap` dispatch: a type merely named `...Result` records nothing.
fn outcome(args: &SpanArgs, function: &ItemFn, span: &Ident, out: &Ident) -> Option<TokenStream> {
    let private = private();
    let e = local("__xray_err");
    let error_source = match args.err.value {
        Some((true, err_span)) => {
            Some(quote_spanned!(err_span=> ::xray_runtime::__private::forced_err(#out)))
        }
        Some((false, _)) => None,
        None if returns_result(&function.sig.output) => {
            Some(quote!((&&#private::dispatch::OutcomeWrap(#out)).__xray_err()))
        }
        None => None,
    };
    let mut steps = Vec::new();
    if let Some(source) = error_source {
        steps.push(quote! {
            if let ::core::option::Option::Some(#e) = #source {
                #span.record_error((&&&&#private::dispatch::ErrWrap(#e)).__xray_error_info());
            }
        });
    }
    if let Some((format, ret_span)) = args.ret.value {
        let v = local("__xray_value");
        let value = match format {
            Format::Auto => quote!((&&&&#private::dispatch::RetWrap(#v)).__xray_ret_value()),
            Format::Display => {
                quote_spanned!(ret_span=> ::xray_runtime::__private::display_value(#v))
            }
            Format::Debug => quote_spanned!(ret_span=> ::xray_runtime::__private::debug_value(#v)),
        };
        // For a `Result`, the `Ok` value; the error is recorded above.
        steps.push(quote! {
            if let ::core::option::Option::Some(#v) = (&&#private::dispatch::OutcomeWrap(#out)).__xray_value() {
                #span.record_return(#value);
            }
        });
    }
    if steps.is_empty() {
        return None;
    }
    Some(quote! {
        #[allow(unused_imports)]
        use #private::dispatch::{
            ErrIsDebug as _, ErrIsDisplay as _, ErrIsError as _, ErrOpaque as _, OutcomeOther as _,
            OutcomeResult as _, RetDebug as _, RetDisplay as _, RetNative as _, RetOpaque as _,
        };
        #(#steps)*
    })
}

/// Pins the type of the enclosing closure or async block to the function's
/// return type before the body runs, so `?` and `.into()` in the body infer
/// as they would in the function itself.
fn fake_return(ret: &Type) -> TokenStream {
    let fake = local("__xray_fake_return");
    quote! {
        #[allow(
            unknown_lints, unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop,
            clippy::let_unit_value, clippy::let_with_type_underscore, clippy::unreachable
        )]
        if false {
            let #fake: #ret = loop {};
            return #fake;
        }
    }
}

fn instrument(function: ItemFn, args: &SpanArgs, root: Option<&RootArgs>) -> TokenStream {
    let private = private();
    let ItemFn {
        attrs,
        vis,
        sig,
        body,
    } = &function;
    let name = args
        .name
        .value
        .as_ref()
        .map_or_else(|| sig.ident.unraw().to_string(), syn::LitStr::value);
    let kind = kind_tokens(
        args.kind.value.as_ref(),
        if root.is_some() { "server" } else { "internal" },
    );
    let flush = root.is_some_and(|r| r.lambda.value.is_some());
    let spec = local("__xray_spec");
    let records = recorder(args);
    let parent = root.map(|r| {
        if let Some(headers) = &r.headers.value {
            quote_spanned!(headers.span()=> || #private::parent_from_headers(&(#headers)))
        } else if let Some(header) = &r.trace_header.value {
            quote_spanned!(header.span()=> || #private::parent_from_trace_header(&(#header)))
        } else if r.lambda.value.is_some() {
            quote!(#private::parent_from_lambda)
        } else {
            quote!(#private::no_parent)
        }
    });
    let ret = binding_type(&sig.output);
    let span = local("__xray_span");
    let out = local("__xray_out");
    let on_outcome = outcome(args, &function, &span, &out);
    let fake = fake_return(&ret);

    let declare = quote! {
        let #spec: &'static #private::SpanSpec = {
            static SPEC: #private::SpanSpec = #private::SpanSpec { name: #name, kind: #kind, flush: #flush };
            &SPEC
        };
    };
    let new_body = if sig.asyncness.is_some() {
        let start = match &parent {
            Some(parent) => quote!(#private::start_root(#spec, #parent, #records)),
            None => quote!(#private::start(#spec, #records)),
        };
        let on_outcome = on_outcome.unwrap_or_default();
        quote! {{
            #declare
            let #span = #start;
            #private::instrument(
                #span,
                async move { #fake #body },
                |#span: &#private::ActiveSpan, #out: &#ret| { #on_outcome },
            )
            .await
        }}
    } else {
        let guard = local("__xray_guard");
        let enter = match &parent {
            Some(parent) => quote!(#private::enter_root(#spec, #parent, #records)),
            None => quote!(#private::enter(#spec, #records)),
        };
        match on_outcome {
            None => quote! {{
                #declare
                let #guard = #enter;
                #body
            }},
            Some(on_outcome) => {
                let value = local("__xray_value");
                quote! {{
                    #declare
                    let #guard = #enter;
                    let #value: #ret = #private::call_once(move || { #fake #body });
                    {
                        let #span = #guard.span();
                        let #out = &#value;
                        #on_outcome
                    }
                    #value
                }}
            }
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig #new_body
    }
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
        .and_then(|()| validate_main(&function));
    if let Err(error) = checked {
        return with_error(item, error);
    }
    if cfg!(feature = "disabled") {
        return item;
    }
    let private = private();
    let setters = main_setters(&main_args);
    let guard = local("__xray_guard");
    let ItemFn {
        attrs,
        vis,
        sig,
        body,
    } = &function;
    let init = quote! {
        let #guard = #private::init_main(
            #private::main_config(::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"))
            #(#setters)*
        );
    };
    let other_macros = attrs.iter().any(|a| !is_inert(a));
    if sig.asyncness.is_none() && !other_macros {
        return quote! {
            #(#attrs)*
            #vis #sig {
                #init
                #body
            }
        };
    }
    // Input:
    //     #[xray_main] #[tokio::main] async fn main() -> R { body }
    // Output:
    //     fn main() -> R {
    //         let guard = init(..);
    //         #[tokio::main] async fn main() -> R { body }
    //         main()
    //     }
    // The guard outlives whatever the other attributes wrap main in: a
    // runtime (spans of tasks it cancels at shutdown are flushed too), or a
    // `#[traced]` span (which then starts after the provider is installed).
    let mut outer = sig.clone();
    outer.asyncness = None;
    let inner = &sig.ident;
    quote! {
        #vis #outer {
            #init
            #(#attrs)*
            #sig #body
            #inner()
        }
    }
}

/// Attributes that do not wrap the function in anything.
fn is_inert(attr: &syn::Attribute) -> bool {
    const INERT: &[&str] = &[
        "doc",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "must_use",
        "inline",
        "cold",
        "cfg",
        "track_caller",
        "rustfmt",
        "clippy",
    ];
    attr.path()
        .segments
        .first()
        .is_some_and(|s| INERT.contains(&s.ident.to_string().as_str()))
}

fn validate_main(function: &ItemFn) -> syn::Result<()> {
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

fn main_setters(args: &MainArgs) -> Vec<TokenStream> {
    let mut setters = Vec::new();
    if let Some(service) = &args.service.value {
        setters.push(quote!(.service_name(#service)));
    }
    if let Some(exporter) = &args.exporter.value {
        let variant = match exporter.to_string().as_str() {
            "otlp" => "Otlp",
            "json" => "Json",
            "none" => "None",
            _ => "Console",
        };
        let variant = Ident::new(variant, exporter.span());
        setters.push(quote!(.exporter(::xray_runtime::ExporterKind::#variant)));
    }
    if let Some(endpoint) = &args.endpoint.value {
        setters.push(quote!(.endpoint(#endpoint)));
    }
    if let Some(protocol) = &args.protocol.value {
        let variant = if protocol == "grpc" {
            "Grpc"
        } else {
            "HttpProtobuf"
        };
        let variant = Ident::new(variant, protocol.span());
        setters.push(quote!(.protocol(::xray_runtime::Protocol::#variant)));
    }
    if let Some(propagators) = &args.propagators.value {
        setters.push(quote!(.propagators(#propagators)));
    }
    if let Some(sampler) = &args.sampler.value {
        let kind = quote!(::xray_runtime::SamplerKind);
        let ratio = &sampler.ratio;
        let value = match sampler.name.to_string().as_str() {
            "always_on" => quote!(#kind::AlwaysOn),
            "always_off" => quote!(#kind::AlwaysOff),
            "parentbased_always_off" => quote!(#kind::ParentBasedAlwaysOff),
            "traceidratio" => quote!(#kind::TraceIdRatio(#ratio)),
            "parentbased_traceidratio" => quote!(#kind::ParentBasedTraceIdRatio(#ratio)),
            _ => quote!(#kind::ParentBasedAlwaysOn),
        };
        setters.push(quote!(.sampler(#value)));
    }
    if let Some(ms) = &args.shutdown_timeout_ms.value {
        setters.push(quote!(.shutdown_timeout(::core::time::Duration::from_millis(#ms))));
    }
    setters
}
