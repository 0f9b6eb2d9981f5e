"""Checks the AWS Signature Version 4 of a received request with botocore.

The point is independence: the signature our Rust signer wrote is recomputed
by botocore's own canonical-request / string-to-sign / signature steps, fed
with the request as it arrived (method, URL as addressed, the headers listed
in SignedHeaders, the raw body) and the time the client claims in X-Amz-Date.

Beyond the signature it checks what AWS checks before it: the access key, the
credential scope (date, and optionally service and region), the session
token, x-amz-content-sha256 against the body, and a clock skew of 5 minutes.
"""

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 300

_AUTH_PARAM = re.compile(r"(\w+)=([^,\s]*)")


@dataclass
class Verdict:
    ok: bool
    reason: str
    service: str = None
    region: str = None
    access_key: str = None
    canonical_request: str = None
    string_to_sign: str = None

    def record(self, checked=True):
        """The `sigv4` object of a request record."""
        fields = {
            "checked": checked,
            "ok": self.ok,
            "reason": self.reason,
            "service": self.service,
            "region": self.region,
            "access_key": self.access_key,
        }
        if self.canonical_request is not None:
            fields["canonical_request"] = self.canonical_request
            fields["string_to_sign"] = self.string_to_sign
        return fields


@dataclass
class Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list
    signature: str


def parse_authorization(value):
    """Splits `AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
    SignedHeaders=a;b, Signature=hex`; raises ValueError with the reason."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise ValueError(f"Authorization algorithm is {algorithm!r}, expected {ALGORITHM}")
    params = dict(_AUTH_PARAM.findall(rest))
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not params.get(name):
            raise ValueError(f"Authorization header lacks {name}=")
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise ValueError(f"Credential {params['Credential']!r} is not AK/DATE/REGION/SERVICE/aws4_request")
    signed = params["SignedHeaders"].split(";")
    if signed != sorted(signed) or any(name != name.lower() or not name for name in signed):
        raise ValueError(f"SignedHeaders {params['SignedHeaders']!r} must be lower-case and sorted")
    return Authorization(scope[0], scope[1], scope[2], scope[3], signed, params["Signature"])


class _ReplaySigner(SigV4Auth):
    """botocore's SigV4 steps over exactly the headers the client signed.

    botocore picks the headers to sign itself and leaves some out (User-Agent,
    traceparent, ...); a verifier must use the client's SignedHeaders list.
    """

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request):
        selected = HTTPHeaders()
        for name in self._signed_headers:
            for value in request.headers.get_all(name, []):
                selected[name] = value
        return selected


class SigV4Verifier:
    def __init__(self, access_key, secret_key, session_token=None, expect_service=None, expect_region=None):
        self.credentials = Credentials(access_key, secret_key, session_token)
        self.expect_service = expect_service
        self.expect_region = expect_region

    @classmethod
    def from_spec(cls, spec, **expectations):
        """From `ACCESS_KEY:SECRET_KEY[:SESSION_TOKEN]`."""
        parts = spec.split(":", 2)
        if len(parts) < 2 or not all(parts):
            raise ValueError("--sigv4 takes ACCESS_KEY:SECRET_KEY[:SESSION_TOKEN]")
        return cls(*parts, **expectations)

    def verify(self, method, url, headers, body, now=None):
        """Checks one request. `headers` are (name, value) pairs as received,
        `body` the raw bytes (still compressed). Returns a Verdict."""
        now = time.time() if now is None else now
        received = {}
        for name, value in headers:
            received.setdefault(name.lower(), []).append(value)

        def header(name):
            values = received.get(name)
            return values[0] if values else None

        authorization = header("authorization")
        if authorization is None:
            return Verdict(False, "missing Authorization header")
        try:
            auth = parse_authorization(authorization)
        except ValueError as err:
            return Verdict(False, str(err))

        def fail(reason, **extra):
            return Verdict(False, reason, auth.service, auth.region, auth.access_key, **extra)

        if auth.access_key != self.credentials.access_key:
            return fail(f"unknown access key {auth.access_key!r}")
        amz_date = header("x-amz-date")
        if amz_date is None:
            return fail("missing X-Amz-Date header")
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, TIMESTAMP_FORMAT))
        except ValueError:
            return fail(f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ")
        if auth.date != amz_date[:8]:
            return fail(f"credential scope date {auth.date} does not match X-Amz-Date {amz_date}")
        if abs(now - signed_at) > MAX_SKEW_SECONDS:
            server_time = time.strftime(TIMESTAMP_FORMAT, time.gmtime(now))
            return fail(f"X-Amz-Date {amz_date} is more than 5 minutes from the server time {server_time}")
        if self.expect_service and auth.service != self.expect_service:
            return fail(f"credential scope service {auth.service!r}, expected {self.expect_service!r}")
        if self.expect_region and auth.region != self.expect_region:
            return fail(f"credential scope region {auth.region!r}, expected {self.expect_region!r}")
        token = header("x-amz-security-token")
        if self.credentials.token is None:
            if token is not None:
                return fail("X-Amz-Security-Token sent, but the credentials have no session token")
        elif token is None:
            return fail("missing X-Amz-Security-Token header")
        elif not hmac.compare_digest(token.encode(), self.credentials.token.encode()):
            return fail("X-Amz-Security-Token does not match the session token")
        for required in ("host", "x-amz-date"):
            if required not in auth.signed_headers:
                return fail(f"{required} is not in SignedHeaders")
        missing = [name for name in auth.signed_headers if name not in received]
        if missing:
            return fail(f"signed headers missing from the request: {missing}")
        content_sha = header("x-amz-content-sha256")
        body_sha = hashlib.sha256(body).hexdigest()
        if content_sha is not None and content_sha != body_sha:
            return fail(f"x-amz-content-sha256 {content_sha} is not the body's sha256 {body_sha}")

        request = AWSRequest(method=method, url=url, data=body)
        for name in auth.signed_headers:
            for value in received[name]:
                request.headers[name] = value
        request.context["timestamp"] = amz_date
        signer = _ReplaySigner(self.credentials, auth.service, auth.region, auth.signed_headers)
        canonical_request = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical_request)
        expected = signer.signature(string_to_sign, request)
        steps = {"canonical_request": canonical_request, "string_to_sign": string_to_sign}
        if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
            return fail(
                "The request signature we calculated does not match the signature you provided "
                f"(expected {expected}, got {auth.signature})",
                **steps,
            )
        return Verdict(True, "signature verified", auth.service, auth.region, auth.access_key, **steps)


def describe_unchecked(headers):
    """The `sigv4` record of a request when no credentials were configured:
    nothing verified, but the scope a client claimed is still shown."""
    authorization = next((v for n, v in headers if n.lower() == "authorization"), None)
    try:
        auth = parse_authorization(authorization) if authorization else None
    except ValueError:
        auth = None
    if auth is None:
        return Verdict(False, "not checked (no --sigv4)").record(checked=False)
    return Verdict(False, "not checked (no --sigv4)", auth.service, auth.region, auth.access_key).record(checked=False)
