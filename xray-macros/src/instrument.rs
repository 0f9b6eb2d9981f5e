//! From one function and its resolved options to the instrumented function.
//!
//! Expansions are thin: they declare the span's static description, collect
//! attributes in a closure the runtime calls only for recorded spans, and
//! hand the body to `::xray_runtime::__private`. Everything else (ending the
//! span exactly once, panics, cancellation) is ordinary runtime code.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Ident, Type};

use crate::args::Format;
use crate::async_like::{ReturnedFuture, Shape};
use crate::item::{ItemFn, split_inner_attrs};
use crate::options::{ErrMode, SpanOptions};
use crate::paths::{local, private, private_at};

/// The function with its body wrapped in a span. The signature, the
/// attributes (the body's inner ones lifted onto the function) and the
/// visibility are kept as written.
pub fn instrument(function: &ItemFn, shape: &Shape, options: &SpanOptions<'_>) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        defaultness,
        sig,
        ..
    } = function;
    let lifted = function.lifted_attrs();
    let body = match shape {
        Shape::Sync => sync_body(function, options),
        Shape::Async => async_body(function, options),
        Shape::ReturnsFuture(future) => returned_future_body(future, function.body.span(), options),
    };
    quote! {
        #(#attrs)*
        #(#lifted)*
        #vis #defaultness #sig #body
    }
}

// Input:
//     fn f(x: T) -> R { body }
// Output:
//     fn f(x: T) -> R {{
//         let spec = &SPEC;
//         let guard = enter(spec, |recorder| { /* args, attrs, annotations */ });
//         body                                   // when nothing is recorded at the end
//         // or, to look at the value before the span ends:
//         let value: R = call_once(move || { body });
//         { /* record error, return value */ }
//         value
//     }}
fn sync_body(function: &ItemFn, options: &SpanOptions<'_>) -> TokenStream {
    let private = private();
    let declare = declare_spec(options);
    let body_span = function.body.span();
    let body = function.body.stream();
    let guard = local("__xray_guard");
    let spec = local("__xray_spec");
    let records = recorder(options);
    let enter = match parent(options) {
        Some(parent) => quote!(#private::enter_root(#spec, #parent, #records)),
        None => quote!(#private::enter(#spec, #records)),
    };
    let span = local("__xray_span");
    let out = local("__xray_out");
    // A metered call: its meter drops before the guard, in the span.
    let meter = local("__xray_meter");
    let metered = options.metrics.then(|| {
        let site = local("__xray_site");
        quote!(let #meter = #private::meter(#site, &#guard);)
    });
    let enter = quote! {
        let #guard = #enter;
        #metered
    };
    let meter_ref = options.metrics.then_some(&meter);
    match outcome(options, &span, &out, meter_ref) {
        None => braced(
            body_span,
            quote! {
                #declare
                #enter
                #body
            },
        ),
        Some(on_outcome) => {
            let ret = binding_type(function.sig.output.clone());
            let fake = fake_return(&ret);
            let value = local("__xray_value");
            let closure_body = braced(body_span, quote!(#fake #body));
            braced(
                body_span,
                quote! {
                    #declare
                    #enter
                    let #value: #ret = #private::call_once(move || #closure_body);
                    {
                        let #span = #guard.span();
                        let #out = &#value;
                        #on_outcome
                    }
                    #value
                },
            )
        }
    }
}

/// `{ tokens }`, with the braces where the user's body braces were: the
/// user's statements go straight in, not in a nested block (which the
/// `unused_braces` lint would flag in the user's code), and errors about the
/// block as a whole point at the user's braces.
fn braced(span: Span, tokens: TokenStream) -> TokenStream {
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(span);
    group.into_token_stream()
}

// Input:
//     async fn f(x: T) -> R { body }
// Output:
//     async fn f(x: T) -> R {{
//         let spec = &SPEC;
//         let span = start(spec, |recorder| { .. });
//         instrument(span, async move { body }, |span, out: &R| { /* outcome */ }).await
//     }}
// The span is current during each poll only: nothing thread-bound is held
// across `.await`, so the future's `Send`-ness does not change.
fn async_body(function: &ItemFn, options: &SpanOptions<'_>) -> TokenStream {
    let private = private();
    let declare = declare_spec(options);
    let span = local("__xray_span");
    let out = local("__xray_out");
    let ret = binding_type(function.sig.output.clone());
    let fake = fake_return(&ret);
    let body_span = function.body.span();
    let body = function.body.stream();
    let future_body = braced(body_span, quote!(#fake #body));
    let start = start(options);
    let on_outcome = outcome(options, &span, &out, None).unwrap_or_default();
    let instrumented = instrument_call(
        options,
        &span,
        quote!(async move #future_body),
        quote!(|#span: &#private::ActiveSpan, #out: &#ret| { #on_outcome }),
        &quote!(: &#ret),
    );
    braced(
        body_span,
        quote! {
            #declare
            let #span = #start;
            #instrumented.await
        },
    )
}

/// `instrument(span, future, on_outcome)`, or for a metered call
/// `instrument_metered(site, span, future, on_outcome, is_error)`.
fn instrument_call(
    options: &SpanOptions<'_>,
    span: &Ident,
    future: TokenStream,
    on_outcome: TokenStream,
    out_type: &TokenStream,
) -> TokenStream {
    let private = private();
    if !options.metrics {
        return quote! {
            #private::instrument(#span, #future, #on_outcome)
        };
    }
    let site = local("__xray_site");
    let out = local("__xray_out");
    let is_error = match error_source(options, &out) {
        Some(source) => quote!(|#out #out_type| ::core::option::Option::is_some(&#source)),
        None => quote!(|_ #out_type| false),
    };
    quote! {
        #private::instrument_metered(#site, #span, #future, #on_outcome, #is_error)
    }
}

// Input:
//     fn f(x: T) -> impl Future<Output = R> { setup; async move { body } }
//     fn f(x: T) -> Pin<Box<dyn Future<Output = R> + Send>> { Box::pin(async move { body }) }
// Output:
//     fn f(x: T) -> .. {{
//         let spec = &SPEC;
//         let span = start(spec, |recorder| { .. });
//         setup;
//         [Box::pin](instrument(span, async move { body }, |span, out: &R| { .. }))
//     }}
// The span starts when the function is called, so that the options can
// read the arguments before the setup statements move them; the setup runs
// in the caller's span. The span is current during each poll of the future
// and ends when the future completes or is dropped (then as cancelled): it
// measures the work, from the call to the result.
fn returned_future_body(
    future: &ReturnedFuture,
    body_span: Span,
    options: &SpanOptions<'_>,
) -> TokenStream {
    let private = private();
    let declare = declare_spec(options);
    let span = local("__xray_span");
    let out = local("__xray_out");
    let ReturnedFuture {
        setup,
        boxed,
        async_token,
        move_token,
        block,
        output,
    } = future;
    let output = output.clone().map(binding_type_of);
    let async_block = match &output {
        Some(ty) => {
            // The pin goes after the block's own inner attributes.
            let (inner_attrs, rest) = split_inner_attrs(block.clone());
            let fake = fake_return(ty);
            let rest = rest.stream();
            let block = braced(block.span(), quote!(#(#inner_attrs)* #fake #rest));
            quote!(#async_token #move_token #block)
        }
        None => quote!(#async_token #move_token #block),
    };
    let out_type = output.as_ref().map(|ty| quote!(: &#ty));
    let start = start(options);
    let on_outcome = outcome(options, &span, &out, None).unwrap_or_default();
    let instrumented = instrument_call(
        options,
        &span,
        async_block,
        quote!(|#span: &#private::ActiveSpan, #out #out_type| { #on_outcome }),
        &out_type.clone().unwrap_or_default(),
    );
    let tail = match boxed {
        Some(path) => quote!(#path(#instrumented)),
        None => instrumented,
    };
    braced(
        body_span,
        quote! {
            #declare
            let #span = #start;
            #setup
            #tail
        },
    )
}

/// `let __xray_spec: &'static SpanSpec = ..;`: what the span is, fixed at
/// compile time.
fn declare_spec(options: &SpanOptions<'_>) -> TokenStream {
    let private = private();
    let spec = local("__xray_spec");
    let name = &options.name;
    let kind = options.kind;
    let flush = options.root.is_some_and(|r| r.lambda.value.is_some());
    let site = options.metrics.then(|| {
        let site = local("__xray_site");
        let function = &options.function;
        quote! {
            let #site: &'static #private::MeterSite = {
                static SITE: #private::MeterSite = #private::MeterSite::new(
                    ::core::concat!(::core::module_path!(), "::", #function)
                );
                &SITE
            };
        }
    });
    quote! {
        let #spec: &'static #private::SpanSpec = {
            static SPEC: #private::SpanSpec = #private::SpanSpec { name: #name, kind: #kind, flush: #flush };
            &SPEC
        };
        #site
    }
}

/// Starts the span of a future, without making it current.
fn start(options: &SpanOptions<'_>) -> TokenStream {
    let private = private();
    let spec = local("__xray_spec");
    let records = recorder(options);
    match parent(options) {
        Some(parent) => quote!(#private::start_root(#spec, #parent, #records)),
        None => quote!(#private::start(#spec, #records)),
    }
}

/// For `#[xray_root]`: where the parent context comes from.
fn parent(options: &SpanOptions<'_>) -> Option<TokenStream> {
    let private = private();
    let root = options.root?;
    Some(if let Some(headers) = &root.headers.value {
        quote_spanned!(headers.span()=> || #private::parent_from_headers(&(#headers)))
    } else if let Some(header) = &root.trace_header.value {
        quote_spanned!(header.span()=> || #private::parent_from_trace_header(&(#header)))
    } else if root.lambda.value.is_some() {
        quote!(#private::parent_from_lambda)
    } else {
        quote!(#private::no_parent)
    })
}

fn value_tokens(format: Format, value: &TokenStream, span: Span) -> TokenStream {
    let private = private_at(span);
    if let Some(literal) = plain_literal(format, value) {
        return quote_spanned!(span=> #private::literal_value(#literal));
    }
    match format {
        Format::Auto => quote_spanned!(span=> #private::attr_value!(&(#value))),
        Format::Display => quote_spanned!(span=> #private::display_value(&(#value))),
        Format::Debug => quote_spanned!(span=> #private::debug_value(&(#value))),
    }
}

/// A string literal recorded as written (`Debug` would quote it), which the
/// runtime records without copying it.
fn plain_literal(format: Format, value: &TokenStream) -> Option<syn::LitStr> {
    if !matches!(format, Format::Auto | Format::Display) {
        return None;
    }
    syn::parse2::<syn::LitStr>(value.clone()).ok()
}

/// The closure that records attributes when the span is sampled.
fn recorder(options: &SpanOptions<'_>) -> TokenStream {
    let private = private();
    let r = local("__xray_recorder");
    let mut records = Vec::new();
    for name in &options.args {
        let key = name.to_string();
        let value = value_tokens(Format::Auto, &name.to_token_stream(), name.span());
        records.push(quote_spanned!(name.span()=> #r.attr(#key, #value);));
    }
    for field in options.attrs {
        let key = &field.key;
        let value = value_tokens(
            field.format,
            &field.value.to_token_stream(),
            field.value.span(),
        );
        if options.root.is_some() {
            // Sampling rules match a root's request: the key's field is
            // worked out at compile time.
            records.push(quote_spanned!(field.key_span=> #r.root_attr(
                #key,
                { const KEY: #private::RequestKey = #private::request_key(#key); KEY },
                #value,
            );));
        } else {
            records.push(quote_spanned!(field.key_span=> #r.attr(#key, #value);));
        }
    }
    for field in options.annotations {
        let key = &field.key;
        let expr = &field.value;
        let value = match field.format {
            Format::Auto if plain_literal(field.format, &expr.to_token_stream()).is_none() => {
                let private = private_at(expr.span());
                quote_spanned!(expr.span()=> #private::annotation_value(&(#expr)))
            }
            format => value_tokens(format, &expr.to_token_stream(), expr.span()),
        };
        records.push(quote_spanned!(field.key_span=> #r.annotation(#key, #value);));
    }
    if records.is_empty() {
        return quote!(|_: &mut #private::Recorder| {});
    }
    quote! {
        |#r: &mut #private::Recorder| {
            #(#records)*
        }
    }
}

/// The error in `out` (a reference to the value), as an `Option`, when
/// errors are recorded.
///
/// Whether the value is a `Result` is decided by its type, through the
/// runtime's `outcome_err!` dispatch: a type merely named `...Result` records nothing.
fn error_source(options: &SpanOptions<'_>, out: &Ident) -> Option<TokenStream> {
    let private = private();
    match options.err {
        ErrMode::Forced(err_span) => {
            let private = private_at(err_span);
            Some(quote_spanned!(err_span=> #private::forced_err(#out)))
        }
        ErrMode::ByType => Some(quote!(#private::outcome_err!(#out))),
        ErrMode::Off => None,
    }
}

/// What to record once the function produced `out` (a reference), or
/// `None` when nothing is; `meter`, a synchronous call's meter, is told
/// of an error.
fn outcome(
    options: &SpanOptions<'_>,
    span: &Ident,
    out: &Ident,
    meter: Option<&Ident>,
) -> Option<TokenStream> {
    let private = private();
    let e = local("__xray_err");
    let mut steps = Vec::new();
    if let Some(source) = error_source(options, out) {
        let failed = meter.map(|meter| quote!(#meter.failed_if(true);));
        steps.push(quote! {
            if let ::core::option::Option::Some(#e) = #source {
                #span.record_error(#private::error_info!(#e));
                #failed
            }
        });
    }
    if let Some((format, ret_span)) = options.ret {
        let v = local("__xray_value");
        let at = private_at(ret_span);
        let value = match format {
            Format::Auto => quote!(#private::ret_value!(#v)),
            Format::Display => quote_spanned!(ret_span=> #at::display_value(#v)),
            Format::Debug => quote_spanned!(ret_span=> #at::debug_value(#v)),
        };
        // For a `Result`, the `Ok` value; the error is recorded above.
        steps.push(quote! {
            if let ::core::option::Option::Some(#v) = #private::outcome_value!(#out) {
                #span.record_return(#value);
            }
        });
    }
    if steps.is_empty() {
        return None;
    }
    Some(quote!(#(#steps)*))
}

/// The return type with every `impl Trait` replaced by `_`, usable in a
/// `let` annotation.
fn binding_type(output: syn::ReturnType) -> Type {
    match output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => binding_type_of(*ty),
    }
}

fn binding_type_of(mut ty: Type) -> Type {
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
    EraseImplTrait.visit_type_mut(&mut ty);
    ty
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
