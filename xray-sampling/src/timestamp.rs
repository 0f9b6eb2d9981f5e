//! Timestamps in X-Ray's JSON: the service's REST-JSON protocol sends epoch
//! seconds as numbers (often with a fraction), while `aws xray ...` prints ISO
//! 8601 strings (`2018-11-20T15:38:42+00:00`). Both are accepted.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Epoch seconds of an ISO 8601 / RFC 3339 date-time:
/// `YYYY-MM-DD[T ]hh:mm:ss[.fff][Z|±hh[:mm]]` (no offset means UTC).
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let second = num(17, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut fraction = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        fraction = format!("0.{}", &s[start..end]).parse().ok()?;
        i = end;
    }
    let offset_seconds = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', _, _] => num(i + 4, 2)?,
                [_, _] => num(i + 3, 2)?,
                _ => return None,
            };
            let off = oh * 3600 + om * 60;
            if sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds as f64 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whole epoch seconds, rounded down; negative and non-finite values give 0.
pub(crate) fn floor_secs(t: f64) -> u64 {
    if t.is_finite() && t > 0.0 {
        t.floor() as u64
    } else {
        0
    }
}

/// Whole epoch seconds, rounded up; negative and non-finite values give 0.
pub(crate) fn ceil_secs(t: f64) -> u64 {
    if t.is_finite() && t > 0.0 {
        t.ceil() as u64
    } else {
        0
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp (epoch seconds, or an ISO 8601 date-time string)")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        if let Ok(n) = v.trim().parse::<f64>()
            && n.is_finite()
        {
            return Ok(n);
        }
        parse_iso8601(v.trim()).ok_or_else(|| {
            E::custom(format!(
                "invalid timestamp {v:?}: expected epoch seconds or an ISO 8601 date-time"
            ))
        })
    }
}

/// `deserialize_with` for an optional timestamp field.
pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            TimestampVisitor.expecting(f)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(TimestampVisitor).map(Some)
        }
    }
    d.deserialize_option(OptVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_iso8601("2018-11-20T15:38:42+00:00"),
            Some(1_542_728_322.0)
        );
        assert_eq!(
            parse_iso8601("2018-11-20T16:38:42+01:00"),
            Some(1_542_728_322.0)
        );
        assert_eq!(
            parse_iso8601("2018-11-20T15:08:42-0030"),
            Some(1_542_728_322.0)
        );
        assert_eq!(
            parse_iso8601("2018-11-20 15:38:42.250"),
            Some(1_542_728_322.25)
        );
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400.0));
        assert_eq!(parse_iso8601("2018-13-20T15:38:42Z"), None);
        assert_eq!(parse_iso8601("2018-11-20"), None);
        assert_eq!(parse_iso8601("2018-11-20T15:38:42Zjunk"), None);
        assert_eq!(parse_iso8601("2018-11-20T15:38:42."), None);
    }

    #[test]
    fn rounding() {
        assert_eq!(floor_secs(1.9), 1);
        assert_eq!(ceil_secs(1.1), 2);
        assert_eq!(ceil_secs(2.0), 2);
        assert_eq!(floor_secs(-5.0), 0);
        assert_eq!(floor_secs(f64::NAN), 0);
    }
}
