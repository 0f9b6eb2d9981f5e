//! Every shape of function `#[traced]` accepts, and the span each produces:
//! name, parent link, attributes and status. (The compile side of each
//! shape is a `ui/pass` case.)

use std::fmt::{Debug, Display};
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;
use std::time::Duration;

use xray_runtime::testing::{self, Capture, FinishedSpan, SpanStatus};
use xray_runtime::{traced, xray_root};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

/// A traced probe: its span shows which span was current where it ran.
#[traced(args(n))]
fn leaf(n: u32) -> u32 {
    n
}

/// The only `leaf` span, checked to be a child of `parent`.
fn leaf_under(capture: &Capture, parent: &FinishedSpan) -> FinishedSpan {
    let leaf = capture.span("leaf");
    leaf.assert_child_of(parent);
    leaf
}

// --- free functions ------------------------------------------------------------

#[traced(args(a, b))]
fn free(a: u32, b: u32) -> u32 {
    leaf(a) + b
}

#[test]
fn free_function() {
    let capture = testing::capture();
    assert_eq!(free(1, 2), 3);
    let span = capture.span("free");
    assert!(span.is_root());
    assert_eq!(span.attr_i64("a"), Some(1));
    assert_eq!(span.attr_i64("b"), Some(2));
    assert_eq!(span.status, SpanStatus::Unset);
    leaf_under(&capture, &span);
}

// --- receivers and associated functions --------------------------------------

#[derive(Debug)]
struct Account {
    balance: u32,
}

impl Account {
    #[traced(args(balance))]
    fn open(balance: u32) -> Self {
        Account { balance }
    }

    #[traced(attrs(balance = self.balance))]
    fn by_ref(&self) -> u32 {
        leaf(self.balance)
    }

    #[traced(args(amount))]
    fn by_mut(&mut self, amount: u32) -> &mut Self {
        self.balance += amount;
        self
    }

    #[traced(args(self))]
    fn by_value(self) -> u32 {
        self.balance
    }

    #[traced]
    #[allow(clippy::boxed_local)]
    fn boxed(self: Box<Self>) -> u32 {
        leaf(self.balance)
    }

    #[traced(ret)]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.get_mut().balance += 1;
        leaf(0)
    }

    #[traced(ret)]
    async fn pinned_async(self: Pin<&mut Self>) -> u32 {
        tokio::task::yield_now().await;
        self.get_mut().balance += 1;
        leaf(1)
    }
}

#[test]
fn receivers_and_associated_functions() {
    let capture = testing::capture();
    let mut account = Account::open(10);
    assert_eq!(capture.span("open").attr_i64("balance"), Some(10));

    account.by_mut(1).by_mut(2);
    let by_mut = capture.spans_named("by_mut");
    assert_eq!(by_mut.len(), 2);
    assert_eq!(by_mut[1].attr_i64("amount"), Some(2));

    capture.clear();
    assert_eq!(account.by_ref(), 13);
    let by_ref = capture.span("by_ref");
    assert_eq!(by_ref.attr_i64("balance"), Some(13));
    leaf_under(&capture, &by_ref);

    capture.clear();
    assert_eq!(Pin::new(&mut account).pinned(), 0);
    let pinned = capture.span("pinned");
    assert_eq!(pinned.attr_i64("xray.return"), Some(0));
    leaf_under(&capture, &pinned);

    capture.clear();
    assert_eq!(runtime().block_on(Pin::new(&mut account).pinned_async()), 1);
    let pinned_async = capture.span("pinned_async");
    assert_eq!(pinned_async.attr_i64("xray.return"), Some(1));
    leaf_under(&capture, &pinned_async);
    assert_eq!(account.balance, 15);

    capture.clear();
    assert_eq!(Box::new(Account { balance: 4 }).boxed(), 4);
    leaf_under(&capture, &capture.span("boxed"));

    assert_eq!(account.by_value(), 15);
    assert_eq!(
        capture.span("by_value").attr_str("self"),
        Some("Account { balance: 15 }")
    );
}

// --- generics, lifetimes, const generics, impl Trait --------------------------

#[traced(args(items), ret)]
fn largest<'a, T, const N: usize>(items: &'a [T; N]) -> Option<&'a T>
where
    T: Ord + Debug,
{
    items.iter().max()
}

#[traced(args(values))]
fn summed(values: impl IntoIterator<Item = u32> + Debug) -> impl Display {
    values.into_iter().map(leaf).sum::<u32>()
}

#[test]
fn generics_and_impl_trait() {
    let capture = testing::capture();
    assert_eq!(largest(&[3, 9, 4]), Some(&9));
    let span = capture.span("largest");
    assert_eq!(span.attr_str("items"), Some("[3, 9, 4]"));
    assert_eq!(span.attr_str("xray.return"), Some("Some(9)"));

    assert_eq!(summed(vec![1, 2]).to_string(), "3");
    let summed = capture.span("summed");
    assert_eq!(summed.attr_str("values"), Some("[1, 2]"));
    let leaves = capture.spans_named("leaf");
    assert_eq!(leaves.len(), 2);
    leaves.iter().for_each(|leaf| leaf.assert_child_of(&summed));
}

// --- async fn ------------------------------------------------------------------

#[traced(args(n), ret)]
async fn async_double(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    leaf(n) * 2
}

#[test]
fn async_function() {
    let capture = testing::capture();
    let future = assert_send(async_double(4));
    assert_eq!(runtime().block_on(future), 8);
    let span = capture.span("async_double");
    assert_eq!(span.attr_i64("n"), Some(4));
    assert_eq!(span.attr_i64("xray.return"), Some(8));
    assert!(span.duration() >= Duration::from_millis(2));
    leaf_under(&capture, &span);
}

// --- fn -> impl Future { async move {} } ---------------------------------------

/// The returned future is instrumented, not the constructor: the span
/// starts at the call, is current while the future runs and ends with it.
#[traced(args(id), ret)]
fn returns_future(id: u32) -> impl Future<Output = (u32, Option<String>)> + Send {
    // Setup runs at the call, in the caller's span.
    let doubled = leaf(id) * 2;
    async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        (doubled, xray_runtime::current_span_id())
    }
}

#[traced]
fn returns_fallible(text: String) -> impl Future<Output = Result<u32, ParseIntError>> {
    async move {
        let n: u32 = text.parse()?;
        Ok(n)
    }
}

#[traced(ret)]
fn returns_boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { leaf(n) + 1 })
}

#[traced]
fn outer_caller() -> impl Future<Output = (u32, Option<String>)> {
    returns_future(5)
}

#[test]
fn a_returned_future_is_instrumented() {
    let capture = testing::capture();
    let future = returns_future(3);
    // The setup ran at the call, outside the span (which has not ended).
    let setup_leaf = capture.span("leaf");
    assert!(setup_leaf.is_root());
    assert!(capture.spans_named("returns_future").is_empty());
    std::thread::sleep(Duration::from_millis(5));
    let (value, current) = runtime().block_on(future);
    assert_eq!(value, 6);
    let span = capture.span("returns_future");
    assert_eq!(
        current.as_deref(),
        Some(span.span_id.as_str()),
        "the span is current while the future runs"
    );
    assert_eq!(span.attr_i64("id"), Some(3));
    assert!(
        span.attr_str("xray.return")
            .is_some_and(|r| r.starts_with("(6, Some(")),
        "{span:?}"
    );
    assert!(
        span.duration() >= Duration::from_millis(7),
        "from the call to the result: {:?}",
        span.duration()
    );
}

#[test]
fn a_returned_future_records_errors_and_children() {
    let capture = testing::capture();
    let runtime = runtime();
    assert_eq!(runtime.block_on(returns_fallible("12".into())), Ok(12));
    assert!(runtime.block_on(returns_fallible("x".into())).is_err());
    let spans = capture.spans_named("returns_fallible");
    assert_eq!(spans[0].status, SpanStatus::Unset);
    assert!(matches!(&spans[1].status, SpanStatus::Error(m) if m.contains("invalid digit")));

    assert_eq!(runtime.block_on(assert_send(returns_boxed(1))), 2);
    let boxed = capture.span("returns_boxed");
    assert_eq!(boxed.attr_i64("xray.return"), Some(2));
    leaf_under(&capture, &boxed);
}

#[test]
fn a_returned_future_dropped_unpolled_ends_cancelled() {
    let capture = testing::capture();
    drop(returns_future(1));
    let span = capture.span("returns_future");
    assert_eq!(span.attr_bool("xray.cancelled"), Some(true));
    assert_eq!(span.status, SpanStatus::Unset);
}

#[test]
fn returned_futures_nest() {
    let capture = testing::capture();
    runtime().block_on(outer_caller());
    let outer = capture.span("outer_caller");
    capture.span("returns_future").assert_child_of(&outer);
}

#[xray_root(trace_header = header)]
fn root_future(header: &str) -> impl Future<Output = u32> + use<> {
    async move { leaf(1) }
}

#[test]
fn a_root_can_return_a_future() {
    let capture = testing::capture();
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    assert_eq!(runtime().block_on(root_future(header)), 1);
    let root = capture.span("root_future");
    assert_eq!(root.trace_id, "1-5759e988-bd862e3fe1be46a994272793");
    assert!(root.parent_is_remote);
    leaf_under(&capture, &root);
}

// --- async-trait, with #[traced] below and above #[async_trait] ------------------

#[async_trait::async_trait]
trait Repository {
    async fn get(&self, id: u32) -> Result<u32, String>;

    // A default method: #[async_trait] has boxed it when #[traced] runs.
    #[traced(name = "Repository::describe", ret)]
    async fn describe(&self) -> String {
        format!("repository of {}", leaf(7))
    }
}

async fn get_body(id: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no order 0".to_string());
    }
    Ok(leaf(id))
}

/// `#[traced]` on the method: `#[async_trait]` on the block expands first.
struct MethodBelow;

#[async_trait::async_trait]
impl Repository for MethodBelow {
    #[traced(args(id))]
    async fn get(&self, id: u32) -> Result<u32, String> {
        get_body(id).await
    }
}

/// `#[traced]` above `#[async_trait]`: it sees an `async fn`.
struct BlockAbove;

#[traced(args(id))]
#[async_trait::async_trait]
impl Repository for BlockAbove {
    async fn get(&self, id: u32) -> Result<u32, String> {
        get_body(id).await
    }
}

/// `#[traced]` below `#[async_trait]`: it sees the boxed futures.
struct BlockBelow;

#[async_trait::async_trait]
#[traced(args(id))]
impl Repository for BlockBelow {
    async fn get(&self, id: u32) -> Result<u32, String> {
        get_body(id).await
    }
}

#[test]
fn async_trait_methods_in_every_order() {
    let capture = testing::capture();
    let runtime = runtime();
    let repos: [(&str, Box<dyn Repository + Send + Sync>); 3] = [
        ("method below", Box::new(MethodBelow)),
        ("block above", Box::new(BlockAbove)),
        ("block below", Box::new(BlockBelow)),
    ];
    for (order, repo) in repos {
        capture.clear();
        assert_eq!(runtime.block_on(assert_send(repo.get(3))), Ok(3), "{order}");
        let get = capture.span("get");
        assert_eq!(get.attr_i64("id"), Some(3), "{order}");
        assert_eq!(get.status, SpanStatus::Unset, "{order}");
        leaf_under(&capture, &get);

        capture.clear();
        assert!(runtime.block_on(repo.get(0)).is_err(), "{order}");
        let get = capture.span("get");
        assert_eq!(
            get.status,
            SpanStatus::Error("no order 0".into()),
            "{order}"
        );
        assert!(get.event("exception").is_some(), "{order}");
    }

    capture.clear();
    let described = runtime.block_on(MethodBelow.describe());
    assert_eq!(described, "repository of 7");
    let describe = capture.span("Repository::describe");
    assert_eq!(describe.attr_str("xray.return"), Some("repository of 7"));
    leaf_under(&capture, &describe);
}

// --- trait default methods ------------------------------------------------------

trait Greeter {
    fn who(&self) -> String;

    #[traced(ret)]
    fn greet(&self) -> String {
        format!("hello {}", self.who())
    }

    #[traced]
    async fn greet_later(&self) -> String {
        tokio::task::yield_now().await;
        self.greet()
    }
}

struct English;

impl Greeter for English {
    fn who(&self) -> String {
        leaf(0);
        "world".to_string()
    }
}

#[test]
fn trait_default_methods() {
    let capture = testing::capture();
    assert_eq!(runtime().block_on(English.greet_later()), "hello world");
    let later = capture.span("greet_later");
    let greet = capture.span("greet");
    greet.assert_child_of(&later);
    assert_eq!(greet.attr_str("xray.return"), Some("hello world"));
    leaf_under(&capture, &greet);
}

// --- unsafe and extern "C" ---------------------------------------------------

/// # Safety
/// `ptr` must be valid for reads.
#[traced(ret)]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { *ptr }
}

#[traced(args(a, b))]
extern "C" fn c_add(a: u32, b: u32) -> u32 {
    leaf(a + b)
}

#[test]
fn unsafe_and_extern_functions() {
    let capture = testing::capture();
    let value = 9;
    // SAFETY: `value` lives across the call.
    assert_eq!(unsafe { read(&value) }, 9);
    assert_eq!(capture.span("read").attr_i64("xray.return"), Some(9));
    let as_c: extern "C" fn(u32, u32) -> u32 = c_add;
    assert_eq!(as_c(1, 2), 3);
    let add = capture.span("c_add");
    assert_eq!(add.attr_i64("b"), Some(2));
    leaf_under(&capture, &add);
}

// --- attributes on the function --------------------------------------------------

/// Documented, and kept so.
#[must_use]
#[inline]
#[cfg(not(any()))]
#[traced]
#[allow(clippy::let_and_return)]
fn attributed() -> u32 {
    let value = leaf(4);
    value
}

// Compiled out by its `cfg`: it would not compile otherwise.
#[cfg(any())]
#[traced]
fn compiled_out() -> u32 {
    does_not_exist()
}

#[traced(ret)]
fn inner_attributes() -> u32 {
    // Lifted onto the function, these still apply to the whole body.
    #![allow(unused_mut, clippy::let_and_return)]
    let mut three = 3;
    three
}

#[test]
fn attributes_and_inner_attributes_are_kept() {
    let capture = testing::capture();
    assert_eq!(attributed(), 4);
    leaf_under(&capture, &capture.span("attributed"));
    assert_eq!(inner_attributes(), 3);
    assert_eq!(
        capture.span("inner_attributes").attr_i64("xray.return"),
        Some(3)
    );
}

// --- patterns in arguments -------------------------------------------------------

struct Point {
    x: u32,
    #[allow(dead_code)]
    y: u32,
}

#[traced(args(a, b, x))]
fn patterns((a, b): (u32, u32), Point { x, .. }: Point) -> u32 {
    a + b + x
}

#[traced(args(first, renamed))]
async fn async_patterns([first, _]: [u32; 2], Point { x: renamed, .. }: Point) -> u32 {
    first + renamed
}

#[test]
fn patterns_in_arguments() {
    let capture = testing::capture();
    assert_eq!(patterns((1, 2), Point { x: 3, y: 0 }), 6);
    let span = capture.span("patterns");
    assert_eq!(span.attr_i64("a"), Some(1));
    assert_eq!(span.attr_i64("b"), Some(2));
    assert_eq!(span.attr_i64("x"), Some(3));
    let future = async_patterns([4, 5], Point { x: 6, y: 0 });
    assert_eq!(runtime().block_on(future), 10);
    let span = capture.span("async_patterns");
    assert_eq!(span.attr_i64("first"), Some(4));
    assert_eq!(span.attr_i64("renamed"), Some(6));
}

// --- bodies: closures, recursion, ? and early return -------------------------------

#[traced(ret)]
fn closures(values: &[i32]) -> i32 {
    let abs = |v: i32| {
        if v < 0 {
            return -v;
        }
        v
    };
    values.iter().map(|v| abs(*v)).sum()
}

#[traced(args(n), ret)]
fn depth(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    1 + depth(n - 1)
}

#[traced(ret)]
fn early(input: &str) -> Result<u32, ParseIntError> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u32 = input.trim().parse()?;
    Ok(n + 1)
}

#[test]
fn return_in_closures_is_the_closures_own() {
    let capture = testing::capture();
    assert_eq!(closures(&[-2, 3]), 5);
    let span = capture.span("closures");
    assert_eq!(span.attr_i64("xray.return"), Some(5));
    assert_eq!(span.status, SpanStatus::Unset);
}

#[test]
fn recursion_nests() {
    let capture = testing::capture();
    assert_eq!(depth(2), 2);
    let spans = capture.spans_named("depth");
    assert_eq!(spans.len(), 3);
    // Innermost ends first.
    assert_eq!(spans[0].attr_i64("n"), Some(0));
    spans[0].assert_child_of(&spans[1]);
    spans[1].assert_child_of(&spans[2]);
    assert!(spans[2].is_root());
    assert_eq!(spans[2].attr_i64("xray.return"), Some(2));
}

#[test]
fn question_mark_and_early_return() {
    let capture = testing::capture();
    assert_eq!(early(""), Ok(0));
    assert_eq!(early("41"), Ok(42));
    assert!(early("x").is_err());
    let spans = capture.spans_named("early");
    assert_eq!(spans[0].attr_i64("xray.return"), Some(0));
    assert_eq!(spans[1].attr_i64("xray.return"), Some(42));
    assert_eq!(spans[1].status, SpanStatus::Unset);
    assert!(matches!(&spans[2].status, SpanStatus::Error(m) if m.contains("invalid digit")));
    assert_eq!(spans[2].attr("xray.return"), None);
}

// --- #[traced] on impl blocks --------------------------------------------------

struct Store {
    rows: Vec<u32>,
}

#[traced(kind = client, args(id), attrs(store = "orders"))]
impl Store {
    fn new() -> Self {
        Store { rows: vec![10, 20] }
    }

    fn load(&self, id: usize) -> Result<u32, String> {
        self.rows
            .get(id)
            .map(|row| leaf(*row))
            .ok_or_else(|| format!("no row {id}"))
    }

    #[traced(skip)]
    fn helper(&self) -> usize {
        self.rows.len()
    }

    #[traced(name = "Store::save", kind = server, args(row))]
    fn save(&mut self, row: u32) -> usize {
        self.rows.push(row);
        self.helper()
    }

    const fn limit() -> usize {
        100
    }

    async fn fetch(&self, id: usize) -> u32 {
        tokio::task::yield_now().await;
        self.rows[id]
    }
}

trait Lookup {
    fn lookup(&self, id: usize) -> Option<u32>;
    fn count(&self) -> usize;
}

#[traced(ret, err)]
impl Lookup for Store {
    fn lookup(&self, id: usize) -> Option<u32> {
        self.rows.get(id).copied()
    }

    #[traced(ret = false)]
    fn count(&self) -> usize {
        self.rows.len()
    }
}

#[test]
fn an_impl_block_traces_each_method() {
    let capture = testing::capture();
    let mut store = Store::new();
    assert_eq!(store.load(1), Ok(20));
    assert!(store.load(9).is_err());
    assert_eq!(store.save(30), 3);
    assert_eq!(Store::limit(), 100);
    assert_eq!(runtime().block_on(store.fetch(2)), 30);

    let new = capture.span("new");
    assert_eq!(format!("{:?}", new.kind), "Client");
    assert_eq!(new.attr_str("store"), Some("orders"));
    assert_eq!(
        new.attr("id"),
        None,
        "`args(id)` only where there is an `id`"
    );

    let loads = capture.spans_named("load");
    assert_eq!(loads[0].attr_i64("id"), Some(1));
    assert_eq!(loads[0].attr_str("store"), Some("orders"));
    assert_eq!(loads[0].status, SpanStatus::Unset);
    leaf_under(&capture, &loads[0]);
    assert_eq!(loads[1].status, SpanStatus::Error("no row 9".into()));

    // The method's own options replace the block's, one by one.
    let save = capture.span("Store::save");
    assert_eq!(format!("{:?}", save.kind), "Server");
    assert_eq!(save.attr_i64("row"), Some(30));
    assert_eq!(save.attr_str("store"), Some("orders"));
    assert!(capture.spans_named("helper").is_empty(), "skipped");
    assert!(capture.spans_named("limit").is_empty(), "a const fn");
    assert_eq!(capture.span("fetch").attr_i64("id"), Some(2));
}

#[test]
fn a_trait_impl_block_traces_each_method() {
    let capture = testing::capture();
    let store = Store::new();
    assert_eq!(store.lookup(0), Some(10));
    assert_eq!(store.count(), 2);
    let lookup = capture.span("lookup");
    assert_eq!(lookup.attr_str("xray.return"), Some("Some(10)"));
    assert_eq!(lookup.status, SpanStatus::Unset, "`None` is not an error");
    assert_eq!(capture.span("count").attr("xray.return"), None);
}
