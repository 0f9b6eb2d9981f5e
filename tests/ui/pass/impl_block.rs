// #[traced] on an inherent impl block: each method is traced, with the
// block's options as defaults that a method's own #[traced(...)] replaces
// option by option; #[traced(skip)] opts out.
use std::fmt::Debug;

use xray_runtime::testing::SpanStatus;
use xray_runtime::{traced, xray_root};

#[derive(Debug)]
struct Store<T> {
    rows: Vec<T>,
}

macro_rules! not_a_method {
    () => {
        const LIMIT: usize = 100;
    };
}

#[traced(kind = client, args(id), attrs(table = "rows"), ret)]
impl<T> Store<T>
where
    T: Clone + Debug,
{
    const EMPTY: usize = 0;
    not_a_method!();

    /// Associated function.
    pub fn new(rows: Vec<T>) -> Self {
        Store { rows }
    }

    pub fn get(&self, id: usize) -> Result<T, String> {
        self.rows
            .get(id)
            .cloned()
            .ok_or_else(|| format!("no row {id}"))
    }

    #[traced(skip)]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[traced(name = "Store::push", kind = internal, args(row), ret = false)]
    pub fn push(&mut self, row: T) -> &mut Self {
        self.rows.push(row);
        self
    }

    #[traced(err = false)]
    pub fn expected_miss(&self, id: usize) -> Result<T, String> {
        self.get(id)
    }

    pub const fn limit() -> usize {
        Self::LIMIT + Self::EMPTY
    }

    pub async fn fetch(&self, id: usize) -> Option<T> {
        tokio::task::yield_now().await;
        self.rows.get(id).cloned()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }

    #[xray_root(name = "Store::serve")]
    pub fn serve(&self) -> usize {
        self.rows.len()
    }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let mut store = Store::new(vec![10, 20]);
    assert_eq!(store.get(1), Ok(20));
    assert!(store.get(5).is_err());
    store.push(30).push(40);
    assert_eq!(store.len(), 4);
    assert!(store.expected_miss(9).is_err());
    assert_eq!(Store::<u8>::limit(), 100);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(store.fetch(0)), Some(10));
    assert_eq!(store.serve(), 4);
    store.clear();

    let new = capture.span("new");
    assert_eq!(format!("{:?}", new.kind), "Client");
    assert_eq!(new.attr_str("table"), Some("rows"));
    assert_eq!(
        new.attr_str("xray.return"),
        Some("Store { rows: [10, 20] }")
    );

    let gets = capture.spans_named("get");
    assert_eq!(gets.len(), 3, "expected_miss calls get");
    assert_eq!(gets[0].attr_i64("id"), Some(1));
    // `T` is generic: recorded through its `Debug` bound.
    assert_eq!(gets[0].attr_str("xray.return"), Some("20"));
    assert_eq!(gets[1].status, SpanStatus::Error("no row 5".into()));

    let pushes = capture.spans_named("Store::push");
    assert_eq!(pushes.len(), 2);
    assert_eq!(format!("{:?}", pushes[0].kind), "Internal");
    assert_eq!(pushes[0].attr_str("row"), Some("30"));
    assert_eq!(pushes[0].attr_str("table"), Some("rows"));
    assert_eq!(pushes[0].attr("xray.return"), None);

    assert!(capture.spans_named("len").is_empty());
    assert!(capture.spans_named("limit").is_empty());
    assert_eq!(capture.span("expected_miss").status, SpanStatus::Unset);
    assert_eq!(
        capture.span("fetch").attr_str("xray.return"),
        Some("Some(10)")
    );
    let serve = capture.span("Store::serve");
    assert!(serve.is_root());
    assert_eq!(
        format!("{:?}", serve.kind),
        "Server",
        "left to its #[xray_root]"
    );
    let clear = capture.span("clear");
    assert_eq!(
        clear.attr("xray.return"),
        None,
        "nothing returned, nothing recorded"
    );
}
