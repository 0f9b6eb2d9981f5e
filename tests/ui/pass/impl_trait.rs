use std::fmt::{Debug, Display};

use xray_runtime::traced;

#[derive(Debug)]
struct Negative(i64);

#[traced(args(items))]
fn total(items: impl IntoIterator<Item = i64> + Debug) -> i64 {
    items.into_iter().sum()
}

#[traced]
fn greeting(name: impl Into<String>) -> impl Display {
    format!("hello {}", name.into())
}

#[traced(ret)]
fn shown(n: i64) -> impl Display + Debug {
    n * 2
}

#[traced(err, ret(%))]
fn checked(n: i64) -> Result<impl Display, Negative> {
    if n < 0 {
        return Err(Negative(n));
    }
    Ok(format!("{n} is fine"))
}

#[traced(ret)]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[traced(ret(?))]
async fn later(x: impl Debug + Send) -> impl Debug {
    vec![format!("{x:?}")]
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(total(vec![1, 2, 3]), 6);
    assert_eq!(greeting("ann").to_string(), "hello ann");
    assert_eq!(shown(4).to_string(), "8");
    assert_eq!(checked(1).unwrap().to_string(), "1 is fine");
    assert!(checked(-1).is_err());
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(format!("{:?}", runtime.block_on(later(7))), "[\"7\"]");

    assert_eq!(capture.span("total").attr_str("items"), Some("[1, 2, 3]"));
    capture.span("greeting");
    assert_eq!(capture.span("shown").attr_i64("xray.return"), Some(8));
    let checked = capture.spans_named("checked");
    assert_eq!(checked[0].attr_str("xray.return"), Some("1 is fine"));
    assert!(checked[1].event("exception").is_some());
    assert!(capture.span("evens").attr("xray.return").is_some());
    assert_eq!(
        capture.span("later").attr_str("xray.return"),
        Some("[\"7\"]")
    );
}
