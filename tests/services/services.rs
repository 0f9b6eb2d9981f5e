//! Three services over real sockets, in one process so that the in-memory
//! capture sees every span: a shopper (reqwest, `send_traced`), a store and a
//! warehouse (axum, `XrayLayer`), the store calling the warehouse with
//! reqwest. One trace across all three, correct parent links across each hop,
//! the sampling decision carried, the response header, W3C `traceparent`,
//! `Lineage`, errors, and hundreds of requests in flight at once.

use std::collections::{BTreeMap, HashMap, HashSet};

use xray_runtime::testing::{self, FinishedSpan, SpanStatus};
use xray_runtime::{SamplerKind, SpanKind};
use xray_services_tests::{
    Server, Visit, XRAY, is_xray_trace_id, seen, shop, store, warehouse, warehouse_with_barrier,
};

/// A store in front of a warehouse, both on OS-assigned ports.
struct Shop {
    store: Server,
    warehouse: Server,
    client: reqwest::Client,
}

async fn open_shop() -> Shop {
    let warehouse = Server::start(warehouse())
        .await
        .expect("the warehouse listens on 127.0.0.1");
    let store = Server::start(store(&warehouse.url()))
        .await
        .expect("the store listens on 127.0.0.1");
    Shop {
        store,
        warehouse,
        client: reqwest::Client::new(),
    }
}

impl Shop {
    /// `GET {store}{path}` with one `X-Amzn-Trace-Id` (or other) header,
    /// sent as is (no span of ours around it).
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Visit {
        let mut request = self.client.get(format!("{}{path}", self.store.url()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the store answers");
        let status = response.status().as_u16();
        let response_header = response
            .headers()
            .get(XRAY)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.expect("the store's body");
        Visit {
            trace_id: None,
            status,
            response_header,
            body,
        }
    }
}

fn in_trace(spans: &[FinishedSpan], trace_id: &str) -> Vec<FinishedSpan> {
    spans
        .iter()
        .filter(|span| span.trace_id == trace_id)
        .cloned()
        .collect()
}

fn named<'a>(spans: &'a [FinishedSpan], name: &str) -> &'a FinishedSpan {
    let mut matching = spans.iter().filter(|span| span.name == name);
    match (matching.next(), matching.next()) {
        (Some(span), None) => span,
        _ => panic!(
            "expected exactly one span named {name:?} in {:#?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        ),
    }
}

/// The 32 hex digits of an X-Ray trace id, as W3C writes them.
fn w3c_trace_id(xray: &str) -> String {
    xray.trim_start_matches("1-").replace('-', "")
}

fn port(server: &Server) -> i64 {
    i64::from(server.addr().port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_across_three_services() {
    let capture = testing::capture();
    let shop_ = open_shop().await;
    let visit = shop(&shop_.client, &shop_.store.url(), 7)
        .await
        .expect("the order goes through");
    assert_eq!(visit.status, 200, "{visit:?}");
    let trace = visit
        .trace_id
        .clone()
        .expect("the shopper's root has a trace");
    assert!(is_xray_trace_id(&trace), "{trace}");

    let spans = in_trace(&capture.spans(), &trace);
    assert_eq!(
        spans.len(),
        7,
        "every span of the three services: {spans:#?}"
    );
    let store_port = port(&shop_.store);
    let warehouse_port = port(&shop_.warehouse);
    let shopper = named(&spans, "shopper");
    let to_store = named(&spans, &format!("GET 127.0.0.1:{store_port}"));
    let store_server = named(&spans, "GET /orders/{id}");
    let reserve = named(&spans, "reserve");
    let to_warehouse = named(&spans, &format!("GET 127.0.0.1:{warehouse_port}"));
    let warehouse_server = named(&spans, "GET /stock/{item}");
    let count = named(&spans, "count");

    // The links, hop by hop.
    assert!(shopper.is_root());
    to_store.assert_child_of(shopper);
    store_server.assert_child_of(to_store);
    assert!(
        store_server.parent_is_remote,
        "the store's parent is in the shopper"
    );
    reserve.assert_child_of(store_server);
    to_warehouse.assert_child_of(reserve);
    warehouse_server.assert_child_of(to_warehouse);
    assert!(warehouse_server.parent_is_remote);
    count.assert_child_of(warehouse_server);
    assert!(!reserve.parent_is_remote && !to_warehouse.parent_is_remote);

    // Kinds.
    for (span, kind) in [
        (to_store, SpanKind::Client),
        (to_warehouse, SpanKind::Client),
        (store_server, SpanKind::Server),
        (warehouse_server, SpanKind::Server),
        (reserve, SpanKind::Internal),
    ] {
        assert_eq!(span.kind, kind, "{}", span.name);
    }

    // Server attributes (HTTP semantic conventions).
    assert_eq!(store_server.attr_str("http.request.method"), Some("GET"));
    assert_eq!(store_server.attr_str("url.path"), Some("/orders/7"));
    assert_eq!(store_server.attr_str("url.scheme"), Some("http"));
    assert_eq!(store_server.attr_str("server.address"), Some("127.0.0.1"));
    assert_eq!(store_server.attr_i64("server.port"), Some(store_port));
    assert_eq!(store_server.attr_str("http.route"), Some("/orders/{id}"));
    assert_eq!(
        store_server.attr_str("network.protocol.version"),
        Some("1.1")
    );
    assert_eq!(
        store_server.attr_i64("http.response.status_code"),
        Some(200)
    );
    assert_eq!(store_server.status, SpanStatus::Unset);
    assert_eq!(warehouse_server.attr_i64("item"), Some(7));

    // Client attributes.
    assert_eq!(to_warehouse.attr_str("http.request.method"), Some("GET"));
    assert_eq!(
        to_warehouse.attr_str("url.full"),
        Some(format!("http://127.0.0.1:{warehouse_port}/stock/7").as_str())
    );
    assert_eq!(to_warehouse.attr_str("url.path"), Some("/stock/7"));
    assert_eq!(to_warehouse.attr_str("url.scheme"), Some("http"));
    assert_eq!(to_warehouse.attr_str("server.address"), Some("127.0.0.1"));
    assert_eq!(to_warehouse.attr_i64("server.port"), Some(warehouse_port));
    assert_eq!(
        to_warehouse.attr_i64("http.response.status_code"),
        Some(200)
    );

    // What crossed the last hop: the canonical header, naming the client span.
    assert_eq!(
        seen(&visit.body, XRAY),
        Some(format!("Root={trace};Parent={};Sampled=1", to_warehouse.span_id).as_str())
    );
    assert_eq!(
        seen(&visit.body, "traceparent"),
        Some(format!("00-{}-{}-01", w3c_trace_id(&trace), to_warehouse.span_id).as_str())
    );
    // What the shopper got back: the trace id, nothing else.
    assert_eq!(visit.response_header, Some(format!("Root={trace}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_callers_sampling_decision_is_carried() {
    let capture = testing::capture();
    let shop = open_shop().await;

    // Sampled=0: nothing recorded anywhere, and the next hop is told so.
    let root = "1-6a1b2c3d-0123456789abcdef01234567";
    let visit = shop
        .get(
            "/orders/3",
            &[(
                XRAY,
                &format!("Root={root};Parent=1111111111111111;Sampled=0"),
            )],
        )
        .await;
    assert_eq!(visit.status, 200);
    assert_eq!(visit.response_header, Some(format!("Root={root}")));
    let sent = seen(&visit.body, XRAY).expect("the store propagated");
    assert!(
        sent.starts_with(&format!("Root={root};Parent=")) && sent.ends_with(";Sampled=0"),
        "{sent}"
    );
    assert!(
        !sent.contains("1111111111111111"),
        "the store's span is the parent: {sent}"
    );
    assert_eq!(
        seen(&visit.body, "traceparent").map(|tp| tp.ends_with("-00")),
        Some(true)
    );
    assert!(
        in_trace(&capture.spans(), root).is_empty(),
        "Sampled=0 records nothing"
    );

    // Sampled=1: continued, every span recorded, the caller as remote parent.
    let root = "1-6a1b2c3d-11111111111111111111111a";
    let visit = shop
        .get(
            "/orders/4",
            &[(
                XRAY,
                &format!("Root={root};Parent=2222222222222222;Sampled=1"),
            )],
        )
        .await;
    let spans = in_trace(&capture.spans(), root);
    assert_eq!(spans.len(), 5, "{spans:#?}");
    let server = named(&spans, "GET /orders/{id}");
    assert_eq!(server.parent_span_id.as_deref(), Some("2222222222222222"));
    assert!(server.parent_is_remote && server.sampled);
    let sent = seen(&visit.body, XRAY).expect("the store propagated");
    assert!(sent.ends_with(";Sampled=1"), "{sent}");
    assert_eq!(visit.response_header, Some(format!("Root={root}")));

    // Sampled=?: this service decides (always on) and says so in the response.
    let root = "1-6a1b2c3d-22222222222222222222222b";
    let visit = shop
        .get(
            "/orders/5",
            &[(
                XRAY,
                &format!("Root={root};Parent=3333333333333333;Sampled=?"),
            )],
        )
        .await;
    assert_eq!(
        visit.response_header,
        Some(format!("Root={root};Sampled=1"))
    );
    assert_eq!(in_trace(&capture.spans(), root).len(), 5);
    assert!(seen(&visit.body, XRAY).is_some_and(|sent| sent.ends_with(";Sampled=1")));
    drop(shop);
    drop(capture);

    // Sampled=? with a sampler that says no.
    let capture = testing::capture_with(SamplerKind::ParentBasedAlwaysOff);
    let shop = open_shop().await;
    let root = "1-6a1b2c3d-33333333333333333333333c";
    let visit = shop
        .get(
            "/orders/6",
            &[(
                XRAY,
                &format!("Root={root};Parent=4444444444444444;Sampled=?"),
            )],
        )
        .await;
    assert_eq!(visit.status, 200);
    assert_eq!(
        visit.response_header,
        Some(format!("Root={root};Sampled=0"))
    );
    assert!(seen(&visit.body, XRAY).is_some_and(|sent| sent.ends_with(";Sampled=0")));
    assert!(capture.spans().is_empty());

    // ... but an explicit Sampled=1 is followed.
    let root = "1-6a1b2c3d-44444444444444444444444d";
    let visit = shop
        .get(
            "/orders/6",
            &[(
                XRAY,
                &format!("Root={root};Parent=4444444444444444;Sampled=1"),
            )],
        )
        .await;
    assert_eq!(in_trace(&capture.spans(), root).len(), 5);
    assert!(seen(&visit.body, XRAY).is_some_and(|sent| sent.ends_with(";Sampled=1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_load_balancer_and_w3c_callers() {
    let capture = testing::capture();
    let shop = open_shop().await;

    // Lineage is passed on, after the canonical fields.
    let root = "1-6a1b2c3d-55555555555555555555555e";
    let visit = shop
        .get(
            "/orders/1",
            &[(
                XRAY,
                &format!(
                    "Root={root};Parent=5555555555555555;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
                ),
            )],
        )
        .await;
    let spans = in_trace(&capture.spans(), root);
    let client = named(&spans, &format!("GET 127.0.0.1:{}", port(&shop.warehouse)));
    assert_eq!(
        seen(&visit.body, XRAY),
        Some(
            format!(
                "Root={root};Parent={};Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
                client.span_id
            )
            .as_str()
        )
    );

    // A load balancer's first hop: Root only. The trace id is kept, the
    // store's span is the trace's root.
    let root = "1-6a1b2c3d-66666666666666666666666f";
    let visit = shop
        .get(
            "/orders/2",
            &[(
                XRAY,
                &format!("Self=1-6a1b2c3d-000000000000000000000001;Root={root}"),
            )],
        )
        .await;
    let spans = in_trace(&capture.spans(), root);
    let server = named(&spans, "GET /orders/{id}");
    assert!(server.is_root(), "{server:?}");
    assert_eq!(visit.response_header, Some(format!("Root={root}")));

    // A W3C caller: traceparent alone continues the trace.
    let visit = shop
        .get(
            "/orders/3",
            &[(
                "traceparent",
                "00-6a1b2c3d777777777777777777777770-7777777777777777-01",
            )],
        )
        .await;
    let root = "1-6a1b2c3d-777777777777777777777770";
    let spans = in_trace(&capture.spans(), root);
    let server = named(&spans, "GET /orders/{id}");
    assert_eq!(server.parent_span_id.as_deref(), Some("7777777777777777"));
    assert_eq!(visit.response_header, Some(format!("Root={root}")));
    assert!(
        seen(&visit.body, XRAY).is_some_and(|sent| sent.starts_with(&format!("Root={root};"))),
        "{visit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_route_names() {
    let capture = testing::capture();
    let shop = open_shop().await;

    // A 5xx of the service itself: its server span failed.
    let visit = shop.get("/boom", &[]).await;
    assert_eq!(visit.status, 500);
    let root = visit
        .response_header
        .as_deref()
        .and_then(|h| h.strip_prefix("Root="))
        .expect("a 500 still carries the header")
        .to_owned();
    let spans = in_trace(&capture.spans(), &root);
    let boom = named(&spans, "GET /boom");
    assert_eq!(boom.attr_i64("http.response.status_code"), Some(500));
    assert_eq!(boom.attr_str("error.type"), Some("500"));
    assert!(matches!(boom.status, SpanStatus::Error(_)), "{boom:?}");

    // An upstream 5xx: the client span failed, and so did the 502 answer.
    let visit = shop.get("/upstream-fail", &[]).await;
    assert_eq!(visit.status, 502);
    let root = visit.response_header.as_deref().unwrap_or_default()["Root=".len()..].to_owned();
    let spans = in_trace(&capture.spans(), &root);
    let client = named(&spans, &format!("GET 127.0.0.1:{}", port(&shop.warehouse)));
    assert_eq!(client.attr_i64("http.response.status_code"), Some(500));
    assert!(matches!(client.status, SpanStatus::Error(_)));
    let fail = named(&spans, "GET /fail");
    fail.assert_child_of(client);
    assert!(matches!(
        named(&spans, "GET /upstream-fail").status,
        SpanStatus::Error(_)
    ));

    // Not found: no route, the span is named after the path; 4xx is not a
    // server error.
    let visit = shop.get("/no/such/page?secret=1", &[]).await;
    assert_eq!(visit.status, 404);
    let root = visit.response_header.as_deref().unwrap_or_default()["Root=".len()..].to_owned();
    let spans = in_trace(&capture.spans(), &root);
    let missing = named(&spans, "GET /no/such/page");
    assert_eq!(missing.attr_str("http.route"), None);
    assert_eq!(
        missing.attr_str("url.path"),
        Some("/no/such/page"),
        "no query string"
    );
    assert_eq!(missing.attr_i64("http.response.status_code"), Some(404));
    assert_eq!(missing.status, SpanStatus::Unset);

    // A method outside RFC 9110.
    let response = shop
        .client
        .request(
            reqwest::Method::from_bytes(b"BREW").expect("a valid token"),
            format!("{}/echo", shop.store.url()),
        )
        .send()
        .await
        .expect("the store answers");
    let root = response
        .headers()
        .get(XRAY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()["Root=".len()..]
        .to_owned();
    let spans = in_trace(&capture.spans(), &root);
    let brew = named(&spans, "HTTP /echo");
    assert_eq!(brew.attr_str("http.request.method"), Some("_OTHER"));
    assert_eq!(brew.attr_str("http.request.method_original"), Some("BREW"));

    // A client that cannot connect: the client span records the error.
    let closed = Server::start(warehouse()).await.expect("bind");
    let url = closed.url();
    drop(closed);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(call_closed_port(&shop.client, &url).await.is_err());
    let spans = capture.spans();
    let failed = spans
        .iter()
        .find(|span| {
            span.kind == SpanKind::Client
                && span.attr_str("error.type") == Some("reqwest::error::Error")
        })
        .expect("a client span with the transport error");
    assert!(matches!(failed.status, SpanStatus::Error(_)));
    assert_eq!(failed.attr_i64("http.response.status_code"), None);
}

#[xray_runtime::traced]
async fn call_closed_port(client: &reqwest::Client, url: &str) -> reqwest::Result<()> {
    use xray_runtime::http::RequestBuilderExt;
    client.get(format!("{url}/stock/1")).send_traced().await?;
    Ok(())
}

/// Requests in flight at once, each a trace of its own.
const IN_FLIGHT: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_requests_in_flight_never_mix_contexts() {
    let capture = testing::capture();
    // The warehouse holds every request until all of them have arrived: they
    // are all in flight together, interleaved on the same worker threads.
    let warehouse = Server::start(warehouse_with_barrier(IN_FLIGHT))
        .await
        .expect("bind");
    let store = Server::start(store(&warehouse.url())).await.expect("bind");
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..IN_FLIGHT as u64)
        .map(|order| {
            let client = client.clone();
            let url = store.url();
            tokio::spawn(async move { (order, shop(&client, &url, order).await) })
        })
        .collect();
    let mut visits = Vec::new();
    for task in tasks {
        let (order, visit) = task.await.expect("the task finishes");
        let visit = visit.expect("the order goes through");
        assert_eq!(visit.status, 200, "order {order}: {visit:?}");
        visits.push((order, visit));
    }

    let spans = capture.spans();
    let mut by_trace: HashMap<&str, Vec<&FinishedSpan>> = HashMap::new();
    for span in &spans {
        by_trace
            .entry(span.trace_id.as_str())
            .or_default()
            .push(span);
    }
    assert_eq!(by_trace.len(), IN_FLIGHT, "one trace per request, no other");
    assert_eq!(
        spans.len(),
        IN_FLIGHT * 7,
        "seven spans per request, no more"
    );

    let expected_names: BTreeMap<String, usize> = [
        "shopper".to_owned(),
        format!("GET 127.0.0.1:{}", store.addr().port()),
        "GET /orders/{id}".to_owned(),
        "reserve".to_owned(),
        format!("GET 127.0.0.1:{}", warehouse.addr().port()),
        "GET /stock/{item}".to_owned(),
        "count".to_owned(),
    ]
    .into_iter()
    .map(|name| (name, 1))
    .collect();
    let mut traces = HashSet::new();
    for (order, visit) in &visits {
        let trace = visit.trace_id.as_deref().expect("a trace");
        assert!(traces.insert(trace), "trace {trace} used twice");
        let own = &by_trace[trace];
        let mut names = BTreeMap::new();
        for span in own {
            *names.entry(span.name.clone()).or_insert(0) += 1;
        }
        assert_eq!(names, expected_names, "order {order}, trace {trace}");
        let get = |name: &str| {
            own.iter()
                .find(|span| span.name == name)
                .copied()
                .unwrap_or_else(|| panic!("{name} in trace {trace}"))
        };
        let order = i64::try_from(*order).expect("small");
        // Every span of the trace is about this order: nothing leaked in
        // from a request handled on the same thread.
        assert_eq!(get("shopper").attr_i64("order"), Some(order));
        assert_eq!(get("reserve").attr_i64("id"), Some(order));
        assert_eq!(
            get("GET /orders/{id}").attr_str("url.path"),
            Some(format!("/orders/{order}").as_str())
        );
        assert_eq!(get("GET /stock/{item}").attr_i64("item"), Some(order));
        assert_eq!(
            get("GET /stock/{item}").attr_bool("barrier.met"),
            Some(true),
            "all in flight at once"
        );
        assert_eq!(get("count").attr_i64("item"), Some(order));
        // The links of each hop stay inside the trace.
        let ids: HashSet<&str> = own.iter().map(|span| span.span_id.as_str()).collect();
        for span in own {
            if let Some(parent) = &span.parent_span_id {
                assert!(
                    ids.contains(parent.as_str()),
                    "{} has a parent outside its trace",
                    span.name
                );
            }
        }
        assert_eq!(
            visit.response_header.as_deref(),
            Some(format!("Root={trace}").as_str())
        );
        assert!(
            seen(&visit.body, XRAY).is_some_and(|sent| sent.starts_with(&format!("Root={trace};"))),
            "order {order}: {}",
            visit.body
        );
    }
}
