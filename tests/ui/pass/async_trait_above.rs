// `#[traced]` above `#[async_trait]`: #[traced] sees `async fn`s, and
// #[async_trait] then boxes the instrumented bodies.
use async_trait::async_trait;
use xray_runtime::testing::SpanStatus;
use xray_runtime::traced;

#[async_trait]
trait Repository {
    async fn get(&self, id: u32) -> Result<u32, String>;
    async fn name(&self) -> String;
}

struct Orders {
    prefix: String,
}

#[traced(args(id))]
#[async_trait]
impl Repository for Orders {
    async fn get(&self, id: u32) -> Result<u32, String> {
        if id == 0 {
            return Err(format!("{} 0 not found", self.prefix));
        }
        Ok(id * 10)
    }

    #[traced(attrs(prefix = self.prefix.as_str()), ret)]
    async fn name(&self) -> String {
        self.prefix.clone()
    }
}

#[async_trait(?Send)]
trait Local {
    async fn local(&self) -> u8;
}

#[traced]
#[async_trait(?Send)]
impl Local for Orders {
    async fn local(&self) -> u8 {
        1
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
    let orders = Orders {
        prefix: "order".into(),
    };
    let repo: &(dyn Repository + Sync) = &orders;
    assert_eq!(runtime.block_on(assert_send(repo.get(2))), Ok(20));
    assert!(runtime.block_on(repo.get(0)).is_err());
    assert_eq!(runtime.block_on(repo.name()), "order");
    assert_eq!(runtime.block_on(orders.local()), 1);

    let gets = capture.spans_named("get");
    assert_eq!(gets[0].attr_i64("id"), Some(2));
    assert_eq!(gets[0].status, SpanStatus::Unset);
    assert_eq!(
        gets[1].status,
        SpanStatus::Error("order 0 not found".into())
    );
    let name = capture.span("name");
    assert_eq!(name.attr_str("prefix"), Some("order"));
    assert_eq!(name.attr_str("xray.return"), Some("order"));
    capture.span("local");
}
