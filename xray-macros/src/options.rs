//! What one span records, resolved from the options written on the
//! function, those of its `#[traced]` impl block, and the function itself.
//! Code generation reads only this.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, Type};

use crate::args::{Field, Format, RootArgs, SpanArgs};
use crate::async_like::Shape;
use crate::choices::{Kind, Written};
use crate::item::ItemFn;

/// How the returned value is searched for an error.
#[derive(Clone, Copy)]
pub enum ErrMode {
    /// Never (`err = false`, or nothing is returned).
    Off,
    /// When the value's type is a `Result` (decided by type, not name).
    ByType,
    /// `err`: the value must be a `Result`; a compile error otherwise.
    Forced(Span),
}

pub struct SpanOptions<'a> {
    pub name: String,
    /// As written, or the macro's default.
    pub kind: Written<Kind>,
    pub args: Vec<&'a Ident>,
    pub attrs: &'a [Field],
    pub annotations: &'a [Field],
    pub err: ErrMode,
    pub ret: Option<(Format, Span)>,
    /// Record the call's duration (`metrics`; on by default for `#[xray_root]`).
    pub metrics: bool,
    /// The function's name, as written (for the metric's `code.function.name`).
    pub function: String,
    /// Present for `#[xray_root]`.
    pub root: Option<&'a RootArgs>,
}

impl<'a> SpanOptions<'a> {
    /// Each option of the function's own `args` wins over the same option
    /// of the impl block's `block`.
    pub fn resolve(
        own: &'a SpanArgs,
        block: Option<&'a SpanArgs>,
        root: Option<&'a RootArgs>,
        function: &ItemFn,
        shape: &Shape,
    ) -> Self {
        let value = shape.value_type(&function.sig);
        let unit = value.as_ref().is_some_and(is_unit);
        let function_name = function.sig.ident.unraw().to_string();
        let name = own
            .name
            .value
            .as_ref()
            .map_or_else(|| function_name.clone(), syn::LitStr::value);
        let metrics = own
            .metrics
            .value
            .or_else(|| block.and_then(|b| b.metrics.value))
            .map_or(root.is_some(), |(on, _)| on);
        let args = match (&own.args.value, block.and_then(|b| b.args.value.as_ref())) {
            (Some(names), _) => names.iter().collect(),
            // The block's `args` record each name in the methods that take it.
            (None, Some(names)) => {
                let params = function.parameter_names();
                names.iter().filter(|n| params.contains(n)).collect()
            }
            (None, None) => Vec::new(),
        };
        let mut err = match (own.err.value, block.and_then(|b| b.err.value)) {
            (Some((true, span)), _) => ErrMode::Forced(span),
            (Some((false, _)), _) | (None, Some((false, _))) => ErrMode::Off,
            // The block's `err` cannot force every method's value to be a
            // `Result`: it records the errors of those whose value is one.
            (None, Some((true, _))) if !unit && value.is_some() => ErrMode::ByType,
            (None, _) if value.as_ref().is_some_and(is_result) => ErrMode::ByType,
            (None, _) => ErrMode::Off,
        };
        let mut ret = match (own.ret.value, block.and_then(|b| b.ret.value)) {
            (Some((format, span)), _) => format.map(|f| (f, span)),
            // Nothing to record for methods that return nothing.
            (None, Some((format, span))) if !unit => format.map(|f| (f, span)),
            _ => None,
        };
        if shape.keeps_caller_location(function) {
            // Only what was asked on the function itself (which validation
            // refused): the body must not move into a closure.
            if !matches!(err, ErrMode::Forced(_)) {
                err = ErrMode::Off;
            }
            if own.ret.value.is_none() {
                ret = None;
            }
        }
        let or_block =
            |own: &'a Option<Vec<Field>>, of_block: fn(&'a SpanArgs) -> &'a Option<Vec<Field>>| {
                own.as_deref()
                    .or_else(|| block.and_then(|b| of_block(b).as_deref()))
                    .unwrap_or_default()
            };
        Self {
            name,
            kind: own
                .kind
                .value
                .or_else(|| block.and_then(|b| b.kind.value))
                .unwrap_or(Written {
                    value: if root.is_some() {
                        Kind::Server
                    } else {
                        Kind::Internal
                    },
                    span: Span::call_site(),
                }),
            args,
            attrs: or_block(&own.attrs.value, |b| &b.attrs.value),
            annotations: or_block(&own.annotations.value, |b| &b.annotations.value),
            err,
            ret,
            metrics,
            function: function_name,
            root,
        }
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// Whether the type is written as a `Result` (`Result<..>`,
/// `io::Result<..>`, an alias named `...Result`). The runtime then decides
/// by the actual type: a struct merely named `...Result` records nothing.
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident.to_string().ends_with("Result")),
        Type::Paren(t) => is_result(&t.elem),
        Type::Group(t) => is_result(&t.elem),
        _ => false,
    }
}
