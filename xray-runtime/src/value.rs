//! Values recorded on spans: attributes and X-Ray annotations.

use std::borrow::Cow;

use opentelemetry::{Array, StringValue, Value};

/// The longest string recorded from a value's `Display`/`Debug`, in bytes;
/// longer text is cut at a character boundary and ends with `…`.
pub const MAX_VALUE_LEN: usize = 1024;

/// Cuts `text` to [`MAX_VALUE_LEN`] bytes, marking the cut with `…`.
pub(crate) fn truncate(mut text: String) -> String {
    if text.len() > MAX_VALUE_LEN {
        let mut end = MAX_VALUE_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// A value that can be recorded as a span attribute without formatting:
/// booleans, integers, floats, strings, and slices or `Vec`s of them.
///
/// Other types are recorded with `%value` (Display) or `?value` (Debug) in
/// the macros' `attrs(...)`.
pub trait AttributeValue {
    /// The OpenTelemetry value.
    fn to_value(&self) -> Value;
}

/// A value X-Ray accepts as an annotation: a string, boolean, integer or float.
///
/// This trait is sealed: X-Ray indexes only these types, so anything else is
/// a compile error instead of an annotation silently dropped by the collector.
#[diagnostic::on_unimplemented(
    message = "X-Ray annotations must be a string, bool, integer or float, not `{Self}`",
    label = "not an X-Ray annotation value",
    note = "record other values with `attrs(...)` instead (they become X-Ray metadata)"
)]
pub trait AnnotationValue: sealed::Sealed {
    /// The OpenTelemetry value.
    fn to_annotation(&self) -> Value;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Value {
                Value::I64(i64::from(*self))
            }
        }
        impl sealed::Sealed for $t {}
        impl AnnotationValue for $t {
            fn to_annotation(&self) -> Value {
                self.to_value()
            }
        }
    )*};
}
int_values!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! wide_int_values {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            /// As an integer when it fits in an `i64`, else as its decimal string.
            fn to_value(&self) -> Value {
                i64::try_from(*self).map_or_else(|_| Value::from(self.to_string()), Value::I64)
            }
        }
        impl sealed::Sealed for $t {}
        impl AnnotationValue for $t {
            fn to_annotation(&self) -> Value {
                self.to_value()
            }
        }
    )*};
}
wide_int_values!(u64, usize, isize, i128, u128);

macro_rules! float_values {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_value(&self) -> Value {
                Value::F64(f64::from(*self))
            }
        }
        impl sealed::Sealed for $t {}
        impl AnnotationValue for $t {
            fn to_annotation(&self) -> Value {
                self.to_value()
            }
        }
    )*};
}
float_values!(f32, f64);

impl AttributeValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl sealed::Sealed for bool {}
impl AnnotationValue for bool {
    fn to_annotation(&self) -> Value {
        Value::Bool(*self)
    }
}

impl AttributeValue for str {
    fn to_value(&self) -> Value {
        Value::from(truncate(self.to_string()))
    }
}
impl sealed::Sealed for str {}
impl AnnotationValue for str {
    fn to_annotation(&self) -> Value {
        self.to_value()
    }
}

impl AttributeValue for String {
    fn to_value(&self) -> Value {
        self.as_str().to_value()
    }
}
impl sealed::Sealed for String {}
impl AnnotationValue for String {
    fn to_annotation(&self) -> Value {
        self.to_value()
    }
}

impl AttributeValue for Cow<'_, str> {
    fn to_value(&self) -> Value {
        self.as_ref().to_value()
    }
}
impl sealed::Sealed for Cow<'_, str> {}
impl AnnotationValue for Cow<'_, str> {
    fn to_annotation(&self) -> Value {
        self.to_value()
    }
}

impl AttributeValue for char {
    fn to_value(&self) -> Value {
        Value::from(self.to_string())
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: AnnotationValue + ?Sized> sealed::Sealed for &T {}
impl<T: AnnotationValue + ?Sized> AnnotationValue for &T {
    fn to_annotation(&self) -> Value {
        (**self).to_annotation()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// Slices and `Vec`s become OpenTelemetry arrays when every element maps to
/// the same array type (the first element decides); otherwise each element
/// is recorded as a string.
impl<T: AttributeValue> AttributeValue for [T] {
    fn to_value(&self) -> Value {
        let values: Vec<Value> = self.iter().map(AttributeValue::to_value).collect();
        Value::Array(to_array(values))
    }
}

impl<T: AttributeValue> AttributeValue for Vec<T> {
    fn to_value(&self) -> Value {
        self.as_slice().to_value()
    }
}

impl<T: AttributeValue, const N: usize> AttributeValue for [T; N] {
    fn to_value(&self) -> Value {
        self.as_slice().to_value()
    }
}

fn to_array(values: Vec<Value>) -> Array {
    let bools: Option<Vec<bool>> = values
        .iter()
        .map(|v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })
        .collect();
    let ints: Option<Vec<i64>> = values
        .iter()
        .map(|v| match v {
            Value::I64(i) => Some(*i),
            _ => None,
        })
        .collect();
    let floats: Option<Vec<f64>> = values
        .iter()
        .map(|v| match v {
            Value::F64(f) => Some(*f),
            _ => None,
        })
        .collect();
    match (values.is_empty(), bools, ints, floats) {
        (true, ..) => Array::String(Vec::new()),
        (false, Some(b), _, _) => Array::Bool(b),
        (false, _, Some(i), _) => Array::I64(i),
        (false, _, _, Some(f)) => Array::F64(f),
        _ => Array::String(
            values
                .iter()
                .map(|v| StringValue::from(v.to_string()))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(7u8.to_value(), Value::I64(7));
        assert_eq!(u64::MAX.to_value(), Value::from(u64::MAX.to_string()));
        assert_eq!(1.5f32.to_value(), Value::F64(1.5));
        assert_eq!("x".to_value(), Value::from("x"));
        assert_eq!((&&String::from("y")).to_value(), Value::from("y"));
        assert_eq!(true.to_annotation(), Value::Bool(true));
    }

    #[test]
    fn arrays() {
        assert_eq!(vec![1, 2].to_value(), Value::Array(Array::I64(vec![1, 2])));
        assert_eq!(
            ["a", "b"].to_value(),
            Value::Array(Array::String(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            vec![1u64, u64::MAX].to_value(),
            Value::Array(Array::String(vec!["1".into(), u64::MAX.to_string().into()]))
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let long = "é".repeat(MAX_VALUE_LEN);
        let cut = truncate(long);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= MAX_VALUE_LEN + '…'.len_utf8());
        assert_eq!(truncate("short".into()), "short");
    }
}
