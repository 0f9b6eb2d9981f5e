//! Functions that are not `async` but return a future they build in their
//! tail expression. Tracing such a function must instrument the returned
//! future: the span of the constructor alone would end before any of the
//! work is done.
//!
//! Two shapes are recognised, from the tokens of the body alone (nothing is
//! matched by name but `Box::pin`):
//!
//! * `fn f() -> impl Future<Output = T> { setup; async move { .. } }`:
//!   a hand-written future.
//! * `fn f() -> Pin<Box<dyn Future<Output = T> + Send + '_>> { Box::pin(async move { .. }) }`:
//!   what `#[async_trait]` (0.1.44 and later) makes of an `async fn` when it
//!   expands before `#[traced]`, and what hand-written boxed futures look like.
//!
//! Any other tail expression (`if`, `match`, a call returning a future) is
//! traced as a synchronous function: the span then covers building the
//! future, not running it.

use proc_macro2::{Delimiter, Group, Ident, Spacing, TokenStream, TokenTree};
use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type, TypeParamBound};

use crate::item::ItemFn;

/// How a function produces its value, which decides where its span lives.
pub enum Shape {
    /// The span is current while the body runs.
    Sync,
    /// `async fn`: the span is current during each poll of its future.
    Async,
    /// A non-`async` function returning a future it builds: the span is
    /// current during each poll of that future.
    ReturnsFuture(Box<ReturnedFuture>),
}

impl Shape {
    pub fn of(function: &ItemFn) -> Self {
        if function.sig.asyncness.is_some() {
            Shape::Async
        } else if let Some(future) = returned_future(&function.sig, &function.body) {
            Shape::ReturnsFuture(Box::new(future))
        } else {
            Shape::Sync
        }
    }

    /// A synchronous `#[track_caller]` function: `Location::caller()` in its
    /// body must keep reporting the caller, so the body stays in the
    /// function (a closure would report itself), and nothing is read from
    /// its value.
    pub fn keeps_caller_location(&self, function: &ItemFn) -> bool {
        matches!(self, Shape::Sync) && function.tracks_caller()
    }

    /// The type of the value the span's outcome is read from, when the
    /// signature says it.
    pub fn value_type(&self, sig: &Signature) -> Option<Type> {
        match self {
            Shape::ReturnsFuture(future) => future.output.clone(),
            Shape::Sync | Shape::Async => Some(match &sig.output {
                ReturnType::Default => syn::parse_quote!(()),
                ReturnType::Type(_, ty) => (**ty).clone(),
            }),
        }
    }
}

/// The future a function returns, split out of its body.
pub struct ReturnedFuture {
    /// The statements before the tail expression.
    pub setup: TokenStream,
    /// `Box::pin` (as written) when the future is boxed.
    pub boxed: Option<TokenStream>,
    /// `async`, `move` and the block of the async block.
    pub async_token: Ident,
    pub move_token: Option<Ident>,
    pub block: Group,
    /// `T` of `Output = T` in the return type, when it is written there.
    pub output: Option<Type>,
}

/// Recognises a non-`async` function whose tail expression is an async
/// block, or an async block passed to `Box::pin`.
pub fn returned_future(sig: &Signature, body: &Group) -> Option<ReturnedFuture> {
    if sig.asyncness.is_some() {
        return None;
    }
    let output = match &sig.output {
        ReturnType::Default => return None,
        ReturnType::Type(_, ty) => future_output(ty),
    };
    let tokens: Vec<TokenTree> = body.stream().into_iter().collect();
    let (start, boxed, block) = if let Some(block) = async_block(&tokens) {
        (tokens.len() - block.len, None, block)
    } else {
        let (path_start, path) = box_pin_call(&tokens)?;
        let TokenTree::Group(args) = tokens.last()? else {
            return None;
        };
        let inner: Vec<TokenTree> = args.stream().into_iter().collect();
        let block = async_block(&inner).filter(|b| b.len == inner.len())?;
        (path_start, Some(path), block)
    };
    if !starts_statement(&tokens[..start]) {
        return None;
    }
    Some(ReturnedFuture {
        setup: tokens[..start].iter().cloned().collect(),
        boxed,
        async_token: block.async_token,
        move_token: block.move_token,
        block: block.block,
        output,
    })
}

struct AsyncBlock {
    async_token: Ident,
    move_token: Option<Ident>,
    block: Group,
    /// How many token trees it spans.
    len: usize,
}

/// `async {..}` or `async move {..}` at the end of `tokens`.
fn async_block(tokens: &[TokenTree]) -> Option<AsyncBlock> {
    let (TokenTree::Group(block), rest) = tokens.split_last()? else {
        return None;
    };
    if block.delimiter() != Delimiter::Brace {
        return None;
    }
    let (move_token, rest) = match rest.split_last() {
        Some((TokenTree::Ident(m), rest)) if m == "move" => (Some(m.clone()), rest),
        _ => (None, rest),
    };
    match rest.last() {
        Some(TokenTree::Ident(a)) if a == "async" => Some(AsyncBlock {
            async_token: a.clone(),
            len: if move_token.is_some() { 3 } else { 2 },
            move_token,
            block: block.clone(),
        }),
        _ => None,
    }
}

/// `path::to::Box::pin(..)` at the end of `tokens`: where the path starts,
/// and the path.
fn box_pin_call(tokens: &[TokenTree]) -> Option<(usize, TokenStream)> {
    let (TokenTree::Group(args), rest) = tokens.split_last()? else {
        return None;
    };
    if args.delimiter() != Delimiter::Parenthesis {
        return None;
    }
    // Walk the path backwards: `ident (:: ident)*`, optionally with a
    // leading `::`.
    let mut segments = Vec::new();
    let mut i = rest.len();
    loop {
        let TokenTree::Ident(ident) = rest.get(i.checked_sub(1)?)? else {
            return None;
        };
        segments.push(ident.to_string());
        i -= 1;
        if i >= 2 && is_path_sep(&rest[i - 2], &rest[i - 1]) {
            i -= 2;
            if i == 0 || !matches!(rest[i - 1], TokenTree::Ident(_)) {
                break;
            }
        } else {
            break;
        }
    }
    let named_box_pin = segments.len() >= 2 && segments[0] == "pin" && segments[1] == "Box";
    named_box_pin.then(|| (i, rest[i..].iter().cloned().collect()))
}

fn is_path_sep(first: &TokenTree, second: &TokenTree) -> bool {
    matches!(
        (first, second),
        (TokenTree::Punct(a), TokenTree::Punct(b))
            if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
    )
}

/// Whether a tail expression starting after `before` is a whole
/// expression, not the end of a longer one (`x = async {}`, `#[attr] async {}`).
fn starts_statement(before: &[TokenTree]) -> bool {
    match before.last() {
        None => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ';',
        Some(TokenTree::Group(g)) => g.delimiter() == Delimiter::Brace,
        Some(_) => false,
    }
}

/// `T` in `impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T> + Send>>`
/// and the like.
fn future_output(ty: &Type) -> Option<Type> {
    match ty {
        Type::ImplTrait(t) => bounds_output(t.bounds.iter()),
        Type::TraitObject(t) => bounds_output(t.bounds.iter()),
        Type::Paren(t) => future_output(&t.elem),
        Type::Group(t) => future_output(&t.elem),
        Type::Path(t) => t.path.segments.iter().find_map(|segment| {
            let PathArguments::AngleBracketed(args) = &segment.arguments else {
                return None;
            };
            args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => future_output(ty),
                _ => None,
            })
        }),
        _ => None,
    }
}

fn bounds_output<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> Option<Type> {
    bounds.find_map(|bound| {
        let TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let segment = bound.path.segments.last()?;
        let PathArguments::AngleBracketed(args) = &segment.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
            _ => None,
        })
    })
}
