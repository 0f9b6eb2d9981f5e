use std::collections::HashMap;

use xray_runtime::xray_root;

const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";
const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[xray_root(headers = headers)]
fn from_map(headers: &HashMap<String, String>) {}

#[xray_root(name = "from pairs", headers = &pairs, kind = consumer)]
fn from_pairs(pairs: Vec<(String, String)>) {}

#[xray_root(trace_header = header)]
fn from_option(header: Option<&str>) {}

#[xray_root(trace_header = header, args(header))]
fn from_str(header: &str) -> usize {
    header.len()
}

#[xray_root(trace_header = header)]
async fn from_string(header: String) -> String {
    header
}

struct Request {
    header: String,
}

impl Request {
    #[xray_root(trace_header = &self.header, err)]
    async fn handle(&self) -> Result<(), String> {
        Ok(())
    }
}

#[xray_root(lambda)]
async fn invocation() {}

#[xray_root]
fn fresh() {}

fn continues(span: &xray_runtime::testing::FinishedSpan) -> bool {
    span.trace_id == TRACE
        && span.parent_span_id.as_deref() == Some("53995c3f42cd8ad8")
        && span.parent_is_remote
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let map = HashMap::from([("X-Amzn-Trace-Id".to_string(), HEADER.to_string())]);
    from_map(&map);
    from_pairs(vec![("x-amzn-trace-id".to_string(), HEADER.to_string())]);
    from_option(Some(HEADER));
    from_option(None);
    assert_eq!(from_str(HEADER), HEADER.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let request = Request {
        header: HEADER.to_string(),
    };
    runtime.block_on(request.handle()).unwrap();
    assert_eq!(runtime.block_on(from_string(HEADER.to_string())), HEADER);
    // SAFETY: no other thread reads the environment yet.
    unsafe { std::env::set_var("_X_AMZN_TRACE_ID", HEADER) };
    runtime.block_on(invocation());
    fresh();

    let map = capture.span("from_map");
    assert!(continues(&map), "{map:?}");
    assert_eq!(format!("{:?}", map.kind), "Server");
    let pairs = capture.span("from pairs");
    assert!(continues(&pairs));
    assert_eq!(format!("{:?}", pairs.kind), "Consumer");
    let options = capture.spans_named("from_option");
    assert!(continues(&options[0]));
    assert!(options[1].is_root() && options[1].trace_id != TRACE);
    let from_str = capture.span("from_str");
    assert!(continues(&from_str));
    assert_eq!(from_str.attr_str("header"), Some(HEADER));
    assert!(continues(&capture.span("handle")));
    assert!(continues(&capture.span("from_string")));
    assert!(continues(&capture.span("invocation")));
    assert!(capture.span("fresh").is_root());
}
