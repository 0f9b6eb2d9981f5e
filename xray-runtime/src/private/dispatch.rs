//! How the expansions record values whose type they cannot see: an
//! attribute, an error, a return value, a possible `Result`.
//!
//! "Autoref specialisation": the same method name on traits implemented for
//! `&&&W`, `&&W`, `&W` and `W`, called on `&&&&W`, resolves to the most
//! capable implementation the value's concrete type allows. The macros below
//! bring the traits into scope and make that call, so an expansion emits one
//! macro call per value and never names a trait.

use std::fmt::{Debug, Display};

use opentelemetry::Value;

use super::{NoError, debug_value, display_value};
use crate::span::error::ErrorInfo;
use crate::value::AttributeValue;

/// An attribute's value: a native attribute value, else its `Debug`.
#[doc(hidden)]
#[macro_export]
macro_rules! __xray_attr_value {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::dispatch::{AttrDebug as _, AttrNative as _};
        (&&$crate::__private::dispatch::AttrWrap($value)).__xray_attr_value()
    }};
}

/// The error in a return value when its type is a `Result`, else `None`.
#[doc(hidden)]
#[macro_export]
macro_rules! __xray_outcome_err {
    ($out:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::dispatch::{OutcomeOther as _, OutcomeResult as _};
        (&&$crate::__private::dispatch::OutcomeWrap($out)).__xray_err()
    }};
}

/// The value `ret` records: the `Ok` value of a `Result`, else the value.
#[doc(hidden)]
#[macro_export]
macro_rules! __xray_outcome_value {
    ($out:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::dispatch::{OutcomeOther as _, OutcomeResult as _};
        (&&$crate::__private::dispatch::OutcomeWrap($out)).__xray_value()
    }};
}

/// An error as recorded: `std::error::Error` (with causes), else `Display`,
/// else `Debug`, else its type name.
#[doc(hidden)]
#[macro_export]
macro_rules! __xray_error_info {
    ($error:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::dispatch::{
            ErrIsDebug as _, ErrIsDisplay as _, ErrIsError as _, ErrOpaque as _,
        };
        (&&&&$crate::__private::dispatch::ErrWrap($error)).__xray_error_info()
    }};
}

/// A return value as recorded: a native attribute value, else `Display`,
/// else `Debug`, else its type name.
#[doc(hidden)]
#[macro_export]
macro_rules! __xray_ret_value {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::dispatch::{
            RetDebug as _, RetDisplay as _, RetNative as _, RetOpaque as _,
        };
        (&&&&$crate::__private::dispatch::RetWrap($value)).__xray_ret_value()
    }};
}

/// A return value, looked at as a possible `Result`.
pub struct OutcomeWrap<'a, T: ?Sized>(pub &'a T);

/// `Result`s: their error, and their `Ok` value as the return value. The
/// references live as long as the value itself, not as the wrapper (which
/// is a temporary of the macro's block).
pub trait OutcomeResult<'a> {
    /// The error type.
    type Error: 'a;
    /// The `Ok` value type.
    type Value: ?Sized + 'a;
    /// The error, if any.
    fn __xray_err(&self) -> Option<&'a Self::Error>;
    /// The value to record with `ret`: the `Ok` value.
    fn __xray_value(&self) -> Option<&'a Self::Value>;
}
impl<'a, T, E> OutcomeResult<'a> for &OutcomeWrap<'a, Result<T, E>> {
    type Error = E;
    type Value = T;
    fn __xray_err(&self) -> Option<&'a E> {
        self.0.as_ref().err()
    }
    fn __xray_value(&self) -> Option<&'a T> {
        self.0.as_ref().ok()
    }
}

/// Anything else: never an error; the whole value is the return value.
pub trait OutcomeOther<'a> {
    /// The error type.
    type Error: 'a;
    /// The value type.
    type Value: ?Sized + 'a;
    /// No error.
    fn __xray_err(&self) -> Option<&'a Self::Error>;
    /// The whole value.
    fn __xray_value(&self) -> Option<&'a Self::Value>;
}
impl<'a, T: ?Sized> OutcomeOther<'a> for OutcomeWrap<'a, T> {
    type Error = NoError;
    type Value = T;
    fn __xray_err(&self) -> Option<&'a NoError> {
        None
    }
    fn __xray_value(&self) -> Option<&'a T> {
        Some(self.0)
    }
}

/// An attribute value: native OpenTelemetry types first, else `Debug`.
pub struct AttrWrap<'a, T: ?Sized>(pub &'a T);

/// Native attribute values.
pub trait AttrNative {
    /// The value.
    fn __xray_attr_value(&self) -> Value;
}
impl<T: AttributeValue + ?Sized> AttrNative for &AttrWrap<'_, T> {
    fn __xray_attr_value(&self) -> Value {
        self.0.to_value()
    }
}

/// Any `Debug` value.
pub trait AttrDebug {
    /// The value.
    fn __xray_attr_value(&self) -> Value;
}
impl<T: Debug + ?Sized> AttrDebug for AttrWrap<'_, T> {
    fn __xray_attr_value(&self) -> Value {
        debug_value(self.0)
    }
}

/// An error: `std::error::Error` (with causes), else `Display`, else
/// `Debug`, else only its type.
pub struct ErrWrap<'a, E: ?Sized>(pub &'a E);

/// `std::error::Error` values.
pub trait ErrIsError {
    /// The error as recorded.
    fn __xray_error_info(&self) -> ErrorInfo;
}
impl<E: std::error::Error + ?Sized> ErrIsError for &&&ErrWrap<'_, E> {
    fn __xray_error_info(&self) -> ErrorInfo {
        ErrorInfo::of(self.0)
    }
}

/// `Display` values.
pub trait ErrIsDisplay {
    /// The error as recorded.
    fn __xray_error_info(&self) -> ErrorInfo;
}
impl<E: Display + ?Sized> ErrIsDisplay for &&ErrWrap<'_, E> {
    fn __xray_error_info(&self) -> ErrorInfo {
        ErrorInfo {
            type_name: std::any::type_name::<E>(),
            message: self.0.to_string(),
            causes: Vec::new(),
        }
    }
}

/// `Debug` values.
pub trait ErrIsDebug {
    /// The error as recorded.
    fn __xray_error_info(&self) -> ErrorInfo;
}
impl<E: Debug + ?Sized> ErrIsDebug for &ErrWrap<'_, E> {
    fn __xray_error_info(&self) -> ErrorInfo {
        ErrorInfo {
            type_name: std::any::type_name::<E>(),
            message: format!("{:?}", self.0),
            causes: Vec::new(),
        }
    }
}

/// Anything else.
pub trait ErrOpaque {
    /// The error as recorded.
    fn __xray_error_info(&self) -> ErrorInfo;
}
impl<E: ?Sized> ErrOpaque for ErrWrap<'_, E> {
    fn __xray_error_info(&self) -> ErrorInfo {
        let type_name = std::any::type_name::<E>();
        ErrorInfo {
            type_name,
            message: type_name.to_string(),
            causes: Vec::new(),
        }
    }
}

/// A return value: native attribute types, else `Display`, else `Debug`,
/// else its type name.
pub struct RetWrap<'a, T: ?Sized>(pub &'a T);

/// Native attribute values.
pub trait RetNative {
    /// The value.
    fn __xray_ret_value(&self) -> Value;
}
impl<T: AttributeValue + ?Sized> RetNative for &&&RetWrap<'_, T> {
    fn __xray_ret_value(&self) -> Value {
        self.0.to_value()
    }
}

/// `Display` values.
pub trait RetDisplay {
    /// The value.
    fn __xray_ret_value(&self) -> Value;
}
impl<T: Display + ?Sized> RetDisplay for &&RetWrap<'_, T> {
    fn __xray_ret_value(&self) -> Value {
        display_value(self.0)
    }
}

/// `Debug` values.
pub trait RetDebug {
    /// The value.
    fn __xray_ret_value(&self) -> Value;
}
impl<T: Debug + ?Sized> RetDebug for &RetWrap<'_, T> {
    fn __xray_ret_value(&self) -> Value {
        debug_value(self.0)
    }
}

/// Anything else.
pub trait RetOpaque {
    /// The value.
    fn __xray_ret_value(&self) -> Value;
}
impl<T: ?Sized> RetOpaque for RetWrap<'_, T> {
    fn __xray_ret_value(&self) -> Value {
        Value::from(std::any::type_name::<T>())
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct OnlyDebug;
    struct Nothing;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    use opentelemetry::Value;

    #[test]
    fn attribute_dispatch() {
        assert_eq!(crate::__xray_attr_value!(&5u32), Value::I64(5));
        assert_eq!(
            crate::__xray_attr_value!(&OnlyDebug),
            Value::from("OnlyDebug")
        );
    }

    #[test]
    fn error_dispatch() {
        let err = Outer(std::io::Error::other("disk full"));
        let info = crate::__xray_error_info!(&err);
        assert_eq!(info.message, "outer failed");
        assert_eq!(info.causes, vec!["disk full".to_string()]);
        assert!(info.type_name.ends_with("Outer"));
        assert_eq!(
            crate::__xray_error_info!(&"plain text").message,
            "plain text"
        );
        assert_eq!(crate::__xray_error_info!(&OnlyDebug).message, "OnlyDebug");
        assert!(
            crate::__xray_error_info!(&Nothing)
                .message
                .ends_with("Nothing")
        );
    }

    #[test]
    fn return_dispatch() {
        assert_eq!(crate::__xray_ret_value!(&7i64), Value::I64(7));
        let ip = std::net::Ipv4Addr::LOCALHOST;
        assert_eq!(crate::__xray_ret_value!(&ip), Value::from("127.0.0.1"));
        assert_eq!(crate::__xray_ret_value!(&Some(1)), Value::from("Some(1)"));
        assert!(
            crate::__xray_ret_value!(&Nothing)
                .to_string()
                .ends_with("Nothing")
        );
    }

    #[test]
    fn outcome_dispatch() {
        let ok: Result<u8, String> = Ok(3);
        let err: Result<u8, String> = Err("no".into());
        assert_eq!(crate::__xray_outcome_err!(&ok), None);
        assert_eq!(
            crate::__xray_outcome_err!(&err).map(String::as_str),
            Some("no")
        );
        assert_eq!(crate::__xray_outcome_value!(&ok), Some(&3));
        assert!(crate::__xray_outcome_err!(&5u8).is_none());
        assert_eq!(crate::__xray_outcome_value!(&5u8), Some(&5));
    }
}
