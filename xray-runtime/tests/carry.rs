//! Work moved to other threads and tasks keeps its parent span.

use xray_runtime::testing;
use xray_runtime::{SamplerKind, traced, xray_root};

#[traced]
async fn in_task(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[traced]
fn blocking_work() -> u32 {
    2
}

#[xray_root]
async fn fan_out() -> u32 {
    let task = xray_runtime::spawn(in_task(1));
    let blocking = xray_runtime::spawn_blocking(blocking_work);
    // A plain tokio::spawn does not carry the span: its work is a new trace.
    let detached = tokio::spawn(in_task(10));
    task.await.unwrap() + blocking.await.unwrap() + detached.await.unwrap()
}

#[test]
fn spawned_tasks_and_blocking_work_keep_their_parent() {
    let capture = testing::capture();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(fan_out()), 13);
    drop(runtime);
    let root = capture.span("fan_out");
    let tasks = capture.spans_named("in_task");
    assert_eq!(tasks.len(), 2);
    let carried: Vec<_> = tasks
        .iter()
        .filter(|t| t.trace_id == root.trace_id)
        .collect();
    assert_eq!(
        carried.len(),
        1,
        "only the carried task joins the trace: {tasks:?}"
    );
    carried[0].assert_child_of(&root);
    capture.span("blocking_work").assert_child_of(&root);
}

#[traced]
fn on_thread() -> Option<String> {
    xray_runtime::current_trace_header()
}

#[xray_root]
fn threads() -> Option<String> {
    xray_runtime::thread::spawn(on_thread).join().unwrap()
}

#[test]
fn threads_keep_their_parent_and_propagate_it() {
    let capture = testing::capture();
    let header = threads().expect("a header inside the thread's span");
    let root = capture.span("threads");
    let child = capture.span("on_thread");
    child.assert_child_of(&root);
    assert_eq!(
        header,
        format!("Root={};Parent={};Sampled=1", root.trace_id, child.span_id)
    );
}

#[test]
fn an_unsampled_parent_stays_unsampled_across_threads() {
    let capture = testing::capture_with(SamplerKind::ParentBasedAlwaysOff);
    let header = threads().expect("the trace context travels even when not sampled");
    assert!(header.ends_with(";Sampled=0"), "{header}");
    assert!(capture.spans().is_empty());
}

#[test]
fn a_handle_taken_outside_any_span_changes_nothing() {
    let capture = testing::capture();
    let handle = xray_runtime::current_span();
    handle.in_scope(blocking_work);
    assert!(capture.span("blocking_work").is_root());
}
