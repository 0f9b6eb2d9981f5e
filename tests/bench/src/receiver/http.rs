//! The OTLP/HTTP receiver: HTTP/1.1 with keep-alive (hyper), `POST
//! /v1/traces` with a protobuf body, plain or gzip.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::{Accepted, Counters, PROTOBUF, TRACES_PATH, TlsFiles, gunzip, is_sigv4, wire};

/// Binds a free port of 127.0.0.1 and serves it on the current runtime.
pub(super) fn start(
    nagle: bool,
    tls: Option<&TlsFiles>,
    counters: Arc<Counters>,
) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("OTLP/HTTP receiver: bind 127.0.0.1:0: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    #[cfg(feature = "secure")]
    let acceptor = tls.map(super::tls::http_acceptor).transpose()?;
    #[cfg(not(feature = "secure"))]
    if tls.is_some() {
        return Err("TLS needs the `secure` feature of xray-bench".into());
    }
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            // Nagle's algorithm stays on unless TCP_NODELAY is set.
            let _ = stream.set_nodelay(!nagle);
            let counters = counters.clone();
            #[cfg(feature = "secure")]
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                #[cfg(feature = "secure")]
                if let Some(acceptor) = acceptor {
                    match acceptor.accept(stream).await {
                        Ok(stream) => serve(TokioIo::new(stream), counters).await,
                        Err(_) => counters.tls_failed(),
                    }
                    return;
                }
                serve(TokioIo::new(stream), counters).await;
            });
        }
    });
    Ok(addr)
}

async fn serve<I>(io: I, counters: Arc<Counters>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let counters = counters.clone();
        async move { Ok::<_, Infallible>(handle(request, &counters).await) }
    });
    // A client that goes away mid-request ends the connection; nothing to report.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await;
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

async fn handle(request: Request<Incoming>, counters: &Counters) -> Response<Full<Bytes>> {
    if request.method() != Method::POST || request.uri().path() != TRACES_PATH {
        counters.rejected();
        return answer(StatusCode::NOT_FOUND);
    }
    let gzip = request
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let signed = is_sigv4(
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    );
    let wire = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            counters.rejected();
            return answer(StatusCode::BAD_REQUEST);
        }
    };
    let body: Cow<'_, [u8]> = if gzip {
        match gunzip(&wire) {
            Ok(body) => Cow::Owned(body),
            Err(_) => {
                counters.rejected();
                return answer(StatusCode::BAD_REQUEST);
            }
        }
    } else {
        Cow::Borrowed(&wire)
    };
    match wire::count_spans(&body) {
        Ok(spans) => {
            counters.accepted(Accepted {
                spans,
                wire_bytes: wire.len(),
                body_bytes: body.len(),
                gzip,
                signed,
            });
            // An empty ExportTraceServiceResponse: zero bytes.
            let mut response = answer(StatusCode::OK);
            response
                .headers_mut()
                .insert(CONTENT_TYPE, http::HeaderValue::from_static(PROTOBUF));
            response
        }
        Err(_) => {
            counters.rejected();
            answer(StatusCode::BAD_REQUEST)
        }
    }
}
