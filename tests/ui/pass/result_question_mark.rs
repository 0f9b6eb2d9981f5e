use std::fmt;
use std::io;

use xray_runtime::testing::SpanStatus;
use xray_runtime::traced;

#[derive(Debug)]
enum MyErr {
    Parse(std::num::ParseIntError),
    Io(io::Error),
    TooBig(u32),
}

impl fmt::Display for MyErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MyErr::Parse(e) => write!(f, "parse: {e}"),
            MyErr::Io(e) => write!(f, "io: {e}"),
            MyErr::TooBig(n) => write!(f, "{n} is too big"),
        }
    }
}

impl std::error::Error for MyErr {}

impl From<std::num::ParseIntError> for MyErr {
    fn from(e: std::num::ParseIntError) -> Self {
        MyErr::Parse(e)
    }
}

impl From<io::Error> for MyErr {
    fn from(e: io::Error) -> Self {
        MyErr::Io(e)
    }
}

type MyResult<T> = Result<T, MyErr>;

#[traced]
fn read(fail: bool) -> io::Result<String> {
    if fail {
        return Err(io::Error::other("disk gone"));
    }
    Ok("41".to_string())
}

#[traced]
fn parse(text: &str) -> MyResult<u32> {
    let n: u32 = text.trim().parse()?;
    if n > 100 {
        return Err(MyErr::TooBig(n));
    }
    Ok(n)
}

#[traced(ret)]
fn load(fail: bool) -> Result<u32, MyErr> {
    let text = read(fail)?;
    let n = parse(&text)?;
    Ok(n + 1)
}

#[traced]
fn boxed(text: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    Ok(text.parse::<u32>()?)
}

#[traced]
async fn load_async(fail: bool) -> MyResult<u32> {
    let n = load(fail)?;
    Ok(n)
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(load(false).unwrap(), 42);
    assert_eq!(capture.span("load").attr_i64("xray.return"), Some(42));
    capture.clear();

    assert!(matches!(load(true), Err(MyErr::Io(_))));
    assert_eq!(
        capture.span("read").status,
        SpanStatus::Error("disk gone".into())
    );
    assert_eq!(
        capture.span("load").status,
        SpanStatus::Error("io: disk gone".into())
    );
    capture.clear();

    assert!(matches!(parse("x"), Err(MyErr::Parse(_))));
    assert!(matches!(parse("500"), Err(MyErr::TooBig(500))));
    let parses = capture.spans_named("parse");
    assert!(matches!(&parses[0].status, SpanStatus::Error(m) if m.starts_with("parse: ")));
    assert_eq!(parses[1].status, SpanStatus::Error("500 is too big".into()));

    assert!(boxed("nope").is_err());
    assert!(matches!(capture.span("boxed").status, SpanStatus::Error(_)));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime.block_on(load_async(true)).is_err());
    assert!(matches!(
        capture.span("load_async").status,
        SpanStatus::Error(_)
    ));
}
