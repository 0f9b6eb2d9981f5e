//! The closed sets of option values: span kinds, exporters, protocols and
//! samplers. Each is parsed once from the bare word the user wrote (an
//! error at that word lists the valid ones) and prints itself as the
//! runtime value it stands for, so that no second table of names can
//! disagree with the first.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, TokenStreamExt, quote};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Ident, LitFloat, LitStr};

use crate::paths::private;

/// A value from a closed set, written as a bare word.
pub trait Choice: Copy + Sized + 'static {
    /// The option that takes it (`kind`), for error messages.
    const OPTION: &'static str;
    /// What a value is called in error messages (`span kind`).
    const NOUN: &'static str;
    /// Every value, by the word that names it.
    const NAMES: &'static [(&'static str, Self)];

    /// The runtime value, with its last token at `span`.
    fn runtime(self, span: Span) -> TokenStream;

    /// The word that names the value.
    fn name(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::NAMES
            .iter()
            .find(|(_, value)| *value == self)
            .map_or("", |(name, _)| name)
    }

    /// How the value is written in the list of valid ones.
    fn spelled(name: &str, _value: Self) -> String {
        name.to_string()
    }

    /// The valid values, as an error message lists them.
    fn valid() -> String {
        Self::NAMES
            .iter()
            .map(|&(name, value)| Self::spelled(name, value))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A value and where the user wrote it.
#[derive(Clone, Copy)]
pub struct Written<T> {
    pub value: T,
    pub span: Span,
}

impl<T: Choice> Written<T> {
    /// Parses the bare word that names a value.
    pub fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            let word = lit.value();
            let fix = if T::NAMES.iter().any(|(name, _)| *name == word) {
                format!("write it without quotes: `{} = {word}`", T::OPTION)
            } else {
                format!("write one of: {}", T::valid())
            };
            return Err(syn::Error::new(
                lit.span(),
                format!("`{}` takes a bare word, not a string; {fix}", T::OPTION),
            ));
        }
        let ident = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("`{}` takes one of: {}", T::OPTION, T::valid()),
            )
        })?;
        let word = ident.to_string();
        match T::NAMES.iter().find(|(name, _)| *name == word) {
            Some(&(_, value)) => Ok(Self {
                value,
                span: ident.span(),
            }),
            None => Err(syn::Error::new(
                ident.span(),
                format!(
                    "unknown {} `{ident}`; expected one of: {}",
                    T::NOUN,
                    T::valid()
                ),
            )),
        }
    }
}

impl<T: Choice> ToTokens for Written<T> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.value.runtime(self.span));
    }
}

/// `#private::<ty>::<variant>`, the variant spanned at the user's word.
fn runtime_path(ty: &str, variant: &str, span: Span) -> TokenStream {
    let private = private();
    let ty = Ident::new(ty, Span::call_site());
    let variant = Ident::new(variant, span);
    quote!(#private::#ty::#variant)
}

/// `kind = ...` of `#[traced]` and `#[xray_root]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Choice for Kind {
    const OPTION: &'static str = "kind";
    const NOUN: &'static str = "span kind";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("internal", Self::Internal),
        ("server", Self::Server),
        ("client", Self::Client),
        ("producer", Self::Producer),
        ("consumer", Self::Consumer),
    ];

    fn runtime(self, span: Span) -> TokenStream {
        let variant = match self {
            Self::Internal => "Internal",
            Self::Server => "Server",
            Self::Client => "Client",
            Self::Producer => "Producer",
            Self::Consumer => "Consumer",
        };
        runtime_path("SpanKind", variant, span)
    }
}

/// `exporter = ...` of `#[xray_main]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exporter {
    Otlp,
    Xray,
    Console,
    Json,
    None,
}

impl Choice for Exporter {
    const OPTION: &'static str = "exporter";
    const NOUN: &'static str = "exporter";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("otlp", Self::Otlp),
        ("xray", Self::Xray),
        ("console", Self::Console),
        ("json", Self::Json),
        ("none", Self::None),
    ];

    fn runtime(self, span: Span) -> TokenStream {
        let variant = match self {
            Self::Otlp => "Otlp",
            Self::Xray => "Xray",
            Self::Console => "Console",
            Self::Json => "Json",
            Self::None => "None",
        };
        runtime_path("ExporterKind", variant, span)
    }
}

/// `logs = ...` of `#[xray_main]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalExporter {
    Otlp,
    Console,
    None,
}

impl Choice for SignalExporter {
    const OPTION: &'static str = "logs";
    const NOUN: &'static str = "logs exporter";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("otlp", Self::Otlp),
        ("console", Self::Console),
        ("none", Self::None),
    ];

    fn runtime(self, span: Span) -> TokenStream {
        runtime_path("SignalExporter", self.variant(), span)
    }
}

impl SignalExporter {
    fn variant(self) -> &'static str {
        match self {
            Self::Otlp => "Otlp",
            Self::Console => "Console",
            Self::None => "None",
        }
    }
}

/// `metrics = ...` of `#[xray_main]`: the same values as `logs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsExporter(SignalExporter);

impl Choice for MetricsExporter {
    const OPTION: &'static str = "metrics";
    const NOUN: &'static str = "metrics exporter";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("otlp", Self(SignalExporter::Otlp)),
        ("console", Self(SignalExporter::Console)),
        ("none", Self(SignalExporter::None)),
    ];

    fn runtime(self, span: Span) -> TokenStream {
        runtime_path("SignalExporter", self.0.variant(), span)
    }
}

/// `protocol = ...` of `#[xray_main]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    Http,
}

impl Choice for Protocol {
    const OPTION: &'static str = "protocol";
    const NOUN: &'static str = "protocol";
    const NAMES: &'static [(&'static str, Self)] = &[("grpc", Self::Grpc), ("http", Self::Http)];

    fn runtime(self, span: Span) -> TokenStream {
        let variant = match self {
            Self::Grpc => "Grpc",
            Self::Http => "HttpProtobuf",
        };
        runtime_path("Protocol", variant, span)
    }
}

/// `compression = ...` of `#[xray_main]`: the argument of `Config::gzip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    None,
}

impl Choice for Compression {
    const OPTION: &'static str = "compression";
    const NOUN: &'static str = "compression";
    const NAMES: &'static [(&'static str, Self)] = &[("gzip", Self::Gzip), ("none", Self::None)];

    fn runtime(self, span: Span) -> TokenStream {
        let on = syn::LitBool::new(self == Self::Gzip, span);
        quote!(#on)
    }
}

/// The name in `sampler = ...` of `#[xray_main]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplerName {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio,
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio,
    Xray,
}

impl SamplerName {
    pub fn takes_ratio(self) -> bool {
        matches!(self, Self::TraceIdRatio | Self::ParentBasedTraceIdRatio)
    }
}

impl Choice for SamplerName {
    const OPTION: &'static str = "sampler";
    const NOUN: &'static str = "sampler";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("always_on", Self::AlwaysOn),
        ("always_off", Self::AlwaysOff),
        ("traceidratio", Self::TraceIdRatio),
        ("parentbased_always_on", Self::ParentBasedAlwaysOn),
        ("parentbased_always_off", Self::ParentBasedAlwaysOff),
        ("parentbased_traceidratio", Self::ParentBasedTraceIdRatio),
        ("xray", Self::Xray),
    ];

    fn runtime(self, span: Span) -> TokenStream {
        let variant = match self {
            Self::AlwaysOn => "AlwaysOn",
            Self::AlwaysOff => "AlwaysOff",
            Self::TraceIdRatio => "TraceIdRatio",
            Self::ParentBasedAlwaysOn => "ParentBasedAlwaysOn",
            Self::ParentBasedAlwaysOff => "ParentBasedAlwaysOff",
            Self::ParentBasedTraceIdRatio => "ParentBasedTraceIdRatio",
            Self::Xray => "Xray",
        };
        runtime_path("SamplerKind", variant, span)
    }

    fn spelled(name: &str, value: Self) -> String {
        if value.takes_ratio() {
            format!("{name}(RATIO)")
        } else {
            name.to_string()
        }
    }
}

/// `sampler = name`, `sampler = name(ratio)`, or
/// `sampler = xray(endpoint = "...", polling_interval = 60, rules = "...")`.
pub struct Sampler {
    pub name: Written<SamplerName>,
    /// Present exactly when the name takes a ratio.
    pub ratio: Option<LitFloat>,
    /// X-Ray sampling's settings, for `xray`.
    pub xray: XraySettings,
}

/// The settings in `xray(...)`; each is optional.
#[derive(Default)]
pub struct XraySettings {
    /// `endpoint = "http://host:port"` or `"none"`.
    pub endpoint: Option<LitStr>,
    /// `polling_interval = seconds`.
    pub polling_interval: Option<syn::LitInt>,
    /// `rules = "path"`.
    pub rules: Option<LitStr>,
}

impl XraySettings {
    /// Whether any setting was given.
    pub fn is_empty(&self) -> bool {
        self.endpoint.is_none() && self.polling_interval.is_none() && self.rules.is_none()
    }
}

impl ToTokens for XraySettings {
    /// The runtime's `XraySampling` with these settings.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let private = private();
        let mut settings = quote!(#private::XraySampling::new());
        if let Some(endpoint) = &self.endpoint {
            if endpoint.value().eq_ignore_ascii_case("none") {
                settings.extend(quote!(.local_only()));
            } else {
                settings.extend(quote!(.endpoint(#endpoint)));
            }
        }
        if let Some(seconds) = &self.polling_interval {
            settings.extend(quote!(.polling_interval(::core::time::Duration::from_secs(#seconds))));
        }
        if let Some(rules) = &self.rules {
            settings.extend(quote!(.rules_file(#rules)));
        }
        tokens.extend(settings);
    }
}

impl ToTokens for Sampler {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.name.to_tokens(tokens);
        if let Some(ratio) = &self.ratio {
            tokens.append(proc_macro2::Group::new(
                proc_macro2::Delimiter::Parenthesis,
                ratio.to_token_stream(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed<T: Choice>(tokens: TokenStream) -> syn::Result<Written<T>> {
        syn::parse::Parser::parse2(Written::<T>::parse, tokens)
    }

    #[test]
    fn every_name_prints_its_runtime_value() {
        let printed = |tokens: TokenStream| tokens.to_string().replace(' ', "");
        for &(name, value) in Kind::NAMES {
            let ident = Ident::new(name, Span::call_site());
            let kind = parsed::<Kind>(quote!(#ident)).expect("valid kind");
            assert_eq!(kind.value, value);
            let tokens = printed(kind.to_token_stream());
            assert!(
                tokens.starts_with("::xray_runtime::__private::SpanKind::"),
                "{tokens}"
            );
            assert!(tokens.to_lowercase().ends_with(name), "{tokens} for {name}");
        }
        let sampler = Sampler {
            xray: XraySettings::default(),
            name: parsed::<SamplerName>(quote!(traceidratio)).expect("valid sampler"),
            ratio: Some(syn::parse_quote!(0.25)),
        };
        assert_eq!(
            printed(sampler.to_token_stream()),
            "::xray_runtime::__private::SamplerKind::TraceIdRatio(0.25)"
        );
        let http = parsed::<Protocol>(quote!(http)).expect("valid protocol");
        assert_eq!(
            printed(http.to_token_stream()),
            "::xray_runtime::__private::Protocol::HttpProtobuf"
        );
    }

    #[test]
    fn unknown_and_quoted_names_are_refused_with_the_valid_ones() {
        let err = parsed::<Exporter>(quote!(zipkin)).err().expect("an error");
        assert_eq!(
            err.to_string(),
            "unknown exporter `zipkin`; expected one of: otlp, xray, console, json, none"
        );
        let err = parsed::<Kind>(quote!("client")).err().expect("an error");
        assert_eq!(
            err.to_string(),
            "`kind` takes a bare word, not a string; write it without quotes: `kind = client`"
        );
        assert_eq!(
            SamplerName::valid(),
            "always_on, always_off, traceidratio(RATIO), parentbased_always_on, \
             parentbased_always_off, parentbased_traceidratio(RATIO), xray"
        );
    }
}
