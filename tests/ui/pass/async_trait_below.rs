// `#[traced]` below `#[async_trait]` (on the block, or on a method): by the
// time #[traced] runs, each method returns `Box::pin(async move { .. })`,
// and #[traced] instruments that future rather than the boxing.
use async_trait::async_trait;
use xray_runtime::testing::SpanStatus;
use xray_runtime::traced;

#[async_trait]
trait Repository {
    async fn get(&self, id: u32) -> Result<u32, String>;

    // A default method of the trait.
    #[traced(name = "Repository::describe", ret)]
    async fn describe(&self) -> String {
        format!("repository {}", self.get(1).await.unwrap_or(0))
    }
}

struct OnBlock;

#[async_trait]
#[traced(args(id))]
impl Repository for OnBlock {
    async fn get(&self, id: u32) -> Result<u32, String> {
        if id == 0 {
            return Err("zero".to_string());
        }
        Ok(id)
    }
}

struct OnMethod;

#[async_trait]
impl Repository for OnMethod {
    #[traced(args(id), err, ret)]
    async fn get(&self, id: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        Ok(id + 100)
    }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(assert_send(OnBlock.get(3))), Ok(3));
    assert!(runtime.block_on(OnBlock.get(0)).is_err());
    let gets = capture.spans_named("get");
    assert_eq!(gets[0].attr_i64("id"), Some(3));
    assert_eq!(gets[1].status, SpanStatus::Error("zero".into()));
    capture.clear();

    assert_eq!(runtime.block_on(OnMethod.describe()), "repository 101");
    let describe = capture.span("Repository::describe");
    assert_eq!(describe.attr_str("xray.return"), Some("repository 101"));
    let get = capture.span("get");
    assert_eq!(get.attr_i64("xray.return"), Some(101));
    assert_eq!(
        get.parent_span_id.as_deref(),
        Some(describe.span_id.as_str())
    );
}
