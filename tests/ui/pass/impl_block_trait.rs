// #[traced] on trait impls, generic and `unsafe`, with paths to the macro.
use xray_runtime::testing::SpanStatus;

trait Codec<T> {
    fn encode(&self, value: T) -> Vec<u8>;
    fn decode(&self, bytes: &[u8]) -> Result<T, String>;
    fn name(&self) -> &'static str {
        "codec"
    }
}

struct Le;

#[xray_runtime::traced(err, args(value, bytes))]
impl Codec<u16> for Le {
    fn encode(&self, value: u16) -> Vec<u8> {
        value.to_le_bytes().to_vec()
    }

    #[xray_runtime::traced(ret)]
    fn decode(&self, bytes: &[u8]) -> Result<u16, String> {
        let array: [u8; 2] = bytes
            .try_into()
            .map_err(|_| format!("{} bytes", bytes.len()))?;
        Ok(u16::from_le_bytes(array))
    }
}

/// # Safety
/// Implementors must be plain data.
unsafe trait Plain {
    fn size(&self) -> usize;
}

#[xray_runtime::traced]
// SAFETY: `Le` is a unit struct.
unsafe impl Plain for Le {
    fn size(&self) -> usize {
        0
    }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let bytes = Le.encode(258);
    assert_eq!(Le.decode(&bytes), Ok(258));
    assert!(Le.decode(&[1]).is_err());
    assert_eq!(Le.name(), "codec");
    assert_eq!(Le.size(), 0);

    let encode = capture.span("encode");
    assert_eq!(encode.attr_i64("value"), Some(258));
    assert_eq!(encode.attr("bytes"), None);
    let decodes = capture.spans_named("decode");
    assert_eq!(
        decodes[0].attr("bytes").map(ToString::to_string).as_deref(),
        Some("[2,1]")
    );
    assert_eq!(decodes[0].attr_i64("xray.return"), Some(258));
    assert_eq!(decodes[1].status, SpanStatus::Error("1 bytes".into()));
    assert!(
        capture.spans_named("name").is_empty(),
        "the trait's default method"
    );
    capture.span("size");
}
