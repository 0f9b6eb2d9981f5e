"""moto's AWS service mocks (DynamoDB, S3, SQS, ...) under the peers' conventions.

`moto_server` itself cannot report the port it bound: with `-p 0` the test
would not know where to connect, and picking a free port beforehand races
with other tests. This wrapper binds the same moto application to a free
port on 127.0.0.1, prints `LISTENING <port>`, records each request (headers
included, e.g. to see the X-Amzn-Trace-Id an instrumented client sent) and
exits 0 on SIGTERM/SIGINT.

    python moto_peer.py --port 0 [--record FILE]

moto's own endpoints work as usual, e.g. POST /moto-api/reset.

Faults, to see how a client takes throttling, errors and silence:
`POST /_control/mode` with `{"mode": "status", "status": 400, "error_code":
"ProvisionedThroughputExceededException", "message": "...", "count": 2,
"target": "DynamoDB_20120810.GetItem"}` answers the next matching requests
with that AWS error instead of passing them to moto (a JSON error for
requests with an X-Amz-Target, else S3's XML error), `"slow"` with
`delay_ms` delays them, `"hang"` holds them until the next mode change;
`"target"` (X-Amz-Target) and `"path_prefix"` narrow which requests match.

One gap of moto is filled as SQS behaves: `SendMessageBatch` keeps each
entry's `MessageSystemAttributes` (its `AWSTraceHeader`), which moto 5.2.5
drops (it keeps them for `SendMessage` only).
"""

import json
import logging
import os
import threading
import time
from xml.sax.saxutils import escape

import peer_http

FAULT_MODES = {"ok", "status", "slow", "hang"}
FAULT_KEYS = {"mode", "status", "error_code", "message", "count", "target", "path_prefix", "delay_ms"}


class Faults:
    """The fault in force (one at a time), and the requests it matches."""

    def __init__(self):
        self._spec = {"mode": "ok"}
        self._generation = 0
        self._changed = threading.Condition()
        self._answered = 0

    def set(self, body):
        if not isinstance(body, dict):
            raise ValueError("mode body must be a JSON object")
        unknown = set(body) - FAULT_KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; allowed: {sorted(FAULT_KEYS)}")
        if body.get("mode") not in FAULT_MODES:
            raise ValueError(f"mode must be one of {sorted(FAULT_MODES)}")
        spec = dict(body)
        if spec["mode"] == "status":
            status = spec.setdefault("status", 500)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError("status must be an integer in 400..599")
            spec.setdefault("error_code", "InternalError" if status >= 500 else "BadRequest")
            spec.setdefault("message", f"fault injected by moto_peer ({status})")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        with self._changed:
            self._spec = spec
            self._generation += 1
            self._changed.notify_all()
        return spec

    def take(self, environ):
        """The fault for this request (counting it), or None, and the
        generation to wait on if it hangs."""
        with self._changed:
            spec = self._spec
            if spec["mode"] == "ok":
                return None, self._generation
            target = environ.get("HTTP_X_AMZ_TARGET")
            if "target" in spec and spec["target"] != target:
                return None, self._generation
            if "path_prefix" in spec and not environ.get("PATH_INFO", "").startswith(spec["path_prefix"]):
                return None, self._generation
            taken = {k: v for k, v in spec.items() if k != "count"}
            if "count" in spec:
                spec["count"] -= 1
                if spec["count"] == 0:
                    self._spec = {"mode": "ok"}
            self._answered += 1
            return taken, self._generation

    def wait_for_change(self, generation):
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation)

    def request_id(self):
        with self._changed:
            return f"moto-peer-fault-{self._answered}"


def error_answer(fault, environ, request_id):
    """The AWS error a service of this protocol answers with."""
    code, message, status = fault["error_code"], fault["message"], fault["status"]
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": f"com.amazonaws.moto#{code}", "message": message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code)]
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{escape(request_id)}</RequestId></Error>"
        ).encode()
        headers.append(("Content-Type", "application/xml"))
    headers.append(("Content-Length", str(len(body))))
    reason = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Slow Down"}
    return f"{status} {reason.get(status, 'Error')}", headers, body


class RecordingApp:
    """WSGI middleware appending one record per request to the Recorder, and
    answering the faults set with `/_control/mode` instead of moto."""

    def __init__(self, app, recorder):
        self._app = app
        self._recorder = recorder
        self._faults = Faults()

    def _control(self, environ, start_response):
        name = environ.get("PATH_INFO", "")[len("/_control/") :]
        try:
            if name != "mode" or environ["REQUEST_METHOD"] != "POST":
                raise LookupError(f"no control endpoint {environ['REQUEST_METHOD']} /_control/{name}")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = self._faults.set(json.loads(environ["wsgi.input"].read(length) or b"{}"))
            status, body = "200 OK", {"mode": spec}
        except LookupError as err:
            status, body = "404 Not Found", {"message": str(err)}
        except ValueError as err:
            status, body = "400 Bad Request", {"message": str(err)}
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_control/"):
            return self._control(environ, start_response)
        status = {}

        def recording_start_response(line, headers, exc_info=None):
            status["code"] = int(line.split(" ", 1)[0])
            return start_response(line, headers, exc_info)

        fault, generation = self._faults.take(environ)
        mode = fault["mode"] if fault else "ok"
        if mode == "hang":
            self._faults.wait_for_change(generation)
        elif mode == "slow":
            time.sleep(fault.get("delay_ms", 1000) / 1000)
        if mode == "status":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(length)
            line, headers, body = error_answer(fault, environ, self._faults.request_id())
            recording_start_response(line, headers)
            result = [body]
        else:
            result = self._app(environ, recording_start_response)
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        self._recorder.add(
            {
                "time": time.time(),
                "method": environ["REQUEST_METHOD"],
                "path": environ.get("PATH_INFO", ""),
                "query": environ.get("QUERY_STRING", ""),
                "headers": headers,
                "target": headers.get("x-amz-target"),
                "status": status.get("code"),
                "mode": mode,
            }
        )
        return result


def keep_batch_system_attributes(models):
    """Makes moto's SendMessageBatch pass each entry's system attributes on,
    as its SendMessage does (the entries are sent in order, one by one)."""
    send_one = models.SQSBackend.send_message
    send_batch = models.SQSBackend.send_message_batch
    pending = threading.local()

    def send_message(self, *args, **kwargs):
        waiting = getattr(pending, "attributes", None)
        if waiting and kwargs.get("system_attributes") is None:
            kwargs["system_attributes"] = waiting.pop(0)
        return send_one(self, *args, **kwargs)

    def send_message_batch(self, queue_name, entries):
        pending.attributes = [entry.get("MessageSystemAttributes") for entry in entries.values()]
        try:
            return send_batch(self, queue_name, entries)
        finally:
            pending.attributes = None

    models.SQSBackend.send_message = send_message
    models.SQSBackend.send_message_batch = send_message_batch


def main():
    peer_http.block_stop_signals()
    parser = peer_http.argument_parser("moto AWS mocks on a free port, with request records")
    args = parser.parse_args()
    # Imported late: moto takes a second or two to import, argument errors should not wait.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.sqs import models as sqs_models
    from werkzeug.serving import make_server

    keep_batch_system_attributes(sqs_models)

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = RecordingApp(DomainDispatcherApplication(create_backend_app), peer_http.Recorder(args.record))
    server = make_server(peer_http.HOST, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    # moto builds some URLs (SQS queue URLs) from this variable.
    os.environ["MOTO_PORT"] = str(port)
    peer_http.serve_until_stopped(args, [port], [server])


if __name__ == "__main__":
    main()
