//! `#[xray_main]`: install the provider before `main`'s body, and keep the
//! guard that flushes it until `main` returns, errs or panics.

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::MainArgs;
use crate::item::ItemFn;
use crate::paths::{local, private};

pub fn main(function: &ItemFn, args: &MainArgs) -> TokenStream {
    let private = private();
    let setters = main_setters(args);
    let guard = local("__xray_guard");
    let ItemFn {
        attrs, vis, sig, ..
    } = function;
    let init = quote! {
        let #guard = #private::init_main(
            #private::main_config(::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"))
            #(#setters)*
        );
    };
    let other_macros = attrs.iter().any(|a| !is_inert(a));
    if sig.asyncness.is_none() && !other_macros {
        let lifted = function.lifted_attrs();
        let body = &function.body;
        return quote! {
            #(#attrs)*
            #(#lifted)*
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
    let body = function.full_body();
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
pub fn is_inert(attr: &syn::Attribute) -> bool {
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

fn main_setters(args: &MainArgs) -> Vec<TokenStream> {
    let mut setters = Vec::new();
    if let Some(service) = &args.service.value {
        setters.push(quote!(.service_name(#service)));
    }
    if let Some(exporter) = &args.exporter.value {
        setters.push(quote!(.exporter(#exporter)));
    }
    if let Some(endpoint) = &args.endpoint.value {
        setters.push(quote!(.endpoint(#endpoint)));
    }
    if let Some(protocol) = &args.protocol.value {
        setters.push(quote!(.protocol(#protocol)));
    }
    if let Some(compression) = &args.compression.value {
        setters.push(quote!(.gzip(#compression)));
    }
    if let Some(propagators) = &args.propagators.value {
        setters.push(quote!(.propagators(#propagators)));
    }
    if let Some(sampler) = &args.sampler.value {
        setters.push(quote!(.sampler(#sampler)));
        if !sampler.xray.is_empty() {
            let settings = &sampler.xray;
            setters.push(quote!(.xray_sampling(#settings)));
        }
    }
    if let Some(ms) = &args.shutdown_timeout_ms.value {
        setters.push(quote!(.shutdown_timeout(::core::time::Duration::from_millis(#ms))));
    }
    if let Some(detectors) = &args.resource_detectors.value {
        setters.push(quote!(.resource_detectors(#detectors)));
    }
    if let Some(logs) = &args.logs.value {
        setters.push(quote!(.logs(#logs)));
    }
    if let Some(metrics) = &args.metrics.value {
        setters.push(quote!(.metrics(#metrics)));
    }
    setters
}
