"""Plumbing shared by the HTTP test peers.

A peer is a small HTTP/1.1 server on 127.0.0.1 that a test starts as a child
process. This module gives every peer the same conventions:

* `--port 0` binds a free port; the first stdout line is `LISTENING <port>...`,
  and nothing else is ever written to stdout (a test may stop reading it).
* SIGTERM or SIGINT stops the peer with exit status 0.
* `--record FILE` appends one JSON object per handled request, flushed before
  the response is sent, so a test that got an answer can already read it.
* Keep-alive connections, Content-Length and chunked request bodies, optional
  TLS with optional client certificates (mutual TLS).
* Behaviour modes (answer a status, hang, be slow, close, ...) and the
  `/_control/...` endpoints, which are never recorded nor affected by modes.

A peer subclasses `Peer` and hands its listeners to `serve_until_stopped`.
"""

import argparse
import json
import os
import signal
import socketserver
import ssl
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

GENERIC_MODES = frozenset({"ok", "status", "hang", "slow", "close", "down", "garbage"})
GARBAGE_BODY = b'<<this is not JSON nor protobuf>> {"unterminated'
MODE_KEYS = {"area", "mode", "status", "count", "delay_ms", "retry_after"}


class HttpError(Exception):
    """Raised by a peer's handler to answer an error with a JSON body."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    target: str  # the request-target exactly as sent: path and query
    path: str
    query: str
    headers: object  # email.message.Message: case-insensitive, get_all() for repeats
    body: bytes
    tls: bool
    client_cert_subject: object  # str or None
    listener: str
    mode: dict  # the behaviour in force for this request, e.g. {"mode": "ok"}

    @property
    def url(self):
        """The URL the client addressed: scheme, Host header, path and query."""
        if self.target.startswith(("http://", "https://")):
            return self.target
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.headers.get('Host', '')}{self.target}"

    def header_pairs(self):
        return list(self.headers.items())

    def json(self):
        """The body as JSON; an empty body reads as {}."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as err:
            raise HttpError(400, f"request body is not JSON: {err}") from None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj).encode(), "application/json", headers or {})


def text_response(status, text):
    return Response(status, text.encode(), "text/plain")


def lower_headers(message):
    """Header map for records: lower-case names, repeated headers joined by ', '."""
    joined = {}
    for name, value in message.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


class Recorder:
    """Keeps every handled request in memory and appends it to `--record`."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._records = []
        self._file = open(path, "a", encoding="utf-8") if path else None

    def add(self, record):
        line = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            self._records.append(record)
            if self._file:
                self._file.write(line + "\n")
                self._file.flush()

    def since(self, index):
        with self._lock:
            return list(self._records[index:])


class Modes:
    """The behaviour in force per area (a peer has one area or several).

    A mode set with a `count` applies to that many requests, then the area is
    back to "ok". Hanging requests wait until the next POST /_control/mode.
    """

    def __init__(self, areas):
        self._allowed = areas  # area name -> set of modes it accepts
        self._specs = {area: {"mode": "ok"} for area in areas}
        self._generation = 0
        self._changed = threading.Condition()

    def set(self, body):
        if not isinstance(body, dict):
            raise HttpError(400, "mode body must be a JSON object")
        unknown = set(body) - MODE_KEYS
        if unknown:
            raise HttpError(400, f"unknown keys {sorted(unknown)}; allowed: {sorted(MODE_KEYS)}")
        area = body.get("area")
        if area is None and len(self._specs) == 1:
            area = next(iter(self._specs))
        areas = list(self._specs) if area is None else [area]
        mode = body.get("mode")
        for name in areas:
            if name not in self._allowed:
                raise HttpError(400, f"unknown area {name!r}; areas: {sorted(self._allowed)}")
            if mode not in self._allowed[name]:
                raise HttpError(400, f"mode {mode!r} not allowed for area {name!r}: {sorted(self._allowed[name])}")
        spec = {"mode": mode}
        if mode == "status":
            spec["status"] = _int_in(body.get("status", 500), 100, 599, "status")
            if "retry_after" in body:
                spec["retry_after"] = str(body["retry_after"])
        if mode == "slow":
            spec["delay_ms"] = _int_in(body.get("delay_ms", 1000), 0, 600_000, "delay_ms")
        if "count" in body and mode != "ok":
            spec["count"] = _int_in(body["count"], 1, 10**9, "count")
        with self._changed:
            for name in areas:
                self._specs[name] = dict(spec)
            self._generation += 1
            self._changed.notify_all()

    def take(self, area):
        """The mode for one request in `area` (counting it), and the generation
        to wait on if it hangs."""
        with self._changed:
            spec = self._specs[area]
            taken = {k: v for k, v in spec.items() if k != "count"}
            if "count" in spec:
                spec["count"] -= 1
                if spec["count"] == 0:
                    self._specs[area] = {"mode": "ok"}
            return taken, self._generation

    def wait_for_change(self, generation):
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation)

    def snapshot(self):
        with self._changed:
            return {area: dict(spec) for area, spec in self._specs.items()}


def _int_in(value, low, high, name):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HttpError(400, f"{name} must be an integer in {low}..{high}, got {value!r}")
    return value


class Peer:
    """Base of a peer: override `area_for`, `handle` and maybe `control`."""

    areas = {"default": GENERIC_MODES}

    def __init__(self, args):
        self.verbose = args.verbose
        self.recorder = Recorder(args.record)
        self.modes = Modes(self.areas)
        self._handshake_failures = 0
        self._lock = threading.Lock()

    def area_for(self, listener, path):
        """Area whose mode applies to `path`, or None for an unknown path (404)."""
        raise NotImplementedError

    def handle(self, request):
        """Normal answer to a request: (Response, extra record fields)."""
        raise NotImplementedError

    def control(self, name, request):
        """Peer-specific `/_control/<name>`; None when there is no such endpoint."""
        return None

    def stats(self, records):
        by_status = {}
        for record in records:
            key = str(record["status"])
            by_status[key] = by_status.get(key, 0) + 1
        with self._lock:
            failures = self._handshake_failures
        return {"requests": len(records), "by_status": by_status, "tls_handshake_failures": failures}

    def note_handshake_failure(self):
        with self._lock:
            self._handshake_failures += 1

    def dispatch_control(self, name, request):
        if name == "mode":
            _require_method(request, "POST")
            self.modes.set(request.json())
            return json_response(200, {"modes": self.modes.snapshot()})
        if name == "requests":
            _require_method(request, "GET")
            since = parse_qs(request.query).get("since", ["0"])[0]
            if not since.isdigit():
                raise HttpError(400, "since must be a non-negative integer")
            records = self.recorder.since(int(since))
            return json_response(200, {"requests": records, "next": int(since) + len(records)})
        if name == "stats":
            _require_method(request, "GET")
            return json_response(200, self.stats(self.recorder.since(0)))
        response = self.control(name, request)
        if response is None:
            raise HttpError(404, f"no control endpoint /_control/{name}")
        return response


def _require_method(request, method):
    if request.method != method:
        raise HttpError(405, f"use {method} for {request.path}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY a keep-alive
    # client would wait for the delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format, *args):
        if self.server.peer.verbose:
            sys.stderr.write(f"{self.server.listener}: {format % args}\n")

    def _dispatch(self):
        peer = self.server.peer
        split = urlsplit(self.path)
        if split.path.startswith("/_control/"):
            self._serve_control(peer, split)
            return
        area = peer.area_for(self.server.listener, split.path)
        spec, generation = peer.modes.take(area) if area else ({"mode": "ok"}, 0)
        mode = spec["mode"]
        if mode == "down":
            # Drop the connection right after the headers, body unread.
            peer.recorder.add(self._record(split, b"", spec, None, {}))
            self.close_connection = True
            return
        try:
            body = self._read_body()
        except HttpError as err:
            self.close_connection = True
            self._send(json_response(err.status, {"message": err.message}))
            return
        if mode == "hang":
            peer.modes.wait_for_change(generation)
        elif mode == "slow":
            time.sleep(spec["delay_ms"] / 1000)
        request = self._request(split, body, spec)
        if area is None:
            response, fields = json_response(404, {"message": f"no such path: {split.path}"}), {}
        else:
            try:
                response, fields = peer.handle(request)
            except HttpError as err:
                response = json_response(err.status, {"message": err.message}, err.headers)
                fields = {}
            except Exception as err:  # a peer bug: answer it rather than drop the connection
                if peer.verbose:
                    traceback.print_exc()
                response = json_response(500, {"message": f"peer error: {err!r}"})
                fields = {}
        if mode == "status":
            headers = {"Retry-After": spec["retry_after"]} if "retry_after" in spec else {}
            response = json_response(spec["status"], {"message": f"status mode: {spec['status']}"}, headers)
        elif mode == "garbage":
            response = Response(200, GARBAGE_BODY, response.content_type)
        elif mode == "close":
            response = None
        peer.recorder.add(self._record(split, body, spec, response and response.status, fields))
        if response is None:
            self.close_connection = True
            return
        self._send(response)

    def _serve_control(self, peer, split):
        try:
            request = self._request(split, self._read_body(), {"mode": "ok"})
            response = peer.dispatch_control(split.path[len("/_control/") :], request)
        except HttpError as err:
            response = json_response(err.status, {"message": err.message})
        self._send(response)

    def _request(self, split, body, spec):
        return Request(
            method=self.command,
            target=self.path,
            path=split.path,
            query=split.query,
            headers=self.headers,
            body=body,
            tls=isinstance(self.connection, ssl.SSLSocket),
            client_cert_subject=self._client_cert_subject(),
            listener=self.server.listener,
            mode=spec,
        )

    def _record(self, split, body, spec, status, fields):
        record = {
            "time": time.time(),
            "listener": self.server.listener,
            "method": self.command,
            "path": split.path,
            "query": split.query,
            "headers": lower_headers(self.headers),
            "tls": isinstance(self.connection, ssl.SSLSocket),
            "client_cert_subject": self._client_cert_subject(),
            "body_bytes": len(body),
            "mode": spec["mode"],
            "status": status,
        }
        record.update(fields)
        return record

    def _client_cert_subject(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert()
        if not cert:
            return None
        return ",".join(f"{_RDN_NAMES.get(k, k)}={v}" for rdn in cert["subject"] for k, v in rdn)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise HttpError(400, f"bad Content-Length {length!r}")
        return self._read_exact(int(length))

    def _read_exact(self, size):
        data = self.rfile.read(size)
        if len(data) != size:
            raise HttpError(400, f"body ended after {len(data)} of {size} bytes")
        return data

    def _read_chunked(self):
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(400, f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                break
            chunks.append(self._read_exact(size))
            if self.rfile.readline(3).strip():
                raise HttpError(400, "chunk not followed by CRLF")
        while self.rfile.readline(65537).strip():
            pass  # trailer fields: not used by any peer
        return b"".join(chunks)

    def _send(self, response):
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            # The client gave up (typically a timeout during "hang"/"slow").
            self.close_connection = True


_RDN_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}


class PeerServer(ThreadingHTTPServer):
    """One listener of a peer, optionally TLS.

    The TLS handshake runs in the connection's own thread, so a client that
    stalls or fails its handshake never blocks the accept loop.
    """

    request_queue_size = 128

    def __init__(self, peer, listener, port, tls_context=None):
        self.peer = peer
        self.listener = listener
        self.tls_context = tls_context
        super().__init__((HOST, port), _Handler)

    @property
    def port(self):
        return self.server_address[1]

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (getfqdn), which can be
        # slow on machines with odd resolvers; the name is never used.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            tls_socket = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.peer.note_handshake_failure()
            return
        tls_socket.settimeout(None)
        try:
            super().finish_request(tls_socket, client_address)
        finally:
            tls_socket.close()

    def handle_error(self, request, client_address):
        if self.peer.verbose:
            super().handle_error(request, client_address)


def server_tls_context(cert, key, client_ca=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def argument_parser(description):
    """Parser with the options every peer has."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--record", metavar="FILE", help="append one JSON line per handled request")
    parser.add_argument("--verbose", action="store_true", help="log requests and errors to stderr")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="also stop when stdin reaches end of file (when the parent dies)",
    )
    return parser


def block_stop_signals():
    """Call first in main(): threads started later inherit the mask, so that
    SIGTERM/SIGINT are left for `serve_until_stopped` to take with sigwait."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def serve_until_stopped(args, ports, servers, on_stop=()):
    """Serves `servers` (already bound), announces `ports` and returns never:
    the process exits 0 on SIGTERM/SIGINT (or stdin EOF with --exit-with-stdin)."""
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print("LISTENING " + " ".join(str(port) for port in ports), flush=True)
    if args.exit_with_stdin:
        threading.Thread(target=_stop_at_stdin_eof, daemon=True).start()
    signal.sigwait(STOP_SIGNALS)
    for stop in on_stop:
        stop()
    for server in servers:
        server.server_close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads of hanging requests (and gRPC's pool) must not delay the exit.
    os._exit(0)


def _stop_at_stdin_eof():
    while sys.stdin.buffer.read(65536):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
