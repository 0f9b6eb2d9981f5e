//! What the shop's two servers share: where to listen, and stopping cleanly.

use std::io;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `app` on the address in the environment variable `var` (default
/// `default`; port 0 lets the OS choose), printing `listening on http://ADDR`
/// once it accepts connections, until Ctrl-C or SIGTERM. Returning lets
/// `#[xray_main]` flush the last spans.
pub async fn serve(var: &str, default: &str, app: Router) -> io::Result<()> {
    let addr = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
}

/// Ctrl-C, or SIGTERM (what `kill` and container runtimes send).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
