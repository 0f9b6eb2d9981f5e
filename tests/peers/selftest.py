"""Self-test of the test peers: starts each one on port 0, talks to it with
real clients (botocore signing and credential fetchers, TLS with the test CA,
gRPC), checks answers and records, and stops it by its pid with SIGTERM.

    bash tests/peers/install.sh
    target/tools/peers-venv/bin/python tests/peers/selftest.py

Prints one line per check, then `N passed, N failed`; exits 1 on any failure.
"""

import calendar
import contextlib
import gzip
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import botocore.session  # noqa: E402
import grpc  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.utils import (
    ContainerMetadataFetcher,
    InstanceMetadataFetcher,
    InstanceMetadataRegionFetcher,
)  # noqa: E402
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status  # noqa: E402

import certs  # noqa: E402
from sigv4 import SigV4Verifier  # noqa: E402

PYTHON = sys.executable
ACCESS_KEY, SECRET_KEY, SESSION_TOKEN = "AKIDSELFTEST", "selftest/secret+key", "selftest-session-token"
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
SPAN_ID = "53995c3f42cd8ad8"
PARENT_ID = "1d1ed5e6a4cd1a2b"
TRACES_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


# --- check bookkeeping ---


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, function, *args):
        """Runs one check; a failure is reported and counted, never raised."""
        try:
            function(*args)
        except Exception as err:  # every failure, assertion or not, is a finding
            self.failed += 1
            detail = str(err) if isinstance(err, AssertionError) else traceback.format_exc(limit=3)
            print(f"FAIL - {name}: {detail}", flush=True)
        else:
            self.passed += 1
            print(f"ok - {name}", flush=True)


RESULTS = Results()
check = RESULTS.check


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_equal(actual, wanted, what):
    expect(actual == wanted, f"{what}: got {actual!r}, wanted {wanted!r}")


# --- running peers ---


class PeerProcess:
    """A peer started as `python <script> --port 0 ...`, read up to its
    LISTENING line, and stopped by pid with SIGTERM."""

    def __init__(self, script, *args, timeout=30):
        self.label = script
        self._stderr = tempfile.TemporaryFile()
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, script), "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        self.startup_seconds = time.monotonic() - started
        words = line.split()
        if words[:1] != ["LISTENING"] or not all(word.isdigit() for word in words[1:]):
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{script}: first line {line!r}, not LISTENING <port>; stderr: {self.stderr()}")
        self.ports = [int(word) for word in words[1:]]
        self.port = self.ports[0]

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def stop(self):
        """SIGTERM by pid; the peer must exit 0 within 10 s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.label} still running 10 s after SIGTERM") from None
        expect(status == 0, f"{self.label} exited {status} after SIGTERM; stderr: {self.stderr()}")


@contextlib.contextmanager
def running(script, *args):
    peer = PeerProcess(script, *args)
    try:
        yield peer
    finally:
        check(f"{script} exits 0 on SIGTERM", peer.stop)


# --- HTTP helpers ---


def connect(port, tls=None, timeout=10):
    if tls is None:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)


def call(connection, method, path, body=None, headers=None, chunked=False):
    connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def once(port, method, path, body=None, headers=None, tls=None, timeout=10):
    connection = connect(port, tls, timeout)
    try:
        return call(connection, method, path, body, headers)
    finally:
        connection.close()


def control(port, name, body=None, tls=None):
    method = "GET" if body is None else "POST"
    payload = None if body is None else json.dumps(body).encode()
    status, _, data = once(port, method, f"/_control/{name}", payload, {"Content-Type": "application/json"}, tls)
    expect(status == 200, f"/_control/{name} answered {status}: {data[:200]!r}")
    return json.loads(data)


def json_call(port, path, body):
    status, headers, data = once(port, "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return status, headers, data


def client_tls(ca, cert=None, key=None):
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    return context


def expect_connection_failure(function, what):
    try:
        function()
    except (OSError, http.client.HTTPException):
        return
    raise AssertionError(f"{what}: the request succeeded")


# --- OTLP payloads ---


def attribute(key, **value):
    return KeyValue(key=key, value=AnyValue(**value))


def sample_traces():
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [attribute("service.name", string_value="selftest"), attribute("cloud.provider", string_value="aws")]
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "selftest-scope"
    span = scope_spans.spans.add(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
        parent_span_id=bytes.fromhex(PARENT_ID),
        name="GET /orders",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_250_000_000,
    )
    span.attributes.extend(
        [
            attribute("http.response.status_code", int_value=500),
            attribute("retry", bool_value=True),
            attribute("ratio", double_value=0.5),
            attribute("tags", array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=2)])),
            attribute("nested", kvlist_value=KeyValueList(values=[attribute("k", string_value="v")])),
        ]
    )
    span.status.code = Status.STATUS_CODE_ERROR
    span.status.message = "boom"
    event = span.events.add(name="exception", time_unix_nano=1_700_000_000_100_000_000)
    event.attributes.append(attribute("exception.type", string_value="Timeout"))
    span.links.add(trace_id=bytes.fromhex(TRACE_ID), span_id=bytes.fromhex(PARENT_ID))
    return request


def sample_logs():
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(attribute("service.name", string_value="selftest"))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "selftest-logs"
    log = scope_logs.log_records.add(
        time_unix_nano=1_700_000_000_000_000_000,
        severity_number=17,
        severity_text="ERROR",
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
    )
    log.body.string_value = "order failed"
    log.attributes.append(attribute("order.id", int_value=42))
    return request


def sample_metrics():
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.append(attribute("service.name", string_value="selftest"))
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "selftest-metrics"
    histogram = scope_metrics.metrics.add(name="http.server.duration", unit="ms")
    histogram.histogram.aggregation_temporality = 1
    point = histogram.histogram.data_points.add(count=3, sum=42.0, bucket_counts=[1, 2, 0], explicit_bounds=[10, 100])
    point.attributes.append(attribute("http.route", string_value="/orders"))
    point.exemplars.add(trace_id=bytes.fromhex(TRACE_ID), span_id=bytes.fromhex(SPAN_ID), as_double=37.5)
    counter = scope_metrics.metrics.add(name="orders")
    counter.sum.is_monotonic = True
    counter.sum.data_points.add(as_int=7)
    return request


def signed_headers(url, body, *, credentials=None, region="us-west-2", service="xray", extra=None):
    """Headers of a POST signed by botocore's own SigV4Auth (stamped now)."""
    headers = {"Content-Type": "application/x-protobuf", **(extra or {})}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials or Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), service, region).add_auth(request)
    return dict(request.headers.items())


# --- SigV4 verifier, without a server ---


class _SignEveryHeader(SigV4Auth):
    """Signs User-Agent too, which botocore itself never signs, as other
    signers (ours among them) may."""

    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        headers["user-agent"] = request.headers["User-Agent"]
        return headers


def verifier_checks():
    verifier = SigV4Verifier(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, expect_service="xray", expect_region="us-west-2")
    url = "https://127.0.0.1:4318/v1/traces?b=2&a=1"
    body = gzip.compress(sample_traces().SerializeToString())

    def signed_pairs(signer_class=SigV4Auth, extra=None):
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **(extra or {})},
        )
        signer_class(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "xray", "us-west-2").add_auth(request)
        return [("Host", "127.0.0.1:4318"), *request.headers.items()]

    def replace(pairs, name, value):
        return [(n, value if n.lower() == name else v) for n, v in pairs]

    def expect_rejected(pairs, wanted_reason, data=body, now=None):
        verdict = verifier.verify("POST", url, pairs, data, now=now)
        expect(not verdict.ok, f"accepted, wanted a rejection for {wanted_reason!r}")
        expect(wanted_reason in verdict.reason, f"reason {verdict.reason!r} lacks {wanted_reason!r}")

    def aws_published_example():
        # The worked example of the AWS SigV4 documentation (IAM ListUsers).
        example = SigV4Verifier("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        headers = [
            ("Host", "iam.amazonaws.com"),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date, "
                "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
        ]
        now = calendar.timegm((2015, 8, 30, 12, 36, 0))
        verdict = example.verify(
            "GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", headers, b"", now
        )
        expect(verdict.ok, f"the documented example fails: {verdict.reason}")

    def botocore_signed_passes():
        verdict = verifier.verify("POST", url, signed_pairs(), body)
        expect(verdict.ok, f"rejected: {verdict.reason}")
        expect_equal((verdict.service, verdict.region, verdict.access_key), ("xray", "us-west-2", ACCESS_KEY), "scope")

    def extra_signed_header_passes():
        verdict = verifier.verify("POST", url, signed_pairs(_SignEveryHeader, {"User-Agent": "selftest/1"}), body)
        expect(verdict.ok, f"rejected: {verdict.reason}")

    def tampered_body():
        expect_rejected(
            signed_pairs(), "signature we calculated does not match", data=body[:-1] + bytes([body[-1] ^ 1])
        )

    def tampered_header():
        expect_rejected(replace(signed_pairs(), "content-type", "application/json"), "does not match")

    def tampered_date():
        pairs = signed_pairs()
        amz_date = next(v for n, v in pairs if n.lower() == "x-amz-date")
        later = time.strftime(
            "%Y%m%dT%H%M%SZ", time.gmtime(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) + 1)
        )
        expect_rejected(replace(pairs, "x-amz-date", later), "does not match")

    def scope_date_mismatch():
        pairs = signed_pairs()
        authorization = next(v for n, v in pairs if n.lower() == "authorization")
        date = authorization.split("Credential=")[1].split("/")[1]
        expect_rejected(replace(pairs, "authorization", authorization.replace(f"/{date}/", "/20200101/")), "scope date")

    def stale_date():
        expect_rejected(signed_pairs(), "more than 5 minutes", now=time.time() + 600)

    def wrong_secret():
        request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/x-protobuf"})
        SigV4Auth(Credentials(ACCESS_KEY, "other-secret", SESSION_TOKEN), "xray", "us-west-2").add_auth(request)
        expect_rejected([("Host", "127.0.0.1:4318"), *request.headers.items()], "does not match")

    def wrong_access_key():
        request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/x-protobuf"})
        SigV4Auth(Credentials("AKIDOTHER", SECRET_KEY, SESSION_TOKEN), "xray", "us-west-2").add_auth(request)
        expect_rejected([("Host", "127.0.0.1:4318"), *request.headers.items()], "unknown access key")

    def missing_token():
        pairs = [(n, v) for n, v in signed_pairs() if n.lower() != "x-amz-security-token"]
        expect_rejected(pairs, "missing X-Amz-Security-Token")

    def content_sha_mismatch():
        expect_rejected(signed_pairs(extra={"X-Amz-Content-SHA256": "0" * 64}), "x-amz-content-sha256")

    check("sigv4: AWS documented example verifies", aws_published_example)
    check("sigv4: botocore-signed request verifies", botocore_signed_passes)
    check("sigv4: signed User-Agent (not botocore's choice) verifies", extra_signed_header_passes)
    check("sigv4: one body byte changed is rejected", tampered_body)
    check("sigv4: a signed header changed is rejected", tampered_header)
    check("sigv4: X-Amz-Date moved by 1 s is rejected", tampered_date)
    check("sigv4: credential scope date != X-Amz-Date is rejected", scope_date_mismatch)
    check("sigv4: 10 minutes of clock skew is rejected", stale_date)
    check("sigv4: wrong secret key is rejected", wrong_secret)
    check("sigv4: unknown access key is rejected", wrong_access_key)
    check("sigv4: missing session token is rejected", missing_token)
    check("sigv4: x-amz-content-sha256 not the body's is rejected", content_sha_mismatch)


# --- certificates ---


def certificate_checks(pki):
    def verify(cafile, cert):
        return subprocess.run(
            ["openssl", "verify", "-CAfile", os.path.join(pki, cafile), os.path.join(pki, cert)],
            capture_output=True,
            text=True,
        )

    def chains():
        for cert in ("server.pem", "client.pem"):
            result = verify("ca.pem", cert)
            expect(result.returncode == 0, f"{cert}: {result.stdout}{result.stderr}")
        result = verify("other-ca.pem", "other-server.pem")
        expect(result.returncode == 0, f"other-server.pem: {result.stdout}{result.stderr}")

    def negatives():
        result = verify("ca.pem", "expired-server.pem")
        expect(result.returncode != 0 and "expired" in result.stdout + result.stderr, "expired-server.pem verifies")
        result = verify("ca.pem", "other-server.pem")
        expect(result.returncode != 0, "other-server.pem verifies against ca.pem")

    def server_extensions():
        text = subprocess.run(
            ["openssl", "x509", "-in", os.path.join(pki, "server.pem"), "-noout", "-text"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for wanted in (
            "Version: 3",
            "ecdsa-with-SHA256",
            "CA:FALSE",
            "TLS Web Server Authentication",
            "IP Address:127.0.0.1",
            "DNS:localhost",
        ):
            expect(wanted in text, f"server.pem lacks {wanted!r}")

    check("certs: server and client certificates chain to the CA", chains)
    check("certs: expired and other-CA certificates do not verify", negatives)
    check("certs: server certificate is v3, P-256/SHA-256, with SANs and EKU", server_extensions)


# --- OTLP receiver ---


def read_records(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def otlp_receiver_checks(pki, workdir):
    record = os.path.join(workdir, "otlp.jsonl")
    tls = client_tls(os.path.join(pki, "ca.pem"))
    with running(
        "otlp_receiver.py",
        "--tls-cert",
        os.path.join(pki, "server.pem"),
        "--tls-key",
        os.path.join(pki, "server-key.pem"),
        "--sigv4",
        f"{ACCESS_KEY}:{SECRET_KEY}:{SESSION_TOKEN}",
        "--expect-service",
        "xray",
        "--expect-region",
        "us-west-2",
        "--record",
        record,
        "--grpc-port",
        "0",
    ) as peer:
        port = peer.port
        url = f"https://127.0.0.1:{port}/v1/traces"
        traces = gzip.compress(sample_traces().SerializeToString())

        def send_signed(path="/v1/traces", body=traces, connection=None, **options):
            headers = signed_headers(f"https://127.0.0.1:{port}{path}", body, **options)
            if body is traces:
                headers["Content-Encoding"] = "gzip"
            return call(connection or connect(port, tls), "POST", path, body, headers)

        def signed_gzip_traces():
            expect_equal(len(peer.ports), 2, "ports on the LISTENING line")
            headers = signed_headers(url, traces, extra={"Content-Encoding": "gzip"})
            status, response_headers, body = once(port, "POST", "/v1/traces", traces, headers, tls)
            expect_equal(status, 200, f"status (body {body[:200]!r})")
            expect_equal(response_headers["content-type"], "application/x-protobuf", "content-type")
            ExportTraceServiceResponse.FromString(body)
            last = read_records(record)[-1]
            expect_equal(last["sigv4"]["ok"], True, f"sigv4 verdict ({last['sigv4'].get('reason')})")
            expect_equal(
                (last["sigv4"]["service"], last["sigv4"]["region"], last["sigv4"]["access_key"]),
                ("xray", "us-west-2", ACCESS_KEY),
                "sigv4 scope",
            )
            expect_equal((last["tls"], last["compressed"], last["body_bytes"]), (True, True, len(traces)), "transport")
            expect_equal(last["resource_attributes"], {"service.name": "selftest", "cloud.provider": "aws"}, "resource")
            span = last["spans"][0]
            expect_equal(
                (span["trace_id"], span["span_id"], span["parent_span_id"], span["name"], span["kind"], span["scope"]),
                (TRACE_ID, SPAN_ID, PARENT_ID, "GET /orders", 2, "selftest-scope"),
                "span identity",
            )
            expect_equal(
                span["attributes"],
                {"http.response.status_code": 500, "retry": True, "ratio": 0.5, "tags": ["a", 2], "nested": {"k": "v"}},
                "span attributes",
            )
            expect_equal(span["status"], {"code": 2, "message": "boom"}, "span status")
            expect_equal(span["events"][0]["attributes"], {"exception.type": "Timeout"}, "event")
            expect_equal(
                (span["links"][0]["span_id"], span["end_ns"] - span["start_ns"]),
                (PARENT_ID, 250_000_000),
                "link, duration",
            )
            expect_equal(last["headers"]["content-encoding"], "gzip", "recorded headers")

        def keep_alive():
            connection = connect(port, tls)
            first = send_signed(connection=connection)
            sock = connection.sock
            second = send_signed(connection=connection)
            expect_equal((first[0], second[0]), (200, 200), "statuses")
            expect(sock is not None and connection.sock is sock, "the second request needed a new connection")
            connection.close()

        def chunked_body():
            headers = signed_headers(url, traces, extra={"Content-Encoding": "gzip"})
            pieces = (traces[i : i + 100] for i in range(0, len(traces), 100))
            status, _, body = call(connect(port, tls), "POST", "/v1/traces", pieces, headers, chunked=True)
            expect_equal(status, 200, f"status ({body[:200]!r})")
            last = read_records(record)[-1]
            expect_equal(
                (last["headers"].get("transfer-encoding"), last["body_bytes"]), ("chunked", len(traces)), "record"
            )

        def rejected(headers, body, wanted_reason):
            status, response_headers, data = once(port, "POST", "/v1/traces", body, headers, tls)
            expect_equal(status, 403, "status")
            expect_equal(response_headers["content-type"], "application/json", "content-type")
            message = json.loads(data)["message"]
            expect(wanted_reason in message, f"message {message!r} lacks {wanted_reason!r}")

        def tampered_requests():
            headers = signed_headers(url, traces, extra={"Content-Encoding": "gzip"})
            rejected(headers, traces[:-1] + bytes([traces[-1] ^ 1]), "does not match")
            rejected({**headers, "Content-Type": "application/x-protobuf; x=1"}, traces, "does not match")
            rejected(signed_headers(url, traces, region="us-east-1"), traces, "region")
            rejected(signed_headers(url, traces, service="execute-api"), traces, "service")
            rejected(
                signed_headers(url, traces, credentials=Credentials(ACCESS_KEY, SECRET_KEY)),
                traces,
                "X-Amz-Security-Token",
            )
            rejected({"Content-Type": "application/x-protobuf"}, traces, "missing Authorization")
            last = read_records(record)[-1]
            expect_equal((last["status"], last["sigv4"]["checked"], last["sigv4"]["ok"]), (403, True, False), "record")

        def logs_and_metrics():
            logs = sample_logs().SerializeToString()
            status, _, _ = send_signed("/v1/logs", logs)
            expect_equal(status, 200, "logs status")
            log = read_records(record)[-1]["logs"][0]
            expect_equal(
                (
                    log["trace_id"],
                    log["span_id"],
                    log["body"],
                    log["severity_number"],
                    log["attributes"],
                    log["resource_attributes"],
                ),
                (TRACE_ID, SPAN_ID, "order failed", 17, {"order.id": 42}, {"service.name": "selftest"}),
                "log record",
            )
            status, _, _ = send_signed("/v1/metrics", sample_metrics().SerializeToString())
            expect_equal(status, 200, "metrics status")
            histogram, counter = read_records(record)[-1]["metrics"]
            point = histogram["data_points"][0]
            expect_equal(
                (histogram["type"], point["count"], point["sum"], point["bucket_counts"], point["attributes"]),
                ("histogram", 3, 42.0, [1, 2, 0], {"http.route": "/orders"}),
                "histogram",
            )
            exemplar = point["exemplars"][0]
            expect_equal(
                (exemplar["trace_id"], exemplar["span_id"], exemplar["value"]), (TRACE_ID, SPAN_ID, 37.5), "exemplar"
            )
            expect_equal(
                (counter["type"], counter["is_monotonic"], counter["data_points"][0]["value"]), ("sum", True, 7), "sum"
            )

        def unknown_path():
            status, _, _ = send_signed("/v1/nothing", b"")
            expect_equal(status, 404, "status")

        def status_mode():
            control(port, "mode", {"mode": "status", "status": 503, "count": 2, "retry_after": 1}, tls)
            first, second, third = (send_signed() for _ in range(3))
            expect_equal((first[0], second[0], third[0]), (503, 503, 200), "statuses")
            expect_equal(first[1].get("retry-after"), "1", "Retry-After")

        def hang_mode():
            control(port, "mode", {"mode": "hang"}, tls)
            before = len(read_records(record))
            started = time.monotonic()
            expect_connection_failure(lambda: send_signed(connection=connect(port, tls, timeout=1)), "hang")
            expect(time.monotonic() - started >= 0.9, "the client timed out too early")
            expect_equal(len(read_records(record)), before, "records while hanging")
            control(port, "mode", {"mode": "ok"}, tls)
            deadline = time.monotonic() + 5
            while len(read_records(record)) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            expect_equal(read_records(record)[-1]["mode"], "hang", "record of the released request")

        def slow_mode():
            control(port, "mode", {"mode": "slow", "delay_ms": 300}, tls)
            started = time.monotonic()
            status = send_signed()[0]
            elapsed = time.monotonic() - started
            control(port, "mode", {"mode": "ok"}, tls)
            expect(status == 200 and elapsed >= 0.3, f"status {status} after {elapsed:.2f} s")

        def close_mode():
            control(port, "mode", {"mode": "close", "count": 1}, tls)
            expect_connection_failure(send_signed, "close mode")
            expect_equal(send_signed()[0], 200, "status after the counted close")

        def bad_mode_rejected():
            status, _, data = once(port, "POST", "/_control/mode", b'{"mode": "sleepy"}', None, tls)
            expect_equal(status, 400, f"status ({data!r})")

        def stats():
            values = control(port, "stats", tls=tls)
            records = read_records(record)
            expect_equal(values["requests"], len(records), "requests")
            expect_equal(values["bad_signatures"], 6, "bad_signatures")
            expect(values["spans"] >= 5, f"spans {values['spans']}")
            listed = control(port, "requests?since=0", tls=tls)
            expect_equal(len(listed["requests"]), len(records), "GET /_control/requests")

        def grpc_export():
            with open(os.path.join(pki, "ca.pem"), "rb") as file:
                credentials = grpc.ssl_channel_credentials(root_certificates=file.read())
            with grpc.secure_channel(f"127.0.0.1:{peer.ports[1]}", credentials) as channel:
                export = channel.unary_unary(
                    TRACES_METHOD,
                    request_serializer=ExportTraceServiceRequest.SerializeToString,
                    response_deserializer=ExportTraceServiceResponse.FromString,
                )
                export(sample_traces(), timeout=10, metadata=[("x-selftest", "1")], compression=grpc.Compression.Gzip)
                last = read_records(record)[-1]
                expect_equal(
                    (last["listener"], last["path"], last["tls"], last["grpc_code"], last["headers"].get("x-selftest")),
                    ("grpc", TRACES_METHOD, True, "OK", "1"),
                    "record",
                )
                expect_equal(last["spans"][0]["trace_id"], TRACE_ID, "decoded span")
                control(port, "mode", {"mode": "status", "status": 503, "count": 1}, tls)
                try:
                    export(sample_traces(), timeout=10)
                except grpc.RpcError as err:
                    expect_equal(err.code(), grpc.StatusCode.UNAVAILABLE, "code in status mode")
                else:
                    raise AssertionError("status mode 503 answered OK over gRPC")

        def record_file_matches():
            records = read_records(record)
            expect(all(r["path"] != "/_control/mode" for r in records), "control requests were recorded")
            expect(all("status" in r and "headers" in r for r in records), "records lack fields")

        check("otlp: botocore-signed gzip traces over TLS: 200, decoded, recorded", signed_gzip_traces)
        check("otlp: keep-alive reuses the connection", keep_alive)
        check("otlp: chunked request body", chunked_body)
        check("otlp: tampered body/header, wrong region/service, no token, unsigned: 403", tampered_requests)
        check("otlp: logs and metrics decoded (trace ids, exemplars)", logs_and_metrics)
        check("otlp: unknown path is 404", unknown_path)
        check("otlp: status mode 503 x2 with Retry-After, then 200", status_mode)
        check("otlp: hang mode holds the request until the mode changes", hang_mode)
        check("otlp: slow mode delays the answer", slow_mode)
        check("otlp: close mode drops the connection once", close_mode)
        check("otlp: unknown mode is rejected with 400", bad_mode_rejected)
        check("otlp: gRPC export over TLS recorded; status mode maps to UNAVAILABLE", grpc_export)
        check("otlp: stats and /_control/requests agree with the record file", stats)
        check("otlp: record file has no control requests", record_file_matches)


def otlp_mtls_checks(pki, workdir):
    record = os.path.join(workdir, "otlp-mtls.jsonl")
    ca = os.path.join(pki, "ca.pem")
    with running(
        "otlp_receiver.py",
        "--tls-cert",
        os.path.join(pki, "server.pem"),
        "--tls-key",
        os.path.join(pki, "server-key.pem"),
        "--client-ca",
        ca,
        "--record",
        record,
        "--grpc-port",
        "0",
    ) as peer:
        with_cert = client_tls(ca, os.path.join(pki, "client.pem"), os.path.join(pki, "client-key.pem"))
        body = sample_traces().SerializeToString()
        headers = {"Content-Type": "application/x-protobuf"}

        def client_certificate_accepted():
            status, _, _ = once(peer.port, "POST", "/v1/traces", body, headers, with_cert)
            expect_equal(status, 200, "status")
            last = read_records(record)[-1]
            expect(
                "CN=xray test client" in (last["client_cert_subject"] or ""), f"subject {last['client_cert_subject']!r}"
            )
            expect_equal(last["sigv4"]["checked"], False, "sigv4 checked without --sigv4")

        def no_or_foreign_certificate_refused():
            expect_connection_failure(
                lambda: once(peer.port, "POST", "/v1/traces", body, headers, client_tls(ca)), "no cert"
            )
            foreign = client_tls(ca, os.path.join(pki, "other-client.pem"), os.path.join(pki, "other-client-key.pem"))
            expect_connection_failure(lambda: once(peer.port, "POST", "/v1/traces", body, headers, foreign), "other CA")
            failures = control(peer.port, "stats", tls=with_cert)["tls_handshake_failures"]
            expect_equal(failures, 2, "tls_handshake_failures")

        def grpc_mutual_tls():
            with open(ca, "rb") as file:
                root = file.read()
            with open(os.path.join(pki, "client.pem"), "rb") as cert, open(
                os.path.join(pki, "client-key.pem"), "rb"
            ) as key:
                good = grpc.ssl_channel_credentials(root, key.read(), cert.read())
            for credentials, should_pass in ((good, True), (grpc.ssl_channel_credentials(root), False)):
                with grpc.secure_channel(f"127.0.0.1:{peer.ports[1]}", credentials) as channel:
                    export = channel.unary_unary(
                        TRACES_METHOD,
                        request_serializer=ExportTraceServiceRequest.SerializeToString,
                        response_deserializer=ExportTraceServiceResponse.FromString,
                    )
                    try:
                        export(sample_traces(), timeout=5)
                        passed = True
                    except grpc.RpcError:
                        passed = False
                expect_equal(passed, should_pass, f"gRPC export {'with' if should_pass else 'without'} client cert")
            last = read_records(record)[-1]
            expect(
                "CN=xray test client" in (last["client_cert_subject"] or ""),
                f"gRPC subject {last['client_cert_subject']!r}",
            )

        check("otlp mTLS: client certificate accepted, subject recorded", client_certificate_accepted)
        check("otlp mTLS: no client cert / cert of another CA refused", no_or_foreign_certificate_refused)
        check("otlp mTLS: gRPC with and without client certificate", grpc_mutual_tls)


def otlp_plain_checks(pki, workdir):
    record = os.path.join(workdir, "otlp-plain.jsonl")
    with running("otlp_receiver.py", "--record", record) as peer:

        def unsigned_plain():
            status, _, _ = once(
                peer.port,
                "POST",
                "/v1/traces",
                sample_traces().SerializeToString(),
                {"Content-Type": "application/x-protobuf"},
            )
            expect_equal(status, 200, "status")
            last = read_records(record)[-1]
            expect_equal((last["tls"], last["sigv4"]["checked"], len(last["spans"])), (False, False, 1), "record")

        def bad_bodies():
            status, _, _ = once(
                peer.port,
                "POST",
                "/v1/traces",
                b"not gzip",
                {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            )
            expect_equal(status, 400, "bad gzip")
            status, _, _ = once(peer.port, "POST", "/v1/traces", b"{}", {"Content-Type": "application/json"})
            expect_equal(status, 415, "JSON body")

        check("otlp plain: unsigned HTTP accepted, sigv4 not checked", unsigned_plain)
        check("otlp plain: bad gzip 400, JSON 415", bad_bodies)

    def refused_by_client(server_cert, wanted):
        with running(
            "otlp_receiver.py",
            "--tls-cert",
            os.path.join(pki, f"{server_cert}.pem"),
            "--tls-key",
            os.path.join(pki, f"{server_cert}-key.pem"),
        ) as peer:
            try:
                once(peer.port, "GET", "/v1/traces", tls=client_tls(os.path.join(pki, "ca.pem")))
            except ssl.SSLCertVerificationError as err:
                expect(wanted in str(err), f"error {err} lacks {wanted!r}")
            else:
                raise AssertionError(f"a client trusting ca.pem accepted {server_cert}.pem")

    check("otlp: expired server certificate refused by the client", refused_by_client, "expired-server", "expired")
    check(
        "otlp: server certificate of another CA refused",
        refused_by_client,
        "other-server",
        "unable to get local issuer",
    )


# --- sampling API ---


def sampling_checks(workdir):
    rules_file = os.path.join(workdir, "rules.json")
    rules = [
        {
            "RuleName": "orders",
            "Priority": 1,
            "FixedRate": 0.5,
            "ReservoirSize": 5,
            "ServiceName": "orders",
            "URLPath": "/orders*",
        },
        {"RuleName": "health", "Priority": 2, "FixedRate": 0.0, "ReservoirSize": 0, "URLPath": "/health"},
        {"RuleName": "batch", "Priority": 3, "FixedRate": 0.1, "ReservoirSize": 2, "HTTPMethod": "POST"},
    ]
    with open(rules_file, "w", encoding="utf-8") as file:
        json.dump(rules, file)
    record = os.path.join(workdir, "sampling.jsonl")
    client_id = "0123456789abcdef01234567"

    def statistics(*names):
        return [
            {
                "RuleName": name,
                "ClientID": client_id,
                "Timestamp": time.time(),
                "RequestCount": 10,
                "SampledCount": 2,
                "BorrowCount": 1,
            }
            for name in names
        ]

    with running("sampling_api.py", "--rules", rules_file, "--record", record) as peer:
        port = peer.port

        def paging():
            status, _, data = json_call(port, "/GetSamplingRules", {})
            expect_equal(status, 200, "status")
            first = json.loads(data)
            expect_equal(len(first["SamplingRuleRecords"]), 2, "rules on page 1")
            expect("NextToken" in first, "page 1 has no NextToken")
            status, _, data = json_call(port, "/GetSamplingRules", {"NextToken": first["NextToken"]})
            second = json.loads(data)
            expect_equal(len(second["SamplingRuleRecords"]), 2, "rules on page 2")
            expect("NextToken" not in second, "the last page has a NextToken")
            records = first["SamplingRuleRecords"] + second["SamplingRuleRecords"]
            names = [r["SamplingRule"]["RuleName"] for r in records]
            expect_equal(names, ["orders", "health", "batch", "Default"], "rule names")
            default = records[-1]["SamplingRule"]
            expect_equal(
                (
                    default["Priority"],
                    default["FixedRate"],
                    default["ReservoirSize"],
                    default["Version"],
                    default["Attributes"],
                    default["Host"],
                ),
                (10000, 0.05, 1, 1, {}, "*"),
                "Default rule",
            )
            orders = records[0]
            expect(
                isinstance(orders["CreatedAt"], float) and isinstance(orders["ModifiedAt"], float),
                "CreatedAt/ModifiedAt",
            )
            expect_equal(
                orders["SamplingRule"]["RuleARN"], "arn:aws:xray:us-west-2:123456789012:sampling-rule/orders", "RuleARN"
            )

        def bad_token():
            status, headers, _ = json_call(port, "/GetSamplingRules", {"NextToken": "bogus"})
            expect_equal((status, headers.get("x-amzn-errortype")), (400, "InvalidRequestException"), "answer")

        def default_targets():
            now = time.time()
            status, _, data = json_call(
                port, "/SamplingTargets", {"SamplingStatisticsDocuments": statistics("orders", "Default", "nope")}
            )
            expect_equal(status, 200, f"status ({data[:200]!r})")
            answer = json.loads(data)
            targets = {t["RuleName"]: t for t in answer["SamplingTargetDocuments"]}
            expect_equal(sorted(targets), ["Default", "orders"], "targets")
            orders = targets["orders"]
            expect_equal(
                (orders["FixedRate"], orders["ReservoirQuota"], orders["Interval"]), (0.5, 5, 10), "orders target"
            )
            expect(
                abs(orders["ReservoirQuotaTTL"] - (now + 10)) < 2, f"ReservoirQuotaTTL {orders['ReservoirQuotaTTL']}"
            )
            expect_equal([u["RuleName"] for u in answer["UnprocessedStatistics"]], ["nope"], "unprocessed")
            expect(isinstance(answer["LastRuleModification"], float), "LastRuleModification")

        def controlled_targets():
            control(
                port,
                "targets",
                {
                    "orders": {
                        "FixedRate": 0.9,
                        "ReservoirQuota": None,
                        "Interval": 3,
                        "SamplingBoost": {"BoostRate": 0.8, "BoostRateTTL": 30},
                    },
                },
            )
            boost = [
                {
                    "RuleName": "orders",
                    "ServiceName": "orders",
                    "Timestamp": time.time(),
                    "AnomalyCount": 1,
                    "TotalCount": 5,
                    "SampledAnomalyCount": 1,
                }
            ]
            status, _, data = json_call(
                port,
                "/SamplingTargets",
                {"SamplingStatisticsDocuments": statistics("orders"), "SamplingBoostStatisticsDocuments": boost},
            )
            expect_equal(status, 200, "status")
            target = json.loads(data)["SamplingTargetDocuments"][0]
            expect_equal(
                (target["FixedRate"], target["Interval"], "ReservoirQuota" in target), (0.9, 3, False), "target"
            )
            expect_equal(target["SamplingBoost"]["BoostRate"], 0.8, "BoostRate")
            expect(target["SamplingBoost"]["BoostRateTTL"] > time.time() + 25, "BoostRateTTL")

        def invalid_statistics():
            bad = statistics("orders")
            bad[0]["ClientID"] = "short"
            status, _, data = json_call(port, "/SamplingTargets", {"SamplingStatisticsDocuments": bad})
            expect_equal(status, 400, "short ClientID")
            expect("ClientID" in json.loads(data)["message"], "message names the field")
            status, _, _ = json_call(port, "/SamplingTargets", {})
            expect_equal(status, 400, "missing SamplingStatisticsDocuments")

        def replace_rules():
            _, _, data = json_call(port, "/SamplingTargets", {"SamplingStatisticsDocuments": []})
            before = json.loads(data)["LastRuleModification"]
            control(
                port,
                "rules",
                {"SamplingRuleRecords": [{"SamplingRule": {"RuleName": "only", "FixedRate": 1.0, "ReservoirSize": 0}}]},
            )
            _, _, data = json_call(port, "/SamplingTargets", {"SamplingStatisticsDocuments": []})
            expect(json.loads(data)["LastRuleModification"] > before, "LastRuleModification did not move")
            _, _, data = json_call(port, "/GetSamplingRules", {})
            names = [r["SamplingRule"]["RuleName"] for r in json.loads(data)["SamplingRuleRecords"]]
            expect_equal(names, ["only", "Default"], "rules after replacement")

        def modes():
            control(port, "mode", {"mode": "down", "count": 1})
            expect_connection_failure(lambda: json_call(port, "/GetSamplingRules", {}), "down mode")
            control(port, "mode", {"mode": "garbage", "count": 1})
            status, _, data = json_call(port, "/GetSamplingRules", {})
            expect(status == 200, f"garbage status {status}")
            try:
                json.loads(data)
            except ValueError:
                pass
            else:
                raise AssertionError("garbage mode answered JSON")
            control(port, "mode", {"mode": "status", "status": 500, "count": 1})
            expect_equal(
                json_call(port, "/SamplingTargets", {"SamplingStatisticsDocuments": []})[0], 500, "status mode"
            )
            expect_equal(json_call(port, "/GetSamplingRules", {})[0], 200, "after the counted modes")

        def recorded_requests():
            listed = control(port, "requests")["requests"]
            expect(all(not r["path"].startswith("/_control") for r in listed), "control requests recorded")
            first = listed[0]
            expect_equal((first["path"], first["body"]), ("/GetSamplingRules", {}), "first record")
            expect_equal(len(read_records(record)), len(listed), "record file vs /_control/requests")

        check("sampling: GetSamplingRules pages by 2 with NextToken, complete rules", paging)
        check("sampling: bad NextToken is InvalidRequestException", bad_token)
        check("sampling: SamplingTargets defaults from the rules, unknown rule unprocessed", default_targets)
        check("sampling: targets set by control, boost, omitted quota", controlled_targets)
        check("sampling: invalid statistics answered 400", invalid_statistics)
        check("sampling: /_control/rules replaces rules, bumps LastRuleModification", replace_rules)
        check("sampling: down, garbage and status modes", modes)
        check("sampling: requests recorded with parsed bodies", recorded_requests)

    def default_rule_only():
        with running("sampling_api.py") as peer:
            _, _, data = json_call(peer.port, "/GetSamplingRules", {})
            records = json.loads(data)["SamplingRuleRecords"]
            expect_equal([r["SamplingRule"]["RuleName"] for r in records], ["Default"], "rules")

    check("sampling: without --rules only the Default rule", default_rule_only)


# --- metadata ---


def metadata_checks(pki, workdir):
    record = os.path.join(workdir, "metadata.jsonl")
    ca = os.path.join(pki, "ca.pem")
    auth_token = "selftest-container-token"
    k8s_token = "selftest-k8s-token"
    with running(
        "metadata.py",
        "--record",
        record,
        "--container-auth",
        auth_token,
        "--k8s-port",
        "0",
        "--k8s-tls-cert",
        os.path.join(pki, "server.pem"),
        "--k8s-tls-key",
        os.path.join(pki, "server-key.pem"),
        "--k8s-token",
        k8s_token,
        "--k8s-cluster-name",
        "selftest-cluster",
    ) as peer:
        port = peer.port
        prefix = "/v4/5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b-0123456789"

        def token(ttl="21600"):
            status, headers, data = once(
                port, "PUT", "/latest/api/token", b"", {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
            )
            expect_equal(status, 200, f"token status for ttl {ttl}")
            expect_equal(headers.get("x-aws-ec2-metadata-token-ttl-seconds"), ttl, "ttl header")
            return data.decode()

        def imds_get(path, imds_token):
            return once(port, "GET", path, None, {"X-aws-ec2-metadata-token": imds_token})

        def imds_v2_flow():
            expect_equal(once(port, "GET", "/latest/meta-data/instance-id")[0], 401, "without token")
            for ttl in ("0", "21601", "x"):
                expect_equal(
                    once(port, "PUT", "/latest/api/token", b"", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})[0],
                    400,
                    f"ttl {ttl}",
                )
            expect_equal(once(port, "PUT", "/latest/api/token", b"")[0], 400, "without ttl header")
            valid = token()
            expect_equal(imds_get("/latest/meta-data/instance-id", "wrong")[0], 401, "wrong token")
            wanted = {
                "/latest/meta-data/instance-id": "i-0123456789abcdef0",
                "/latest/meta-data/instance-type": "t3.micro",
                "/latest/meta-data/ami-id": "ami-0abcdef1234567890",
                "/latest/meta-data/placement/availability-zone": "us-west-2b",
                "/latest/meta-data/placement/region": "us-west-2",
                "/latest/meta-data/iam/security-credentials/": "xray-test-role",
            }
            for path, value in wanted.items():
                status, _, data = imds_get(path, valid)
                expect_equal((status, data.decode()), (200, value), path)
            listing = imds_get("/latest/meta-data/", valid)[2].decode().split("\n")
            expect("placement/" in listing and "local-ipv4" in listing, f"listing {listing}")
            document = json.loads(imds_get("/latest/dynamic/instance-identity/document", valid)[2])
            expect_equal(
                (document["accountId"], document["instanceId"], document["region"], document["version"]),
                ("123456789012", "i-0123456789abcdef0", "us-west-2", "2017-09-30"),
                "identity document",
            )
            role = json.loads(imds_get("/latest/meta-data/iam/security-credentials/xray-test-role", valid)[2])
            expect_equal((role["Code"], role["Type"]), ("Success", "AWS-HMAC"), "role credentials")
            expect(role["Expiration"].endswith("Z") and role["Token"], "Expiration / Token")
            expect_equal(imds_get("/latest/meta-data/nothing", valid)[0], 404, "unknown key")

        def token_expiry():
            short = token("1")
            expect_equal(imds_get("/latest/meta-data/instance-id", short)[0], 200, "fresh token")
            time.sleep(1.2)
            expect_equal(imds_get("/latest/meta-data/instance-id", short)[0], 401, "expired token")

        def botocore_imds():
            base_url = f"http://127.0.0.1:{port}/"
            credentials = InstanceMetadataFetcher(
                timeout=2, num_attempts=1, base_url=base_url
            ).retrieve_iam_role_credentials()
            expect_equal(
                (credentials.get("role_name"), credentials.get("access_key")),
                ("xray-test-role", "ASIAXRAYPEERTEST0001"),
                "credentials",
            )
            region = InstanceMetadataRegionFetcher(timeout=2, num_attempts=1, base_url=base_url).retrieve_region()
            expect_equal(region, "us-west-2", "region")

        def ecs_metadata():
            status, _, data = once(port, "GET", prefix)
            expect_equal(status, 200, "container status")
            container = json.loads(data)
            for key in (
                "DockerId",
                "Name",
                "DockerName",
                "Image",
                "ImageID",
                "Labels",
                "LogDriver",
                "LogOptions",
                "ContainerARN",
                "Networks",
            ):
                expect(key in container, f"container lacks {key}")
            labels = container["Labels"]
            expect(
                labels["com.amazonaws.ecs.cluster"].startswith("arn:aws:ecs:us-west-2:123456789012:cluster/"),
                "cluster label",
            )
            expect_equal(container["LogOptions"]["awslogs-group"], "/ecs/xray-test-task", "log group")
            task = json.loads(once(port, "GET", prefix + "/task")[2])
            expect_equal(
                (task["LaunchType"], task["Family"], task["Revision"]), ("FARGATE", "xray-test-task", "3"), "task"
            )
            expect_equal(task["Containers"], [container], "task containers")
            expect_equal(task["TaskARN"], labels["com.amazonaws.ecs.task-arn"], "TaskARN")
            expect(task["Cluster"].startswith("arn:aws:ecs:"), "Fargate Cluster is an ARN")
            expect("TaskTags" in json.loads(once(port, "GET", prefix + "/taskWithTags")[2]), "taskWithTags")
            control(port, "ecs", {"launch_type": "EC2", "cluster": "default"})
            task = json.loads(once(port, "GET", prefix + "/task")[2])
            expect_equal((task["LaunchType"], task["Cluster"], "VPCID" in task), ("EC2", "default", True), "EC2 task")
            expect_equal(once(port, "GET", prefix + "/nothing")[0], 404, "unknown ECS path")

        def container_credentials():
            expect_equal(once(port, "GET", "/creds")[0], 401, "without Authorization")
            status, _, data = once(port, "GET", "/creds", None, {"Authorization": auth_token})
            expect_equal(status, 200, "status")
            fields = json.loads(data)
            expect_equal(
                sorted(set(fields) - {"RoleArn"}), ["AccessKeyId", "Expiration", "SecretAccessKey", "Token"], "keys"
            )
            fetched = ContainerMetadataFetcher().retrieve_full_uri(
                f"http://127.0.0.1:{port}/creds", headers={"Authorization": auth_token}
            )
            expect_equal(fetched["AccessKeyId"], "ASIAXRAYPEERTEST0001", "botocore ContainerMetadataFetcher")
            control(
                port,
                "credentials",
                {"AccessKeyId": "ASIAROTATED000000001", "AccountId": "210987654321", "expires_in": 60},
            )
            fields = json.loads(once(port, "GET", "/creds", None, {"Authorization": auth_token})[2])
            expect_equal(
                (fields["AccessKeyId"], fields["AccountId"]), ("ASIAROTATED000000001", "210987654321"), "rotated"
            )
            control(port, "mode", {"area": "creds", "mode": "expired", "count": 1})
            fields = json.loads(once(port, "GET", "/creds", None, {"Authorization": auth_token})[2])
            expires = calendar.timegm(time.strptime(fields["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
            expect(expires < time.time(), f"Expiration {fields['Expiration']} is not in the past")

        def area_modes():
            valid = token()
            control(port, "mode", {"area": "imds", "mode": "hang"})
            expect_connection_failure(
                lambda: once(
                    port, "GET", "/latest/meta-data/instance-id", None, {"X-aws-ec2-metadata-token": valid}, timeout=0.5
                ),
                "hang",
            )
            expect_equal(once(port, "GET", prefix)[0], 200, "ECS unaffected by the imds mode")
            control(port, "mode", {"area": "imds", "mode": "ok"})
            control(port, "mode", {"area": "ecs", "mode": "garbage", "count": 1})
            status, _, data = once(port, "GET", prefix)
            expect(status == 200 and not data.startswith(b'{"DockerId'), "garbage mode answered metadata")
            control(port, "mode", {"area": "creds", "mode": "status", "status": 500, "count": 1})
            expect_equal(once(port, "GET", "/creds", None, {"Authorization": auth_token})[0], 500, "status mode")
            status, _, _ = once(port, "POST", "/_control/mode", json.dumps({"area": "ecs", "mode": "expired"}).encode())
            expect_equal(status, 400, "expired is not an ECS mode")

        def kubernetes_api():
            tls = client_tls(ca)
            k8s = peer.ports[1]
            cluster_info = "/api/v1/namespaces/amazon-cloudwatch/configmaps/cluster-info"
            aws_auth = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
            status, _, data = once(k8s, "GET", cluster_info, tls=tls)
            expect_equal((status, json.loads(data)["kind"]), (401, "Status"), "without token")
            bearer = {"Authorization": f"Bearer {k8s_token}"}
            status, _, data = once(k8s, "GET", cluster_info, None, bearer, tls)
            expect_equal(
                (status, json.loads(data)["data"]), (200, {"cluster.name": "selftest-cluster"}), "cluster-info"
            )
            expect_equal(once(k8s, "GET", aws_auth, None, bearer, tls)[0], 200, "aws-auth")
            control(port, "k8s", {"eks": False})
            expect_equal(once(k8s, "GET", aws_auth, None, bearer, tls)[0], 404, "aws-auth when not EKS")

        def records():
            listed = read_records(record)
            areas = {r.get("area") for r in listed}
            expect({"imds", "ecs", "creds", "k8s"} <= areas, f"areas recorded: {areas}")
            expect(any(r["listener"] == "k8s" and r["tls"] for r in listed), "k8s requests recorded as TLS")

        check("metadata: IMDSv2 token flow, 401 without token, values, identity document", imds_v2_flow)
        check("metadata: IMDSv2 token expires after its TTL", token_expiry)
        check("metadata: botocore's IMDS fetchers read credentials and region", botocore_imds)
        check("metadata: ECS task metadata v4 container, task, taskWithTags, EC2 shape", ecs_metadata)
        check(
            "metadata: container credentials with Authorization, botocore fetcher, rotation, expired",
            container_credentials,
        )
        check("metadata: per-area hang, garbage and status modes", area_modes)
        check("metadata: Kubernetes API over TLS with bearer token", kubernetes_api)
        check("metadata: every area recorded", records)


def exit_with_stdin():
    proc = subprocess.Popen(
        [PYTHON, os.path.join(HERE, "sampling_api.py"), "--port", "0", "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline().decode()
        expect(line.startswith("LISTENING "), f"first line {line!r}")
        proc.stdin.close()
        status = proc.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError("still running 10 s after stdin closed") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    expect_equal(status, 0, "exit status")


# --- reference packages ---


def xray_sdk_imports():
    from importlib.metadata import version

    from aws_xray_sdk.core import xray_recorder

    expect_equal(version("aws-xray-sdk"), "2.15.0", "aws-xray-sdk version")
    expect(xray_recorder is not None, "no xray_recorder")


def aws_client(service, port):
    return botocore.session.get_session().create_client(
        service,
        region_name="us-west-2",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def moto_server_entry_point():
    with socket.socket() as sock:  # moto_server cannot report a port it picked itself
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    moto_server = os.path.join(os.path.dirname(PYTHON), "moto_server")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [moto_server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    expect(proc.poll() is None and time.monotonic() < deadline, "moto_server did not start listening")
                    time.sleep(0.1)
            url = aws_client("sqs", port).create_queue(QueueName="selftest")["QueueUrl"]
            expect(url.endswith("/selftest"), f"QueueUrl {url}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("moto_server still running 10 s after SIGTERM") from None


def moto_peer_checks(workdir):
    record = os.path.join(workdir, "moto.jsonl")
    trace_header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    with running("moto_peer.py", "--record", record) as peer:

        def add_trace_header(request, **_):
            request.headers["X-Amzn-Trace-Id"] = trace_header

        def services():
            sqs = aws_client("sqs", peer.port)
            sqs.meta.events.register("before-sign.sqs.SendMessage", add_trace_header)
            queue = sqs.create_queue(QueueName="orders")["QueueUrl"]
            sqs.send_message(QueueUrl=queue, MessageBody="hello")
            messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
            expect_equal(messages[0]["Body"], "hello", "SQS message")
            dynamodb = aws_client("dynamodb", peer.port)
            dynamodb.create_table(
                TableName="orders",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            dynamodb.put_item(TableName="orders", Item={"id": {"S": "1"}})
            expect_equal(
                dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})["Item"]["id"]["S"], "1", "DynamoDB item"
            )
            s3 = aws_client("s3", peer.port)
            s3.create_bucket(Bucket="selftest-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
            s3.put_object(Bucket="selftest-bucket", Key="k", Body=b"payload")
            expect_equal(s3.get_object(Bucket="selftest-bucket", Key="k")["Body"].read(), b"payload", "S3 object")
            sqs.send_message_batch(
                QueueUrl=queue,
                Entries=[
                    {
                        "Id": "1",
                        "MessageBody": "batched",
                        "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": trace_header}},
                    }
                ],
            )
            batched = sqs.receive_message(QueueUrl=queue, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
            expect_equal(batched[0]["Attributes"].get("AWSTraceHeader"), trace_header, "batch entry's AWSTraceHeader")
            sent = [r for r in read_records(record) if r["target"] == "AmazonSQS.SendMessage"]
            expect_equal(sent[0]["headers"].get("x-amzn-trace-id"), trace_header, "recorded X-Amzn-Trace-Id")

        check("moto_peer: SQS, DynamoDB and S3 answer; trace header recorded", services)
        print(f"   (moto_peer started in {peer.startup_seconds:.1f} s)", flush=True)

        def faults():
            import botocore.config
            import botocore.exceptions

            no_retries = botocore.config.Config(retries={"total_max_attempts": 1})
            dynamodb = botocore.session.get_session().create_client(
                "dynamodb",
                region_name="us-west-2",
                endpoint_url=f"http://127.0.0.1:{peer.port}",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=no_retries,
            )
            control(
                peer.port,
                "mode",
                {
                    "mode": "status",
                    "status": 400,
                    "error_code": "ProvisionedThroughputExceededException",
                    "message": "slow down",
                    "count": 1,
                    "target": "DynamoDB_20120810.GetItem",
                },
            )
            dynamodb.describe_table(TableName="orders")  # another target: not matched
            try:
                dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})
                raise AssertionError("the fault did not answer")
            except botocore.exceptions.ClientError as err:
                expect_equal(err.response["Error"]["Code"], "ProvisionedThroughputExceededException", "JSON error code")
                expect_equal(err.response["Error"]["Message"], "slow down", "JSON error message")
            dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})  # count used up
            s3 = aws_client("s3", peer.port)
            control(peer.port, "mode", {"mode": "status", "status": 503, "error_code": "SlowDown", "path_prefix": "/selftest-bucket"})
            try:
                s3.get_object(Bucket="selftest-bucket", Key="k")
                raise AssertionError("the S3 fault did not answer")
            except botocore.exceptions.ClientError as err:
                expect_equal(err.response["Error"]["Code"], "SlowDown", "XML error code")
            control(peer.port, "mode", {"mode": "slow", "delay_ms": 300, "count": 1})
            started = time.monotonic()
            dynamodb.describe_table(TableName="orders")
            expect(time.monotonic() - started >= 0.3, "slow mode did not delay")
            status, _, _ = once(peer.port, "POST", "/_control/mode", b'{"mode": "explode"}')
            expect_equal(status, 400, "unknown mode")
            modes = [r["mode"] for r in read_records(record)[-5:]]
            expect("status" in modes and "slow" in modes, f"modes recorded: {modes}")

        check("moto_peer: injected AWS errors (JSON and XML), slow answers, matching by target and path", faults)


def group(name, function, *args):
    """Runs a group of checks; a group that cannot even start is one failure."""
    try:
        function(*args)
    except Exception:
        RESULTS.failed += 1
        print(f"FAIL - {name} could not run: {traceback.format_exc(limit=3)}", flush=True)


def main():
    with tempfile.TemporaryDirectory(prefix="peers-selftest-") as workdir:
        pki = os.path.join(workdir, "pki")
        certs.generate(pki, ["127.0.0.1", "localhost"])
        group("certificates", certificate_checks, pki)
        group("sigv4 verifier", verifier_checks)
        group("otlp receiver", otlp_receiver_checks, pki, workdir)
        group("otlp receiver (mTLS)", otlp_mtls_checks, pki, workdir)
        group("otlp receiver (plain)", otlp_plain_checks, pki, workdir)
        group("sampling API", sampling_checks, workdir)
        group("metadata", metadata_checks, pki, workdir)
        check("peers: --exit-with-stdin stops a peer when stdin closes", exit_with_stdin)
        check("aws-xray-sdk 2.15.0 imports", xray_sdk_imports)
        check("moto_server starts on 127.0.0.1 and answers SQS CreateQueue", moto_server_entry_point)
        group("moto peer", moto_peer_checks, workdir)
    print(f"{RESULTS.passed} passed, {RESULTS.failed} failed", flush=True)
    return 1 if RESULTS.failed else 0


if __name__ == "__main__":
    sys.exit(main())
