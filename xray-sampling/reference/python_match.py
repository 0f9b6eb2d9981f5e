#!/usr/bin/env python3
"""Prints which sampling rule the AWS X-Ray SDK for Python picks per request.

Usage: python_match.py INPUT.json

INPUT.json:
  {
    "mode": "centralized" | "local",
    "now": <epoch seconds>,
    "rules_response": {...},   # GetSamplingRules response (mode "centralized")
    "local": {...},            # local rules file (fallback, or the rules in "local" mode)
    "requests": [{"host", "method", "path", "service", "service_type"}, ...]
  }

Output: one line per request, in order: the centralized rule's name, or
"local:<index>" / "local:default" when the local rules decide.

Centralized rules go through the SDK's own code: ServiceConnector.fetch_sampling_rules
(with a stand-in X-Ray client returning the response, so the SDK's validity filter
runs), RuleCache.load_rules (sorting) and RuleCache.get_matched_rule (matching). Local
rules go through LocalSampler (validation) and its SamplingRule.applies, in the order
LocalSampler.should_trace tries them. Requires aws-xray-sdk==2.15.0.
"""

import json
import sys

from aws_xray_sdk.core.sampling.connector import ServiceConnector
from aws_xray_sdk.core.sampling.local.sampler import LocalSampler
from aws_xray_sdk.core.sampling.rule_cache import RuleCache
from aws_xray_sdk.version import VERSION

EXPECTED_SDK_VERSION = "2.15.0"


class StandInXRayClient:
    """Answers get_sampling_rules with a fixed response, as botocore would."""

    def __init__(self, response):
        self._response = response

    def get_sampling_rules(self):
        return self._response


def local_pick(sampler, request):
    host = request.get("host", None)
    method = request.get("method", None)
    path = request.get("path", None)
    for index, rule in enumerate(sampler._rules):
        if rule.applies(host, method, path):
            return "local:%d" % index
    return "local:default"


def main():
    version = VERSION
    if version != EXPECTED_SDK_VERSION:
        sys.exit("expected aws-xray-sdk %s, found %s" % (EXPECTED_SDK_VERSION, version))

    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    now = spec["now"]
    local = LocalSampler(spec["local"])
    cache = None
    if spec["mode"] == "centralized":
        connector = ServiceConnector()
        connector._xray_client = StandInXRayClient(spec["rules_response"])
        rules = connector.fetch_sampling_rules()
        cache = RuleCache()
        cache.load_rules(rules)
        cache.last_updated = now

    out = []
    for r in spec["requests"]:
        request = {
            "host": r["host"],
            "method": r["method"],
            "path": r["path"],
            "service": r["service"],
            "service_type": r["service_type"],
        }
        rule = cache.get_matched_rule(request, now) if cache is not None else None
        out.append(rule.name if rule is not None else local_pick(local, request))
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main()
