"""OTLP receiver for tests: OTLP/HTTP (protobuf) and optionally OTLP/gRPC.

Accepts POST /v1/traces, /v1/logs and /v1/metrics (gzip or plain), decodes
them with the opentelemetry-proto classes and records what arrived. With
--sigv4 every HTTP request must carry a valid AWS SigV4 signature, checked
independently with botocore (see sigv4.py); a bad one is answered 403 with
{"message": reason} as AWS does.

    python otlp_receiver.py --port 0 [--tls-cert F --tls-key F [--client-ca F]]
        [--sigv4 AK:SK[:TOKEN]] [--expect-service S] [--expect-region R]
        [--record FILE] [--grpc-port 0]

First stdout line: `LISTENING <http port>` (`LISTENING <http port> <grpc port>`
with --grpc-port). See README.md for records and control endpoints.
"""

import gzip
import time
import zlib
from concurrent import futures

from google.protobuf.message import DecodeError

import peer_http
from otlp_decode import SIGNALS
from peer_http import Peer, PeerServer, Response
from sigv4 import SigV4Verifier, describe_unchecked

EMPTY_FIELDS = {
    "compressed": False,
    "resource_attributes": {},
    "resources": [],
    "spans": [],
    "logs": [],
    "metrics": [],
}

# gRPC full method -> OTLP/HTTP path of the same signal
GRPC_METHODS = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": "/v1/traces",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": "/v1/logs",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": "/v1/metrics",
}


class OtlpReceiver(Peer):
    def __init__(self, args):
        super().__init__(args)
        self.verifier = None
        if args.sigv4:
            self.verifier = SigV4Verifier.from_spec(
                args.sigv4, expect_service=args.expect_service, expect_region=args.expect_region
            )

    def area_for(self, listener, path):
        return "default" if path in SIGNALS else None

    def handle(self, request):
        request_class, response_class, decode = SIGNALS[request.path]
        fields = dict(EMPTY_FIELDS)
        if self.verifier:
            verdict = self.verifier.verify(request.method, request.url, request.header_pairs(), request.body)
            fields["sigv4"] = verdict.record()
            if not verdict.ok:
                return peer_http.json_response(403, {"message": verdict.reason}), fields
        else:
            fields["sigv4"] = describe_unchecked(request.header_pairs())
        if request.method != "POST":
            return peer_http.json_response(405, {"message": "OTLP exports are POSTed"}), fields
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-protobuf":
            message = f"Content-Type {content_type!r} not supported: send application/x-protobuf"
            return peer_http.json_response(415, {"message": message}), fields
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            return peer_http.json_response(415, {"message": f"Content-Encoding {encoding!r} not supported"}), fields
        fields["compressed"] = encoding == "gzip"
        try:
            payload = gzip.decompress(request.body) if fields["compressed"] else request.body
            message = request_class.FromString(payload)
        except (OSError, EOFError, zlib.error, DecodeError) as err:
            return peer_http.json_response(400, {"message": f"undecodable body: {err}"}), fields
        fields.update(decode(message))
        body = response_class().SerializeToString()
        return Response(200, body, "application/x-protobuf"), fields

    def stats(self, records):
        stats = super().stats(records)
        accepted = [record for record in records if record["status"] == 200]
        stats.update(
            spans=sum(len(record.get("spans", ())) for record in accepted),
            log_records=sum(len(record.get("logs", ())) for record in accepted),
            metrics=sum(len(record.get("metrics", ())) for record in accepted),
            bad_signatures=sum(
                1 for record in records if record.get("sigv4", {}).get("checked") and not record["sigv4"]["ok"]
            ),
        )
        return stats


class GrpcListener:
    """OTLP/gRPC Export of traces, logs and metrics, sharing the receiver's
    modes and records. gRPC cannot answer garbage or drop a connection from a
    handler: "close", "down" and "garbage" answer UNAVAILABLE instead."""

    def __init__(self, receiver, port, tls_files):
        import grpc  # only when a gRPC listener is asked for

        self._grpc = grpc
        self._receiver = receiver
        # Hanging calls hold a worker each; 32 leaves room for the others.
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        handlers = {}
        for method, path in GRPC_METHODS.items():
            service, name = method[1:].split("/")
            request_class, response_class, decode = SIGNALS[path]
            handler = grpc.unary_unary_rpc_method_handler(
                self._export_for(method, response_class, decode),
                request_deserializer=request_class.FromString,
                response_serializer=response_class.SerializeToString,
            )
            handlers.setdefault(service, {})[name] = handler
        self._server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(service, methods) for service, methods in handlers.items()]
        )
        address = f"{peer_http.HOST}:{port}"
        if tls_files:
            cert, key, client_ca = tls_files
            credentials = grpc.ssl_server_credentials(
                [(_read(key), _read(cert))],
                root_certificates=_read(client_ca) if client_ca else None,
                require_client_auth=bool(client_ca),
            )
            self.port = self._server.add_secure_port(address, credentials)
        else:
            self.port = self._server.add_insecure_port(address)
        self._server.start()

    def stop(self):
        self._server.stop(grace=0)

    def _export_for(self, method, response_class, decode):
        def export(message, context):
            return self._export(method, response_class, decode, message, context)

        return export

    def _export(self, method, response_class, decode, message, context):
        grpc = self._grpc
        modes = self._receiver.modes
        spec, generation = modes.take("default")
        if spec["mode"] == "hang":
            modes.wait_for_change(generation)
        elif spec["mode"] == "slow":
            time.sleep(spec["delay_ms"] / 1000)
        metadata = {}
        for key, value in context.invocation_metadata():
            metadata[key] = value.hex() if isinstance(value, bytes) else value
        auth = context.auth_context()
        subject = auth.get("x509_subject")
        code, status = grpc.StatusCode.OK, 200
        if spec["mode"] == "status":
            code, status = _grpc_code(grpc, spec["status"]), spec["status"]
        elif spec["mode"] in ("close", "down", "garbage"):
            code, status = grpc.StatusCode.UNAVAILABLE, None
        record = {
            "time": time.time(),
            "listener": "grpc",
            "method": "POST",
            "path": method,
            "query": "",
            "headers": metadata,
            "tls": auth.get("transport_security_type") == [b"ssl"],
            "client_cert_subject": subject[0].decode() if subject else None,
            "body_bytes": message.ByteSize(),
            "mode": spec["mode"],
            "status": status,
            "grpc_code": code.name,
            **EMPTY_FIELDS,
            # grpcio decompresses before the handler and hides grpc-encoding.
            "compressed": None,
            "sigv4": describe_unchecked(list(metadata.items())),
        }
        record.update(decode(message))
        self._receiver.recorder.add(record)
        if code != grpc.StatusCode.OK:
            context.abort(code, f"{spec['mode']} mode")
        return response_class()


def _grpc_code(grpc, http_status):
    # The mapping OTLP exporters rely on to decide about retries.
    codes = {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.UNIMPLEMENTED,
        429: grpc.StatusCode.RESOURCE_EXHAUSTED,
        500: grpc.StatusCode.INTERNAL,
        501: grpc.StatusCode.UNIMPLEMENTED,
        502: grpc.StatusCode.UNAVAILABLE,
        503: grpc.StatusCode.UNAVAILABLE,
        504: grpc.StatusCode.DEADLINE_EXCEEDED,
    }
    return codes.get(http_status, grpc.StatusCode.UNKNOWN)


def _read(path):
    with open(path, "rb") as file:
        return file.read()


def main():
    peer_http.block_stop_signals()
    parser = peer_http.argument_parser("OTLP/HTTP (and gRPC) receiver with SigV4 verification")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS (and gRPC over TLS) with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    parser.add_argument("--client-ca", metavar="PEM", help="require client certificates signed by this CA")
    parser.add_argument("--sigv4", metavar="AK:SK[:TOKEN]", help="verify every request's SigV4 signature")
    parser.add_argument("--expect-service", help="required service in the credential scope")
    parser.add_argument("--expect-region", help="required region in the credential scope")
    parser.add_argument("--grpc-port", type=int, help="also serve OTLP/gRPC on this port (0: any free port)")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        parser.error("--client-ca needs --tls-cert/--tls-key")

    receiver = OtlpReceiver(args)
    tls_context = None
    if args.tls_cert:
        tls_context = peer_http.server_tls_context(args.tls_cert, args.tls_key, args.client_ca)
    http = PeerServer(receiver, "http", args.port, tls_context)
    ports, on_stop = [http.port], []
    if args.grpc_port is not None:
        tls_files = (args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
        grpc_listener = GrpcListener(receiver, args.grpc_port, tls_files)
        ports.append(grpc_listener.port)
        on_stop.append(grpc_listener.stop)
    peer_http.serve_until_stopped(args, ports, [http], on_stop)


if __name__ == "__main__":
    main()
