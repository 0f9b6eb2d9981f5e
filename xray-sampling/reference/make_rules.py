#!/usr/bin/env python3
"""Writes the rule fixtures in rules/ used by tests/python_reference.rs."""

import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules")


def rule(name, prio, path="*", method="*", host="*", service="*", stype="*", arn="*",
         version=1, rate=0.1, res=1, attrs=None, drop=()):
    r = {"RuleName": name, "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/" + name,
         "ResourceARN": arn, "Priority": prio, "FixedRate": rate, "ReservoirSize": res,
         "ServiceName": service, "ServiceType": stype, "Host": host, "HTTPMethod": method,
         "URLPath": path, "Version": version, "Attributes": attrs or {}}
    for k in drop:
        del r[k]
    return r


def records(rs):
    return {"SamplingRuleRecords": [{"SamplingRule": r, "CreatedAt": 1.54e9, "ModifiedAt": 1.6e9} for r in rs]}


def write(name, doc):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")


RULES = [
    rule("health", 5, path="/health", method="GET"),
    rule("api-users", 10, path="/api/v1/users*", method="GET"),
    rule("api-any", 20, path="/api/*", host="*example.com"),
    rule("tie-b", 30, host="api.*", method="GET"),
    rule("tie-a", 30, host="*.example.com", method="GET"),
    rule("questions", 40, path="/a?c"),
    rule("lower-case-method", 45, method="delete", service="payments"),
    rule("post-only", 50, method="POST", service="orders*"),
    rule("ecs", 60, stype="AWS::ECS::Container", method="PUT"),
    rule("lambda-q", 61, stype="AWS::Lambda::*", service="?ay*"),
    rule("empty-host", 70, host="", service="checkout"),
    rule("star-star", 80, path="**", method="PATCH"),
    rule("middle", 90, path="/static/*.js"),
    rule("unicode", 95, path="/café/*", method="get"),
    rule("kelvin", 96, host="\u212aelvin*"),
    rule("ends-star", 97, path="*x", service="bayes"),
    rule("host-question", 98, host="?.?", service="or*"),
    # Left out by the Python SDK; never chosen here either for these requests.
    rule("version-2", 1, version=2),
    rule("no-service-type", 2, stype=""),
    rule("missing-service-type", 2, drop=("ServiceType",)),
    rule("arn-scoped", 3, arn="arn:aws:ecs:us-east-1:123456789012:container/*"),
    rule("with-attributes", 4, attrs={"tenant": "gold"}),
    rule("missing-version", 6, drop=("Version",)),
    rule("Default", 10000, rate=0.05, res=1),
    rule("zz-after-default", 10000),
]

# Every rule checks the URL path first, so that decisions take the
# single-field pre-check loop for paths of 8 or more ASCII bytes.
PATH_RULES = [
    rule("p-users", 1, path="/api/v1/users*", method="GET"),
    rule("p-users-any", 2, path="/api/v?/users/*"),
    rule("p-move", 3, path="/api/move/*", host="*.example.com"),
    rule("p-health", 4, path="/health"),
    rule("p-health-slash", 5, path="/health/"),
    rule("p-static", 6, path="/static/*.js"),
    rule("p-static-any", 7, path="/static/*", method="GET"),
    rule("p-cafe", 8, path="/CAFÉ/*"),
    rule("p-k", 9, path="/k*"),
    rule("p-abc", 10, path="/a?c"),
    rule("p-star-x", 11, path="*x"),
    rule("p-api-star", 12, path="/api/*", service="orders*"),
    rule("p-api-prefix", 13, path="/api*"),
    rule("p-question-end", 14, path="/api/?"),
    rule("p-page", 15, path="*page=?"),
    rule("Default", 10000, rate=0.05, res=1),
]

LOCAL_V2 = {
    "version": 2,
    "rules": [
        {"description": "moves", "host": "*", "http_method": "*", "url_path": "/api/move/*",
         "fixed_target": 0, "rate": 0.05},
        {"description": "example api", "host": "*.example.com", "http_method": "GET", "url_path": "/api/*",
         "fixed_target": 1, "rate": 0.1},
        {"description": "posts", "host": "api.example.com", "http_method": "POST", "url_path": "*",
         "fixed_target": 2, "rate": 0.5, "service_name": "ignored-in-version-2"},
        {"description": "", "host": "*", "http_method": "PUT", "url_path": "/a?c", "fixed_target": 0, "rate": 1.0},
        {"host": "localhost", "http_method": "*", "url_path": "/health", "fixed_target": 3, "rate": 0},
        {"description": "kelvin", "host": "k*", "http_method": "*", "url_path": "*", "fixed_target": 0, "rate": 0.2},
    ],
    "default": {"fixed_target": 1, "rate": 0.1},
}

# Version 1: the host pattern is under "service_name"; a "host" key is ignored.
LOCAL_V1 = {
    "version": 1,
    "rules": [dict({k: v for k, v in r.items() if k not in ("host", "service_name")},
                   service_name=r["host"], host="ignored-in-version-1") for r in LOCAL_V2["rules"]],
    "default": {"fixed_target": 1, "rate": 0.1},
}

if __name__ == "__main__":
    write("local_v2.json", LOCAL_V2)
    write("local_v1.json", LOCAL_V1)
    write("centralized.json", records(RULES))
    write("centralized_no_default.json",
          records([r for r in RULES if r["RuleName"] not in ("Default", "zz-after-default")]))
    write("centralized_paths.json", records(PATH_RULES))
