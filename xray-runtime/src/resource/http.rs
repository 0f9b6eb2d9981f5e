//! A small blocking HTTP/1.1 client for metadata endpoints: one request per
//! connection (`Connection: close`), every step bounded by the deadline and
//! the answer by [`MAX_RESPONSE`], so that an endpoint that hangs, trickles
//! or answers garbage costs at most the detection budget and a few
//! kilobytes. `https://` (the Kubernetes API) trusts exactly the CA given.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ::http::Uri;

/// The most an answer may take, head and body together.
const MAX_RESPONSE: usize = 64 * 1024;

/// An answer: its status and body.
#[derive(Debug)]
pub(super) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body of a 200 answer.
    pub(super) fn ok(self) -> Result<Vec<u8>, String> {
        if self.status == 200 {
            Ok(self.body)
        } else {
            Err(format!("answered {}", self.status))
        }
    }
}

/// TLS settings for `https://` requests: the only CA trusted.
pub(super) struct Tls(Arc<rustls::ClientConfig>);

impl Tls {
    /// Trusts the PEM certificates of `ca_file`, and nothing else.
    pub(super) fn trusting(ca_file: &Path) -> Result<Self, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let pem = std::fs::read(ca_file)
            .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate.map_err(|e| format!("{}: {e}", ca_file.display()))?;
            roots
                .add(certificate)
                .map_err(|e| format!("{}: {e}", ca_file.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("no certificate in {}", ca_file.display()));
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Self(Arc::new(config)))
    }
}

/// Sends one request with an empty body and reads the answer, by `deadline`.
pub(super) fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    tls: Option<&Tls>,
    deadline: Instant,
) -> Result<Response, String> {
    let uri: Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{url:?} has no host"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("{url:?} is neither http:// nor https://")),
    };
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let host = authority.host();
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let address = resolve(bare_host, port)?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());

    let timeout = left(deadline)?;
    let tcp = TcpStream::connect_timeout(&address, timeout).map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let mut connection = match (https, tls) {
        (false, _) => Connection::Plain(tcp),
        (true, Some(tls)) => {
            let name = rustls::pki_types::ServerName::try_from(bare_host.to_string())
                .map_err(|e| e.to_string())?;
            let client =
                rustls::ClientConnection::new(tls.0.clone(), name).map_err(|e| e.to_string())?;
            Connection::Tls(Box::new(rustls::StreamOwned::new(client, tcp)))
        }
        (true, None) => return Err("https:// without a CA to trust".to_string()),
    };

    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n",
        authority.as_str()
    );
    if method != "GET" {
        head.push_str("Content-Length: 0\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    connection.set_timeouts(left(deadline)?)?;
    connection
        .write_all(head.as_bytes())
        .and_then(|()| connection.flush())
        .map_err(|e| e.to_string())?;
    read_response(&mut connection, deadline)
}

/// The first address of `host`.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// The time left before `deadline`, or a timeout error.
fn left(deadline: Instant) -> Result<std::time::Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("timed out".to_string())
    } else {
        Ok(left)
    }
}

enum Connection {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Connection {
    fn tcp(&self) -> &TcpStream {
        match self {
            Connection::Plain(tcp) => tcp,
            Connection::Tls(stream) => &stream.sock,
        }
    }

    fn set_timeouts(&self, timeout: std::time::Duration) -> Result<(), String> {
        let tcp = self.tcp();
        tcp.set_read_timeout(Some(timeout))
            .and_then(|()| tcp.set_write_timeout(Some(timeout)))
            .map_err(|e| e.to_string())
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(tcp) => tcp.read(buf),
            Connection::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(tcp) => tcp.write(buf),
            Connection::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Connection::Plain(tcp) => tcp.flush(),
            Connection::Tls(stream) => stream.flush(),
        }
    }
}

/// How the body of an answer ends.
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// Reads until the answer is complete (or the peer closes), within the
/// deadline and the size limit.
fn read_response(connection: &mut Connection, deadline: Instant) -> Result<Response, String> {
    let mut data = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut parsed: Option<(u16, usize, Framing)> = None;
    loop {
        if let Some((status, body_start, framing)) = &parsed {
            let body = &data[*body_start..];
            let complete = match framing {
                Framing::Length(length) => body.len() >= *length,
                Framing::Chunked => dechunk(body)?.is_some(),
                Framing::Close => false,
            };
            if complete {
                return finish(*status, body, framing);
            }
        }
        connection.set_timeouts(left(deadline)?)?;
        let read = match connection.read(&mut chunk) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err("timed out".to_string());
            }
            Err(e) => return Err(e.to_string()),
        };
        if read == 0 {
            return match parsed {
                Some((status, body_start, framing)) => {
                    let body = &data[body_start..];
                    match framing {
                        Framing::Close => finish(status, body, &framing),
                        _ => Err("the answer ended early".to_string()),
                    }
                }
                None => Err("no answer".to_string()),
            };
        }
        data.extend_from_slice(&chunk[..read]);
        if data.len() > MAX_RESPONSE {
            return Err(format!("the answer is larger than {MAX_RESPONSE} bytes"));
        }
        if parsed.is_none()
            && let Some(end) = find(&data, b"\r\n\r\n")
        {
            let (status, framing) = parse_head(&data[..end])?;
            parsed = Some((status, end + 4, framing));
        }
    }
}

fn finish(status: u16, body: &[u8], framing: &Framing) -> Result<Response, String> {
    let body = match framing {
        Framing::Length(length) => body[..(*length).min(body.len())].to_vec(),
        Framing::Chunked => dechunk(body)?.ok_or("the answer ended early")?,
        Framing::Close => body.to_vec(),
    };
    Ok(Response { status, body })
}

/// The status and how the body ends, from the head (without its blank line).
fn parse_head(head: &[u8]) -> Result<(u16, Framing), String> {
    let head = std::str::from_utf8(head).map_err(|_| "the answer is not HTTP".to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code));
    let status = match (version.starts_with("HTTP/1."), status) {
        (true, Some(status)) => status,
        _ => return Err("the answer is not HTTP".to_string()),
    };
    let mut framing = Framing::Close;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err("the answer's head is malformed".to_string());
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case("content-length")
            && !matches!(framing, Framing::Chunked)
        {
            let length = value
                .parse::<usize>()
                .map_err(|_| "the answer's Content-Length is malformed".to_string())?;
            if length > MAX_RESPONSE {
                return Err(format!("the answer is larger than {MAX_RESPONSE} bytes"));
            }
            framing = Framing::Length(length);
        }
    }
    Ok((status, framing))
}

/// A chunked body decoded: `None` while incomplete.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&data[..end]).map_err(|_| "bad chunk".to_string())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk".to_string())?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    /// A server answering each connection with `answer` (after reading the
    /// request head), or nothing at all for `None`.
    fn server(answer: Option<&'static [u8]>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer);
                    }
                    None => std::thread::sleep(Duration::from_secs(5)),
                }
            }
        });
        format!("http://127.0.0.1:{port}/path")
    }

    fn get(url: &str, budget: Duration) -> Result<Response, String> {
        request("GET", url, &[], None, Instant::now() + budget)
    }

    #[test]
    fn reads_length_chunked_and_closed_bodies() {
        let url = server(Some(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloIGNORED",
        ));
        let answer = get(&url, Duration::from_secs(5)).unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &b"hello"[..])
        );

        let url = server(Some(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        ));
        let answer = get(&url, Duration::from_secs(5)).unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (404, &b"abcde"[..])
        );

        let url = server(Some(b"HTTP/1.0 200 OK\r\n\r\nuntil close"));
        assert_eq!(
            get(&url, Duration::from_secs(5)).unwrap().body,
            b"until close"
        );
    }

    #[test]
    fn garbage_silence_and_size_are_errors_in_time() {
        let url = server(Some(b"<<this is not HTTP>>\r\n\r\n"));
        assert!(get(&url, Duration::from_secs(5)).is_err());

        let url = server(None);
        let started = Instant::now();
        assert_eq!(
            get(&url, Duration::from_millis(200)).unwrap_err(),
            "timed out"
        );
        assert!(started.elapsed() < Duration::from_secs(2));

        let url = server(Some(
            b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n",
        ));
        assert!(
            get(&url, Duration::from_secs(5))
                .unwrap_err()
                .contains("larger")
        );

        let url = server(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
        assert!(get(&url, Duration::from_secs(5)).is_err());
    }

    #[test]
    fn refused_and_malformed_urls_are_errors() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(get(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(1)).is_err());
        assert!(get("not a url", Duration::from_secs(1)).is_err());
        assert!(get("ftp://127.0.0.1/", Duration::from_secs(1)).is_err());
        assert!(get("https://127.0.0.1:1/", Duration::from_secs(1)).is_err());
    }
}
