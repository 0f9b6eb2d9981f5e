"""moto's AWS service mocks (DynamoDB, S3, SQS, ...) under the peers' conventions.

`moto_server` itself cannot report the port it bound: with `-p 0` the test
would not know where to connect, and picking a free port beforehand races
with other tests. This wrapper binds the same moto application to a free
port on 127.0.0.1, prints `LISTENING <port>`, records each request (headers
included, e.g. to see the X-Amzn-Trace-Id an instrumented client sent) and
exits 0 on SIGTERM/SIGINT.

    python moto_peer.py --port 0 [--record FILE]

moto's own endpoints work as usual, e.g. POST /moto-api/reset.
"""

import logging
import os
import time

import peer_http


class RecordingApp:
    """WSGI middleware appending one record per request to the Recorder."""

    def __init__(self, app, recorder):
        self._app = app
        self._recorder = recorder

    def __call__(self, environ, start_response):
        status = {}

        def recording_start_response(line, headers, exc_info=None):
            status["code"] = int(line.split(" ", 1)[0])
            return start_response(line, headers, exc_info)

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
            }
        )
        return result


def main():
    peer_http.block_stop_signals()
    parser = peer_http.argument_parser("moto AWS mocks on a free port, with request records")
    args = parser.parse_args()
    # Imported late: moto takes a second or two to import, argument errors should not wait.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

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
