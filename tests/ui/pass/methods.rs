use xray_runtime::traced;

struct Counter {
    count: u32,
}

impl Counter {
    #[traced]
    fn new() -> Self {
        Counter { count: 0 }
    }

    #[traced(args(self))]
    fn get(&self) -> u32 {
        self.count
    }

    #[traced(args(by))]
    fn bump(&mut self, by: u32) -> &mut Self {
        self.count += by;
        self
    }

    #[traced]
    fn into_inner(self) -> u32 {
        self.count
    }

    #[traced]
    fn boxed(self: Box<Self>) -> u32 {
        self.count * 10
    }

    #[traced(name = "Counter::tick")]
    async fn tick(&mut self) -> u32 {
        self.count += 1;
        self.count
    }
}

impl Counter {
    #[traced(ret)]
    fn label(&self) -> &str {
        if self.count > 0 { "busy" } else { "idle" }
    }

    #[traced(ret)]
    async fn label_later(&self) -> &str {
        self.label()
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counter({})", self.count)
    }
}

trait Named {
    fn name(&self) -> String;
    async fn fetch(&self) -> u32;
}

impl Named for Counter {
    #[traced]
    fn name(&self) -> String {
        format!("counter {}", self.count)
    }

    #[traced(name = "Named::fetch", ret)]
    async fn fetch(&self) -> u32 {
        self.count
    }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let mut counter = Counter::new();
    counter.bump(2).bump(3);
    assert_eq!(counter.get(), 5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(counter.tick()), 6);
    assert_eq!(counter.name(), "counter 6");
    assert_eq!(counter.label(), "busy");
    assert_eq!(runtime.block_on(counter.label_later()), "busy");
    assert_eq!(runtime.block_on(counter.fetch()), 6);
    assert_eq!(Box::new(Counter { count: 1 }).boxed(), 10);
    assert_eq!(counter.into_inner(), 6);

    capture.span("new");
    assert_eq!(capture.span("get").attr_str("self"), Some("Counter(5)"));
    let bumps = capture.spans_named("bump");
    assert_eq!(bumps.len(), 2);
    assert_eq!(bumps[0].attr_i64("by"), Some(2));
    capture.span("Counter::tick");
    capture.span("name");
    assert_eq!(
        capture.span("label_later").attr_str("xray.return"),
        Some("busy")
    );
    assert_eq!(capture.spans_named("label").len(), 2);
    assert_eq!(
        capture.span("Named::fetch").attr_i64("xray.return"),
        Some(6)
    );
    capture.span("boxed");
    capture.span("into_inner");
}
