// `return` inside closures in the body belongs to the closure; `return`
// and `?` in the body itself end the span with the function.
use xray_runtime::testing::SpanStatus;
use xray_runtime::traced;

#[traced(ret)]
fn absolute_sum(values: &[i32]) -> i32 {
    let abs = |v: &i32| -> i32 {
        if *v < 0 {
            return -v;
        }
        *v
    };
    values.iter().map(abs).sum()
}

#[traced(ret)]
fn first_even(values: &[u32]) -> Option<u32> {
    for v in values {
        if v % 2 == 0 {
            return Some(*v);
        }
    }
    None
}

#[traced(ret)]
fn parse_all(texts: &[&str]) -> Result<Vec<u32>, std::num::ParseIntError> {
    let parsed = texts
        .iter()
        .map(|t| -> Result<u32, _> {
            let n = t.parse::<u32>()?;
            Ok(n * 2)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if parsed.is_empty() {
        return Ok(vec![0]);
    }
    Ok(parsed)
}

#[traced(ret)]
async fn async_closures(values: Vec<i32>) -> i32 {
    let pick = |v: i32| {
        if v > 10 {
            return 10;
        }
        v
    };
    tokio::task::yield_now().await;
    values.into_iter().map(pick).sum()
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(absolute_sum(&[-1, 2, -3]), 6);
    assert_eq!(first_even(&[1, 4, 6]), Some(4));
    assert_eq!(first_even(&[1]), None);
    assert_eq!(parse_all(&["1", "2"]), Ok(vec![2, 4]));
    assert_eq!(parse_all(&[]), Ok(vec![0]));
    assert!(parse_all(&["x"]).is_err());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(async_closures(vec![1, 20])), 11);

    assert_eq!(
        capture.span("absolute_sum").attr_i64("xray.return"),
        Some(6)
    );
    let evens = capture.spans_named("first_even");
    assert_eq!(evens[0].attr_i64("xray.return"), None);
    assert_eq!(evens[0].attr_str("xray.return"), Some("Some(4)"));
    assert_eq!(evens[1].attr_str("xray.return"), Some("None"));
    let parses = capture.spans_named("parse_all");
    let ret = |span: &xray_runtime::testing::FinishedSpan| {
        span.attr("xray.return").map(ToString::to_string)
    };
    assert_eq!(ret(&parses[0]).as_deref(), Some("[2,4]"));
    assert_eq!(ret(&parses[1]).as_deref(), Some("[0]"));
    assert!(matches!(parses[2].status, SpanStatus::Error(_)));
    assert_eq!(
        capture.span("async_closures").attr_i64("xray.return"),
        Some(11)
    );
}
