//! The macros' options, parsed into typed structs. Every value remembers
//! where it was written, so errors point at the offending token.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitBool, LitInt, LitStr, Token, parenthesized};

use crate::choices::{
    Choice, Compression, Exporter, Kind, MetricsExporter, Protocol, Sampler, SamplerName,
    SignalExporter, Written, XraySettings,
};

/// An option that may be given once; a second occurrence is an error there.
#[derive(Debug)]
pub struct Once<T> {
    pub value: Option<T>,
    /// Where the option's name was written.
    pub span: Option<Span>,
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self {
            value: None,
            span: None,
        }
    }
}

impl<T> Once<T> {
    fn set(&mut self, meta: &ParseNestedMeta<'_>, value: T) -> syn::Result<()> {
        if self.value.is_some() {
            let name = path_name(&meta.path);
            return Err(meta.error(format!("`{name}` is given twice; keep one")));
        }
        self.value = Some(value);
        self.span = Some(meta.path.span());
        Ok(())
    }
}

fn path_name(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

/// How a recorded value is converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Native attribute types, else `Debug`.
    Auto,
    /// `%value`: `Display`.
    Display,
    /// `?value`: `Debug`.
    Debug,
}

fn parse_format(input: ParseStream<'_>) -> syn::Result<Format> {
    if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        Ok(Format::Display)
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        Ok(Format::Debug)
    } else {
        Ok(Format::Auto)
    }
}

/// `key.path = expr` in `attrs(...)`, or `key = expr` in `annotations(...)`.
pub struct Field {
    pub key: String,
    pub key_span: Span,
    pub format: Format,
    pub value: Expr,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (key, key_span) = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            (lit.value(), lit.span())
        } else {
            let first = Ident::parse_any(input).map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a key such as `order.id` or \"order.id\"",
                )
            })?;
            let mut key = first.unraw().to_string();
            let mut span = first.span();
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                let part = Ident::parse_any(input)?;
                key.push('.');
                key.push_str(&part.unraw().to_string());
                span = span.join(part.span()).unwrap_or(span);
            }
            (key, span)
        };
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key_span,
                format!("`{key}` needs a value, as in `{key} = value`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let format = parse_format(input)?;
        let value = input.parse()?;
        Ok(Self {
            key,
            key_span,
            format,
            value,
        })
    }
}

/// Options shared by `#[traced]` and `#[xray_root]`.
#[derive(Default)]
pub struct SpanArgs {
    pub name: Once<LitStr>,
    pub kind: Once<Written<Kind>>,
    pub args: Once<Vec<Ident>>,
    pub attrs: Once<Vec<Field>>,
    pub annotations: Once<Vec<Field>>,
    /// `err` (true) or `err = false`.
    pub err: Once<(bool, Span)>,
    /// `ret`, `ret(%)`, `ret(?)`, `ret = true` (a format), or `ret = false` (`None`).
    pub ret: Once<(Option<Format>, Span)>,
    /// On a method inside a `#[traced]` impl block: leave it untraced.
    pub skip: Once<Span>,
    /// `metrics` (true) or `metrics = false`: record the call's duration.
    pub metrics: Once<(bool, Span)>,
}

impl SpanArgs {
    /// The options given, by name and where they were written.
    pub fn given(&self) -> Vec<(&'static str, Span)> {
        [
            ("name", self.name.span),
            ("kind", self.kind.span),
            ("args", self.args.span),
            ("attrs", self.attrs.span),
            ("annotations", self.annotations.span),
            ("err", self.err.span),
            ("ret", self.ret.span),
            ("skip", self.skip.span),
            ("metrics", self.metrics.span),
        ]
        .into_iter()
        .filter_map(|(name, span)| span.map(|span| (name, span)))
        .collect()
    }
}

/// Options of `#[xray_root]` only.
#[derive(Default)]
pub struct RootArgs {
    pub headers: Once<Expr>,
    pub trace_header: Once<Expr>,
    pub lambda: Once<Span>,
}

/// Which macro is parsing, for the list of valid options.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    Traced,
    Root,
}

impl Macro {
    fn options(self) -> &'static str {
        match self {
            Macro::Traced => {
                "`name`, `kind`, `args`, `attrs`, `annotations`, `err`, `ret`, `metrics`, `skip`"
            }
            Macro::Root => {
                "`name`, `kind`, `args`, `attrs`, `annotations`, `err`, `ret`, `metrics`, `headers`, `trace_header`, `lambda`"
            }
        }
    }
}

impl SpanArgs {
    /// Parses one option; `root` receives the `#[xray_root]`-only ones.
    pub fn parse_option(
        &mut self,
        meta: ParseNestedMeta<'_>,
        which: Macro,
        root: Option<&mut RootArgs>,
    ) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`name` takes a string literal, as in `name = \"GET /orders\"`",
                )
            })?;
            if lit.value().is_empty() {
                return Err(syn::Error::new(lit.span(), "the span name cannot be empty"));
            }
            self.name.set(&meta, lit)
        } else if path.is_ident("kind") {
            let kind = Written::parse(meta.value()?)?;
            self.kind.set(&meta, kind)
        } else if path.is_ident("args") {
            if !meta.input.peek(syn::token::Paren) {
                return Err(meta.error("`args` takes argument names, as in `args(id, user)`"));
            }
            let content;
            parenthesized!(content in meta.input);
            let names = parse_arg_names(&content)?;
            self.args.set(&meta, names)
        } else if path.is_ident("attrs") {
            let content;
            parenthesized!(content in meta.input);
            let fields = Punctuated::<Field, Token![,]>::parse_terminated(&content)?;
            self.attrs.set(&meta, fields.into_iter().collect())
        } else if path.is_ident("annotations") {
            let content;
            parenthesized!(content in meta.input);
            let fields = Punctuated::<Field, Token![,]>::parse_terminated(&content)?;
            self.annotations.set(&meta, fields.into_iter().collect())
        } else if path.is_ident("err") {
            let span = path.span();
            let on = if meta.input.peek(Token![=]) {
                let lit: LitBool = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`err` takes `true` or `false`, or nothing (`err` alone means true)",
                    )
                })?;
                lit.value
            } else {
                true
            };
            self.err.set(&meta, (on, span))
        } else if path.is_ident("metrics") {
            let span = path.span();
            let on = if meta.input.peek(Token![=]) {
                let lit: LitBool = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`metrics` takes `true` or `false`, or nothing (`metrics` alone means true)",
                    )
                })?;
                lit.value
            } else if meta.input.peek(syn::token::Paren) {
                return Err(meta.error(
                    "`metrics` takes no list: the call's duration is recorded with its function and outcome; write `metrics` or `metrics = false`",
                ));
            } else {
                true
            };
            self.metrics.set(&meta, (on, span))
        } else if path.is_ident("ret") {
            let span = path.span();
            let format = if meta.input.peek(Token![=]) {
                // `ret = false` turns off the `ret` of a #[traced] impl block.
                let lit: LitBool = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`ret` takes `true` or `false`, or a format: `ret(%)` (Display), `ret(?)` (Debug)",
                    )
                })?;
                lit.value.then_some(Format::Auto)
            } else if meta.input.peek(syn::token::Paren) {
                let content;
                parenthesized!(content in meta.input);
                let format = parse_format(&content)?;
                if format == Format::Auto || !content.is_empty() {
                    return Err(
                        content.error("`ret` takes `%` (Display) or `?` (Debug), as in `ret(%)`")
                    );
                }
                Some(format)
            } else {
                Some(Format::Auto)
            };
            self.ret.set(&meta, (format, span))
        } else if path.is_ident("skip") && which == Macro::Traced {
            if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                return Err(meta.error(
                    "`skip` takes no value; write `#[traced(skip)]` on the method to leave untraced",
                ));
            }
            let span = path.span();
            self.skip.set(&meta, span)
        } else if let (Some(root), Macro::Root) = (root, which) {
            if path.is_ident("headers") {
                let expr: Expr = meta.value()?.parse()?;
                root.headers.set(&meta, expr)
            } else if path.is_ident("trace_header") {
                let expr: Expr = meta.value()?.parse()?;
                root.trace_header.set(&meta, expr)
            } else if path.is_ident("lambda") {
                let span = path.span();
                root.lambda.set(&meta, span)
            } else {
                Err(unknown(&meta, which))
            }
        } else {
            Err(unknown(&meta, which))
        }
    }
}

/// The names in `args(...)`. An expression where a name belongs gets the
/// `attrs(...)` spelling that records it.
fn parse_arg_names(content: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
    let mut names = Vec::new();
    while !content.is_empty() {
        let fork = content.fork();
        let name = Ident::parse_any(content).map_err(|e| {
            syn::Error::new(
                e.span(),
                "`args` takes argument names, as in `args(id, user)`",
            )
        })?;
        if !content.is_empty() && !content.peek(Token![,]) {
            let Ok(expr) = fork.parse::<Expr>() else {
                return Err(content.error("expected `,` between argument names"));
            };
            let key = match &expr {
                Expr::Field(field) => match &field.member {
                    syn::Member::Named(ident) => ident.unraw().to_string(),
                    syn::Member::Unnamed(index) => format!("{name}_{}", index.index),
                },
                _ => name.unraw().to_string(),
            };
            let text = quote::quote!(#expr)
                .to_string()
                .replace(" . ", ".")
                .replace(" (", "(")
                .replace("( ", "(")
                .replace(" )", ")");
            return Err(syn::Error::new(
                expr.span(),
                format!(
                    "`args` takes argument names only; to record `{text}`, write `attrs({key} = {text})`"
                ),
            ));
        }
        names.push(name);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(names)
}

fn unknown(meta: &ParseNestedMeta<'_>, which: Macro) -> syn::Error {
    let name = path_name(&meta.path);
    let hint = match (which, name.as_str()) {
        (Macro::Traced, "headers" | "trace_header" | "lambda") => {
            format!("; `{name}` belongs to #[xray_root], which starts or continues a trace")
        }
        (Macro::Root, "skip") => {
            "; `skip` is for methods inside a #[traced] impl block".to_string()
        }
        (_, "fields") => "; use `attrs(key = value)` for span attributes".to_string(),
        (_, "skip_all") => "; nothing is recorded unless named in `args(...)`".to_string(),
        _ => String::new(),
    };
    meta.error(format!(
        "unknown option `{name}`; expected one of: {}{hint}",
        which.options()
    ))
}

/// Options of `#[xray_main]`.
#[derive(Default)]
pub struct MainArgs {
    pub service: Once<LitStr>,
    pub exporter: Once<Written<Exporter>>,
    pub endpoint: Once<LitStr>,
    pub protocol: Once<Written<Protocol>>,
    pub compression: Once<Written<Compression>>,
    pub propagators: Once<LitStr>,
    pub sampler: Once<Sampler>,
    pub shutdown_timeout_ms: Once<LitInt>,
    pub resource_detectors: Once<LitStr>,
    pub logs: Once<Written<SignalExporter>>,
    pub metrics: Once<Written<MetricsExporter>>,
}

pub const PROPAGATORS: &[&str] = &["xray", "xray-lambda", "tracecontext", "baggage", "none"];

/// The settings of `sampler = xray(...)`: `endpoint = "..."`,
/// `polling_interval = seconds`, `rules = "path"`.
fn parse_xray_settings(input: ParseStream<'_>) -> syn::Result<XraySettings> {
    let mut settings = XraySettings::default();
    let parser = syn::meta::parser(|meta| {
        let twice = |meta: &ParseNestedMeta<'_>, set: bool| -> syn::Result<()> {
            if set {
                let name = path_name(&meta.path);
                return Err(meta.error(format!("`{name}` is given twice; keep one")));
            }
            Ok(())
        };
        if meta.path.is_ident("endpoint") {
            twice(&meta, settings.endpoint.is_some())?;
            let lit: LitStr = meta.value()?.parse()?;
            let value = lit.value();
            let host = value.strip_prefix("http://").unwrap_or(&value);
            if value.contains("://") && !value.starts_with("http://") || host.trim().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    "the sampling endpoint is the proxy's http:// URL, as in \"http://localhost:2000\", or \"none\" for local rules alone",
                ));
            }
            settings.endpoint = Some(lit);
        } else if meta.path.is_ident("polling_interval") {
            twice(&meta, settings.polling_interval.is_some())?;
            let lit: LitInt = meta.value()?.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`polling_interval` takes seconds, as in `polling_interval = 60`",
                )
            })?;
            if lit.base10_parse::<u64>()? < 10 {
                return Err(syn::Error::new(
                    lit.span(),
                    "the polling interval is at least 10 seconds",
                ));
            }
            settings.polling_interval = Some(lit);
        } else if meta.path.is_ident("rules") {
            twice(&meta, settings.rules.is_some())?;
            let lit: LitStr = meta.value()?.parse()?;
            if lit.value().trim().is_empty() {
                return Err(syn::Error::new(lit.span(), "`rules` names a rules file"));
            }
            settings.rules = Some(lit);
        } else {
            return Err(meta.error(format!(
                "unknown setting `{}` of the xray sampler; expected one of: `endpoint`, `polling_interval`, `rules`",
                path_name(&meta.path)
            )));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, input.parse::<TokenStream>()?)?;
    Ok(settings)
}

/// Names of resource detectors (`aws_ec2` is also accepted for `ec2`, ...).
pub const RESOURCE_DETECTORS: &[&str] = &[
    "lambda",
    "elastic_beanstalk",
    "eks",
    "ecs",
    "ec2",
    "aws",
    "all",
    "env",
    "none",
];
impl MainArgs {
    pub fn parse_option(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        let string =
            |meta: &ParseNestedMeta<'_>, what: &str, example: &str| -> syn::Result<LitStr> {
                meta.value()?.parse::<LitStr>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format!("`{what}` takes a string literal, as in `{what} = {example}`"),
                    )
                })
            };
        if path.is_ident("service") {
            let lit = string(&meta, "service", "\"checkout\"")?;
            if lit.value().trim().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    "the service name cannot be empty",
                ));
            }
            self.service.set(&meta, lit)
        } else if path.is_ident("exporter") {
            let exporter = Written::parse(meta.value()?)?;
            self.exporter.set(&meta, exporter)
        } else if path.is_ident("endpoint") {
            let lit = string(&meta, "endpoint", "\"http://127.0.0.1:4318\"")?;
            let value = lit.value();
            if !(value.starts_with("http://") || value.starts_with("https://")) {
                return Err(syn::Error::new(
                    lit.span(),
                    "the endpoint is a URL starting with http:// or https://, as in \"http://127.0.0.1:4318\"",
                ));
            }
            self.endpoint.set(&meta, lit)
        } else if path.is_ident("protocol") {
            let protocol = Written::parse(meta.value()?)?;
            self.protocol.set(&meta, protocol)
        } else if path.is_ident("compression") {
            let compression = Written::parse(meta.value()?)?;
            self.compression.set(&meta, compression)
        } else if path.is_ident("propagators") {
            let lit = string(&meta, "propagators", "\"xray,tracecontext\"")?;
            check_names(&lit, "propagator", PROPAGATORS, |name| name)?;
            self.propagators.set(&meta, lit)
        } else if path.is_ident("sampler") {
            let name: Written<SamplerName> = Written::parse(meta.value()?)?;
            let ratio = if name.value.takes_ratio() {
                if !meta.input.peek(syn::token::Paren) {
                    let word = name.value.name();
                    return Err(syn::Error::new(
                        name.span,
                        format!("`{word}` needs a ratio, as in `{word}(0.05)`"),
                    ));
                }
                let content;
                parenthesized!(content in meta.input);
                let ratio: syn::LitFloat = content.parse()?;
                let value: f64 = ratio.base10_parse()?;
                if !(0.0..=1.0).contains(&value) {
                    return Err(syn::Error::new(
                        ratio.span(),
                        "the ratio must be between 0.0 and 1.0",
                    ));
                }
                Some(ratio)
            } else {
                None
            };
            let xray = if name.value == SamplerName::Xray && meta.input.peek(syn::token::Paren) {
                let content;
                parenthesized!(content in meta.input);
                parse_xray_settings(&content)?
            } else {
                XraySettings::default()
            };
            self.sampler.set(&meta, Sampler { name, ratio, xray })
        } else if path.is_ident("shutdown_timeout_ms") {
            let lit: LitInt = meta.value()?.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`shutdown_timeout_ms` takes milliseconds, as in `shutdown_timeout_ms = 2000`",
                )
            })?;
            lit.base10_parse::<u64>()?;
            self.shutdown_timeout_ms.set(&meta, lit)
        } else if path.is_ident("resource_detectors") {
            let lit = string(&meta, "resource_detectors", "\"ecs,ec2\"")?;
            // `aws_ec2` is `ec2` as `cloud.platform` spells it.
            check_names(
                &lit,
                "resource detector",
                RESOURCE_DETECTORS,
                |name| match name.strip_prefix("aws_").unwrap_or(name) {
                    "beanstalk" => "elastic_beanstalk",
                    bare => bare,
                },
            )?;
            self.resource_detectors.set(&meta, lit)
        } else if path.is_ident("logs") {
            let logs = Written::parse(meta.value()?)?;
            self.logs.set(&meta, logs)
        } else if path.is_ident("metrics") {
            let metrics = Written::parse(meta.value()?)?;
            self.metrics.set(&meta, metrics)
        } else {
            Err(meta.error(format!(
                "unknown option `{}`; expected one of: `service`, `exporter`, `endpoint`, `protocol`, `compression`, `propagators`, `sampler`, `shutdown_timeout_ms`, `resource_detectors`, `logs`, `metrics`",
                path_name(path)
            )))
        }
    }
}

/// Checks that every name of a comma-separated list in `lit` is one of
/// `names` (after `spelled` maps an alternative spelling to its name).
fn check_names(
    lit: &LitStr,
    what: &str,
    names: &[&str],
    spelled: impl Fn(&str) -> &str,
) -> syn::Result<()> {
    for name in lit.value().split(',').map(str::trim) {
        if !names.contains(&spelled(name)) {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "unknown {what} {name:?}; expected a comma-separated list of: {}",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Parses a comma-separated option list, one option at a time.
pub fn parse_with(
    args: TokenStream,
    parse_option: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    let parser = syn::meta::parser(parse_option);
    syn::parse::Parser::parse2(parser, args)
}
