//! The spans the macros produce, captured in memory: names, parent links,
//! kinds, attributes, outcomes, and trace boundaries.

use std::time::Duration;

use xray_runtime::testing::{self, Capture, FinishedSpan, SpanStatus};
use xray_runtime::{traced, xray_root};

fn root_of(capture: &Capture, name: &str) -> FinishedSpan {
    let span = capture.span(name);
    assert!(span.is_root(), "{name} should be a root: {span:?}");
    span
}

// --- nesting, names, kinds -------------------------------------------------

#[xray_root(name = "GET /orders")]
fn handle_request(id: u64) -> u64 {
    load_order(id) + price(id)
}

#[traced(attrs(order.id = id, order.source = "web", order.channel = %"app", order.quoted = ?"debug"), annotations(tier = "gold"))]
fn load_order(id: u64) -> u64 {
    query(id)
}

#[traced(kind = client, name = "db.query")]
fn query(id: u64) -> u64 {
    id * 2
}

#[traced]
fn price(id: u64) -> u64 {
    id + 1
}

#[test]
fn nested_spans_form_one_tree() {
    let capture = testing::capture();
    assert_eq!(handle_request(7), 22);

    let root = root_of(&capture, "GET /orders");
    assert_eq!(root.kind, xray_runtime::__private::SpanKind::Server);
    let load = capture.span("load_order");
    let db = capture.span("db.query");
    let price = capture.span("price");
    load.assert_child_of(&root);
    db.assert_child_of(&load);
    price.assert_child_of(&root);
    assert_eq!(db.kind, xray_runtime::__private::SpanKind::Client);
    assert_eq!(load.kind, xray_runtime::__private::SpanKind::Internal);
    assert_eq!(
        capture
            .children(&root)
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["load_order", "price"]
    );
    assert_eq!(capture.spans().len(), 4);
    assert!(
        root.trace_id.starts_with("1-") && root.trace_id.len() == 35,
        "{}",
        root.trace_id
    );
}

#[test]
fn attributes_and_annotations_are_recorded() {
    let capture = testing::capture();
    handle_request(3);
    let load = capture.span("load_order");
    assert_eq!(load.attr_i64("order.id"), Some(3));
    // String literals, as written (`?` keeps the quotes of `Debug`).
    assert_eq!(load.attr_str("order.source"), Some("web"));
    assert_eq!(load.attr_str("order.channel"), Some("app"));
    assert_eq!(load.attr_str("order.quoted"), Some("\"debug\""));
    assert_eq!(load.attr_str("tier"), Some("gold"));
    assert_eq!(load.annotation_keys(), vec!["tier".to_string()]);
    // Nothing is recorded unless named.
    assert!(capture.span("price").attributes.is_empty());
}

// --- one trace per root ----------------------------------------------------

#[traced]
fn job_batch() {
    job(1);
    job(2);
}

#[xray_root(kind = consumer)]
fn job(n: u32) {
    step(n);
}

#[traced(args(n))]
fn step(n: u32) {
    let _ = n;
}

#[test]
fn each_root_call_is_its_own_trace_even_inside_a_span() {
    let capture = testing::capture();
    job_batch();
    let jobs = capture.spans_named("job");
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter().all(FinishedSpan::is_root),
        "roots ignore the ambient span"
    );
    assert_ne!(jobs[0].trace_id, jobs[1].trace_id);
    let batch = capture.span("job_batch");
    assert!(jobs.iter().all(|j| j.trace_id != batch.trace_id));
    for step in capture.spans_named("step") {
        let job = jobs
            .iter()
            .find(|j| j.trace_id == step.trace_id)
            .expect("step in a job's trace");
        step.assert_child_of(job);
    }
}

// --- continuing a trace from a header --------------------------------------

#[xray_root(trace_header = header)]
fn from_header(header: Option<&str>) -> Option<String> {
    inner_work();
    xray_runtime::current_trace_header()
}

#[traced]
fn inner_work() {}

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

#[test]
fn a_header_with_parent_continues_the_callers_trace() {
    let capture = testing::capture();
    let out = from_header(Some(&format!(
        "Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    )));
    let root = capture.span("from_header");
    assert_eq!(root.trace_id, ROOT);
    assert_eq!(root.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert!(root.parent_is_remote);
    capture.span("inner_work").assert_child_of(&root);
    // What we would send on: same trace, our span as parent, decision kept.
    assert_eq!(
        out,
        Some(format!("Root={ROOT};Parent={};Sampled=1", root.span_id))
    );
}

#[test]
fn a_root_only_header_keeps_the_trace_id() {
    let capture = testing::capture();
    from_header(Some(&format!("Root={ROOT};Sampled=1")));
    let root = capture.span("from_header");
    assert_eq!(root.trace_id, ROOT, "the load balancer's trace id is kept");
    assert!(root.is_root());
}

#[test]
fn the_callers_decision_not_to_sample_is_followed() {
    let capture = testing::capture();
    let out = from_header(Some(&format!(
        "Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"
    )));
    assert!(
        capture.spans().is_empty(),
        "nothing exported for an unsampled trace"
    );
    // The decision still travels on.
    let out = out.expect("a span context exists even when not sampled");
    assert!(
        out.starts_with(&format!("Root={ROOT};Parent=")) && out.ends_with(";Sampled=0"),
        "{out}"
    );
}

#[test]
fn a_deferred_decision_is_made_here() {
    let capture = testing::capture();
    from_header(Some(&format!(
        "Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=?"
    )));
    let root = capture.span("from_header");
    assert_eq!(root.trace_id, ROOT);
    assert!(root.sampled);
}

#[test]
fn malformed_headers_start_a_fresh_trace() {
    let capture = testing::capture();
    let hostile = [
        "garbage",
        "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=zzzz",
        &"Root=1-5759e988-bd862e3fe1be46a994272793;".repeat(20),
        "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1",
        "",
    ];
    for header in hostile {
        from_header(Some(header));
    }
    from_header(None);
    let roots = capture.spans_named("from_header");
    assert_eq!(roots.len(), hostile.len() + 1);
    for root in &roots {
        assert!(root.is_root(), "{root:?}");
        assert_ne!(root.trace_id, ROOT);
    }
}

// --- outcomes: errors, returns, panics -------------------------------------

#[derive(Debug)]
struct Declined {
    source: std::io::Error,
}

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[traced]
fn charge(ok: bool) -> Result<u32, Declined> {
    if ok {
        return Ok(10);
    }
    Err(Declined {
        source: std::io::Error::other("gateway timeout"),
    })
}

#[test]
fn an_err_marks_the_span_failed_with_an_exception_event() {
    let capture = testing::capture();
    assert_eq!(charge(true).ok(), Some(10));
    assert!(charge(false).is_err());
    let spans = capture.spans_named("charge");
    assert_eq!(spans[0].status, SpanStatus::Unset);
    assert!(spans[0].event("exception").is_none());
    let failed = &spans[1];
    assert_eq!(failed.status, SpanStatus::Error("card declined".into()));
    let event = failed.event("exception").expect("exception event");
    assert_eq!(
        event.attr("exception.message").as_deref(),
        Some("card declined")
    );
    assert!(
        event
            .attr("exception.type")
            .is_some_and(|t| t.ends_with("Declined"))
    );
    assert!(
        event
            .attr("exception.causes")
            .is_some_and(|c| c.contains("gateway timeout"))
    );
}

type MyResult<T> = Result<T, String>;

#[traced]
fn alias_result() -> MyResult<()> {
    Err("nope".to_string())
}

#[traced(err = false)]
fn expected_failure() -> Result<(), String> {
    Err("not found is normal here".to_string())
}

#[traced]
fn maybe() -> Option<u8> {
    None
}

#[test]
fn result_aliases_are_recorded_and_err_false_turns_it_off() {
    let capture = testing::capture();
    let _ = alias_result();
    let _ = expected_failure();
    let _ = maybe();
    assert_eq!(
        capture.span("alias_result").status,
        SpanStatus::Error("nope".into())
    );
    assert_eq!(capture.span("expected_failure").status, SpanStatus::Unset);
    assert_eq!(
        capture.span("maybe").status,
        SpanStatus::Unset,
        "None is not an error"
    );
}

#[traced(ret)]
fn answer() -> u32 {
    42
}

#[traced(ret(?))]
fn listing() -> Vec<&'static str> {
    vec!["a", "b"]
}

#[traced(ret)]
fn parsed(ok: bool) -> Result<String, String> {
    if ok {
        Ok("fine".into())
    } else {
        Err("bad".into())
    }
}

#[test]
fn return_values_are_recorded_when_asked() {
    let capture = testing::capture();
    answer();
    listing();
    let _ = parsed(true);
    let _ = parsed(false);
    assert_eq!(capture.span("answer").attr_i64("xray.return"), Some(42));
    assert_eq!(
        capture.span("listing").attr_str("xray.return"),
        Some("[\"a\", \"b\"]")
    );
    let parsed = capture.spans_named("parsed");
    assert_eq!(parsed[0].attr_str("xray.return"), Some("fine"));
    assert_eq!(parsed[1].attr("xray.return"), None);
    assert_eq!(parsed[1].status, SpanStatus::Error("bad".into()));
}

#[xray_root]
fn panicking_root() {
    panicking_child();
}

#[traced]
fn panicking_child() {
    panic!("out of stock");
}

#[test]
fn a_panic_fails_every_span_it_unwinds_through_and_continues() {
    let capture = testing::capture();
    let outcome = std::panic::catch_unwind(panicking_root);
    assert!(outcome.is_err(), "the panic continues unchanged");
    for name in ["panicking_root", "panicking_child"] {
        let span = capture.span(name);
        assert_eq!(span.status, SpanStatus::Error("panicked".into()), "{name}");
        let event = span.event("exception").expect("exception event");
        assert_eq!(
            event.attr("exception.message").as_deref(),
            Some("out of stock")
        );
        assert!(
            event
                .attr("code.file.path")
                .is_some_and(|f| f.ends_with("spans.rs"))
        );
    }
    capture
        .span("panicking_child")
        .assert_child_of(&capture.span("panicking_root"));
}

// --- async -------------------------------------------------------------------

#[xray_root]
async fn async_root() -> usize {
    let a = async_child(1).await;
    let b = async_child(2).await;
    a + b + sync_inside_async()
}

#[traced(args(n))]
async fn async_child(n: usize) -> usize {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let id = xray_runtime::current_span_id();
    tokio::task::yield_now().await;
    assert_eq!(
        xray_runtime::current_span_id(),
        id,
        "the span stays current across .await"
    );
    n
}

#[traced]
fn sync_inside_async() -> usize {
    0
}

#[test]
fn async_spans_nest_across_awaits() {
    let capture = testing::capture();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(async_root()), 3);
    let root = capture.span("async_root");
    let children = capture.spans_named("async_child");
    assert_eq!(children.len(), 2);
    for child in &children {
        (child).assert_child_of(&root);
        assert!(child.duration() >= Duration::from_millis(2));
    }
    capture.span("sync_inside_async").assert_child_of(&root);
    assert_eq!(
        xray_runtime::current_span_id(),
        None,
        "nothing leaks onto the test thread"
    );
}

#[traced]
async fn slow() {
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn a_dropped_future_ends_its_span_as_cancelled() {
    let capture = testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(5), slow()).await;
    });
    let span = capture.span("slow");
    assert_eq!(span.attr_bool("xray.cancelled"), Some(true));
    assert_eq!(
        span.status,
        SpanStatus::Unset,
        "cancellation is not an error"
    );
}

// --- helpers on the current span ---------------------------------------------

#[traced]
fn uses_helpers() -> (Option<String>, Option<String>) {
    xray_runtime::set_attribute("cart.size", 3u64);
    xray_runtime::annotate("customer_tier", "silver").expect("valid key");
    xray_runtime::annotate("region", 5).expect("valid key");
    xray_runtime::add_event("cache.miss", [("cache.key", "cart:7")]);
    (
        xray_runtime::current_trace_id(),
        xray_runtime::current_span_id(),
    )
}

#[test]
fn helpers_act_on_the_current_span() {
    let capture = testing::capture();
    let (trace_id, span_id) = uses_helpers();
    let span = capture.span("uses_helpers");
    assert_eq!(trace_id.as_deref(), Some(span.trace_id.as_str()));
    assert_eq!(span_id.as_deref(), Some(span.span_id.as_str()));
    assert_eq!(span.attr_i64("cart.size"), Some(3));
    assert_eq!(span.attr_str("customer_tier"), Some("silver"));
    assert_eq!(
        span.annotation_keys(),
        vec!["customer_tier".to_string(), "region".to_string()]
    );
    assert_eq!(
        span.attributes
            .iter()
            .filter(|(k, _)| k == xray_runtime::ANNOTATIONS_KEY)
            .count(),
        1,
        "one annotation list reaches the exporter"
    );
    let event = span.event("cache.miss").expect("event");
    assert_eq!(event.attr("cache.key").as_deref(), Some("cart:7"));
    assert_eq!(xray_runtime::current_trace_id(), None);
}

// --- methods and threads ---------------------------------------------------

struct Cart {
    items: Vec<u32>,
}

impl Cart {
    #[traced(attrs(cart.items = self.items.len()))]
    fn total(&self) -> u32 {
        self.items.iter().sum()
    }

    #[traced]
    fn add(&mut self, item: u32) -> &mut Self {
        self.items.push(item);
        self
    }
}

#[test]
fn methods_are_traced_and_keep_their_borrows() {
    let capture = testing::capture();
    let mut cart = Cart { items: vec![1] };
    cart.add(2).add(3);
    assert_eq!(cart.total(), 6);
    assert_eq!(capture.spans_named("add").len(), 2);
    assert_eq!(capture.span("total").attr_i64("cart.items"), Some(3));
}

#[test]
fn spans_from_other_threads_are_captured() {
    let capture = testing::capture();
    std::thread::spawn(|| handle_request(1)).join().unwrap();
    assert_eq!(capture.spans().len(), 4);
}

// --- an error bubbling up ----------------------------------------------------

#[xray_root]
fn checkout_flow() -> Result<(), std::io::Error> {
    reserve()?;
    Ok(())
}

#[traced]
fn reserve() -> Result<(), std::io::Error> {
    write_row()
}

#[traced]
fn write_row() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("disk full"))
}

#[test]
fn a_bubbling_error_fails_every_level_but_is_recorded_once() {
    let capture = testing::capture();
    assert!(checkout_flow().is_err());
    let origin = capture.span("write_row");
    assert_eq!(origin.status, SpanStatus::Error("disk full".into()));
    assert!(origin.event("exception").is_some());
    for name in ["reserve", "checkout_flow"] {
        let span = capture.span(name);
        assert_eq!(span.status, SpanStatus::Error("disk full".into()), "{name}");
        assert!(
            span.event("exception").is_none(),
            "{name} does not repeat the event"
        );
        assert_eq!(
            span.attr_str(xray_runtime::EXCEPTION_ORIGIN_KEY),
            Some(origin.span_id.as_str()),
            "{name}"
        );
    }
    // A new, different error in the parent is recorded in full.
    let _ = alias_result();
    assert!(capture.span("alias_result").event("exception").is_some());
}
