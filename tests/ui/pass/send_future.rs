use std::rc::Rc;
use std::time::Duration;

use xray_runtime::traced;

fn assert_send<T: Send>(_: &T) {}

#[traced(args(id), attrs(label = label.as_str()), err, ret)]
async fn fetch(id: u64, label: &String) -> Result<u64, String> {
    let doubled = {
        // Not `Send`, but dropped before the first `.await`.
        let local = Rc::new(id);
        *local * 2
    };
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(doubled + label.len() as u64)
}

#[traced]
async fn spawn_many() -> u64 {
    let label = String::from("abc");
    let mut tasks = Vec::new();
    for id in 0..4 {
        let label = label.clone();
        tasks.push(tokio::spawn(async move { fetch(id, &label).await }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap().unwrap();
    }
    total
}

fn main() {
    let label = String::from("x");
    let future = fetch(1, &label);
    assert_send(&future);
    drop(future);
    assert_send(&spawn_many());

    let capture = xray_runtime::testing::capture();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(spawn_many()), (0 + 2 + 4 + 6) + 4 * 3);
    capture.span("spawn_many");
    let fetches = capture.spans_named("fetch");
    assert_eq!(fetches.len(), 4);
    assert!(fetches.iter().all(|c| c.attr_str("label") == Some("abc")));
}
