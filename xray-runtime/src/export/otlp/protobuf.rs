//! The protobuf wire format, written straight into a byte buffer: the few
//! things the OTLP encoder needs (varints, fixed-width numbers, strings and
//! bytes, nested messages). Written in the order of their field numbers,
//! defaults left out by the caller, lengths as the shortest varint, a
//! message is byte for byte what prost writes for it.

/// Wire types.
pub(super) const VARINT: u32 = 0;
pub(super) const FIXED64: u32 = 1;
pub(super) const LEN: u32 = 2;
pub(super) const FIXED32: u32 = 5;

/// The longest varint (a `u64`).
pub(super) const MAX_VARINT_LEN: usize = 10;

/// How many bytes `value` takes as a varint.
#[inline]
pub(super) const fn varint_len(value: u64) -> usize {
    // One byte per started group of 7 bits; zero takes one byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `value` as a varint.
#[inline]
pub(super) fn varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// Writes `value` as a varint at the start of `out`, which must be
/// exactly [`varint_len`] bytes long.
#[inline]
pub(super) fn varint_into(out: &mut [u8], mut value: u64) {
    let last = out.len() - 1;
    for byte in &mut out[..last] {
        *byte = value as u8 | 0x80;
        value >>= 7;
    }
    out[last] = value as u8;
}

/// The key of a field numbered 1 to 15, which takes one byte.
pub(super) const fn key_byte(field: u32, wire_type: u32) -> u8 {
    assert!(field >= 1 && field < 16);
    (field << 3 | wire_type) as u8
}

/// A field's key: its number and wire type.
#[inline]
pub(super) fn key(buf: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(buf, u64::from(field << 3 | wire_type));
}

/// A varint field (integers, booleans, enums).
#[inline]
pub(super) fn uint64(buf: &mut Vec<u8>, field: u32, value: u64) {
    key(buf, field, VARINT);
    varint(buf, value);
}

/// A `fixed64` field (timestamps) or a `double` (its bits).
#[inline]
pub(super) fn fixed64(buf: &mut Vec<u8>, field: u32, value: u64) {
    key(buf, field, FIXED64);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// A `fixed32` field.
#[inline]
pub(super) fn fixed32(buf: &mut Vec<u8>, field: u32, value: u32) {
    key(buf, field, FIXED32);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// A `bytes` or `string` field.
#[inline]
pub(super) fn bytes(buf: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(buf, field, LEN);
    varint(buf, value.len() as u64);
    buf.extend_from_slice(value);
}

/// Opens a nested message in field `field`; returns where its body starts,
/// for [`end`]. One byte is set aside for the length: bodies shorter than
/// 128 bytes (most spans, every attribute of a few words) are written in
/// place, longer ones are moved up once they are complete.
#[inline]
pub(super) fn begin(buf: &mut Vec<u8>, field: u32) -> usize {
    key(buf, field, LEN);
    buf.push(0);
    buf.len()
}

/// Closes the message opened by [`begin`]: writes its length.
#[inline]
pub(super) fn end(buf: &mut Vec<u8>, body: usize) {
    let len = buf.len() - body;
    if len < 0x80 {
        buf[body - 1] = len as u8;
    } else {
        end_long(buf, body, len);
    }
}

/// A body of 128 bytes or more: its length takes more than the byte set
/// aside, so the body moves up.
#[cold]
fn end_long(buf: &mut Vec<u8>, body: usize, len: usize) {
    let extra = varint_len(len as u64) - 1;
    buf.resize(buf.len() + extra, 0);
    buf.copy_within(body..body + len, body + extra);
    varint_into(&mut buf[body - 1..body + extra], len as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_what_prost_writes() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            i64::MIN as u64,
            u64::MAX,
        ] {
            let mut ours = Vec::new();
            varint(&mut ours, value);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs, "{value}");
            assert_eq!(varint_len(value), theirs.len(), "{value}");
            let mut placed = vec![0; varint_len(value)];
            varint_into(&mut placed, value);
            assert_eq!(placed, theirs, "{value}");
        }
    }

    #[test]
    fn nested_messages_of_any_length() {
        for len in [0, 1, 127, 128, 200, 16_383, 16_384, 70_000] {
            let mut buf = vec![7];
            let body = begin(&mut buf, 3);
            buf.extend(std::iter::repeat_n(0xab, len));
            end(&mut buf, body);
            let mut expected = vec![7];
            prost::encoding::bytes::encode(3, &vec![0xabu8; len], &mut expected);
            assert_eq!(buf, expected, "{len}");
        }
    }
}
