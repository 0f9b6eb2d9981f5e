"""The X-Ray sampling API as the X-Ray daemon and the ADOT collector's
awsproxy serve it locally (plain HTTP, no signature): POST /GetSamplingRules
and POST /SamplingTargets, with the AWS JSON shapes.

    python sampling_api.py --port 0 [--rules FILE] [--page-size 2] [--record FILE]

--rules FILE: a JSON list of SamplingRule objects, or {"SamplingRuleRecords":
[...]} as GetSamplingRules returns it. The Default rule is added when missing.
See README.md for the control endpoints.
"""

import json
import threading
import time

import peer_http
from peer_http import HttpError, Peer, PeerServer

ACCOUNT = "123456789012"
REGION = "us-west-2"
DEFAULT_TARGET_TTL = 10
DEFAULT_INTERVAL = 10
WILDCARD_FIELDS = ("ResourceARN", "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath")
DEFAULT_RULE = {"RuleName": "Default", "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1}
TARGET_KEYS = {"FixedRate", "ReservoirQuota", "ReservoirQuotaTTL", "Interval", "SamplingBoost"}
BOOST_KEYS = {"BoostRate", "BoostRateTTL"}

# Statistics fields and their JSON types; timestamps are epoch seconds.
STATISTICS_FIELDS = {
    "RuleName": "string",
    "ClientID": "string",
    "Timestamp": "number",
    "RequestCount": "count",
    "SampledCount": "count",
    "BorrowCount": "count",
}
BOOST_STATISTICS_FIELDS = {
    "RuleName": "string",
    "ServiceName": "string",
    "Timestamp": "number",
    "AnomalyCount": "count",
    "TotalCount": "count",
    "SampledAnomalyCount": "count",
}
_TYPE_CHECKS = {
    "string": lambda value: isinstance(value, str),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "count": lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= 0,
}


def invalid_request(message):
    return HttpError(400, message, {"x-amzn-ErrorType": "InvalidRequestException"})


def normalize_rule(rule):
    """A complete SamplingRule: AWS fills every field, so do we."""
    if not isinstance(rule, dict) or not isinstance(rule.get("RuleName"), str):
        raise ValueError(f"a sampling rule needs a RuleName: {rule!r}")
    complete = {
        "RuleName": rule["RuleName"],
        "RuleARN": f"arn:aws:xray:{REGION}:{ACCOUNT}:sampling-rule/{rule['RuleName']}",
        "Priority": 1000,
        "FixedRate": 0.05,
        "ReservoirSize": 1,
        **{field: "*" for field in WILDCARD_FIELDS},
        "Version": 1,
        "Attributes": {},
    }
    complete.update(rule)
    return complete


def rule_records(document, now):
    """Rule records from a --rules / /_control/rules document."""
    if isinstance(document, dict) and "SamplingRuleRecords" in document:
        entries = document["SamplingRuleRecords"]
    elif isinstance(document, list):
        entries = [{"SamplingRule": rule} for rule in document]
    else:
        raise ValueError('rules must be a list of SamplingRule objects or {"SamplingRuleRecords": [...]}')
    records = [
        {
            "SamplingRule": normalize_rule(entry.get("SamplingRule")),
            "CreatedAt": entry.get("CreatedAt", now),
            "ModifiedAt": entry.get("ModifiedAt", now),
        }
        for entry in entries
    ]
    if not any(record["SamplingRule"]["RuleName"] == "Default" for record in records):
        records.append({"SamplingRule": normalize_rule(DEFAULT_RULE), "CreatedAt": now, "ModifiedAt": now})
    return records


def _check_documents(documents, fields, name):
    if not isinstance(documents, list):
        raise invalid_request(f"{name} must be a list")
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise invalid_request(f"{name}[{index}] must be an object")
        for field, kind in fields.items():
            value = document.get(field)
            if not _TYPE_CHECKS[kind](value):
                raise invalid_request(f"{name}[{index}].{field} is missing or not a {kind}: {value!r}")
        if "ClientID" in fields and len(document["ClientID"]) != 24:
            raise invalid_request(f"{name}[{index}].ClientID must be 24 characters")


class SamplingApi(Peer):
    def __init__(self, args):
        super().__init__(args)
        self._state_lock = threading.Lock()
        now = time.time()
        document = [DEFAULT_RULE]
        if args.rules:
            with open(args.rules, encoding="utf-8") as file:
                document = json.load(file)
        self._records = rule_records(document, now)
        self._last_modification = now
        self._targets = {}
        self._page_size = args.page_size

    def area_for(self, listener, path):
        return "default" if path in ("/GetSamplingRules", "/SamplingTargets") else None

    def handle(self, request):
        fields = {"body": None}
        try:
            body = request.json()
            fields["body"] = body
            if request.method != "POST":
                raise HttpError(405, f"POST {request.path}")
            if not isinstance(body, dict):
                raise invalid_request("the body must be a JSON object")
            if request.path == "/GetSamplingRules":
                answer = self._get_sampling_rules(body)
            else:
                answer = self._sampling_targets(body)
        except HttpError as err:
            return peer_http.json_response(err.status, {"message": err.message}, err.headers), fields
        return peer_http.json_response(200, answer), fields

    def _get_sampling_rules(self, body):
        token = body.get("NextToken")
        start = 0
        if token is not None:
            if not (isinstance(token, str) and token.startswith("page-") and token[5:].isdigit()):
                raise invalid_request(f"invalid NextToken {token!r}")
            start = int(token[5:])
        with self._state_lock:
            page = self._records[start : start + self._page_size]
            more = start + self._page_size < len(self._records)
        answer = {"SamplingRuleRecords": page}
        if more:
            answer["NextToken"] = f"page-{start + self._page_size}"
        return answer

    def _sampling_targets(self, body):
        statistics = body.get("SamplingStatisticsDocuments")
        boosts = body.get("SamplingBoostStatisticsDocuments", [])
        _check_documents(statistics, STATISTICS_FIELDS, "SamplingStatisticsDocuments")
        _check_documents(boosts, BOOST_STATISTICS_FIELDS, "SamplingBoostStatisticsDocuments")
        now = time.time()
        with self._state_lock:
            rules = {record["SamplingRule"]["RuleName"]: record["SamplingRule"] for record in self._records}
            targets, unprocessed, unprocessed_boost = [], [], []
            for name in dict.fromkeys(document["RuleName"] for document in statistics + boosts):
                if name in rules:
                    targets.append(self._target(rules[name], now))
            for documents, missing in ((statistics, unprocessed), (boosts, unprocessed_boost)):
                for document in documents:
                    if document["RuleName"] not in rules:
                        missing.append(
                            {"RuleName": document["RuleName"], "ErrorCode": "400", "Message": "Unknown rule"}
                        )
            return {
                "SamplingTargetDocuments": targets,
                "LastRuleModification": self._last_modification,
                "UnprocessedStatistics": unprocessed,
                "UnprocessedBoostStatistics": unprocessed_boost,
            }

    def _target(self, rule, now):
        """The target of one rule: control overrides, else the rule's values.
        An override of null leaves the field out, as AWS sometimes does."""
        override = self._targets.get(rule["RuleName"], {})
        values = {
            "FixedRate": rule["FixedRate"],
            "ReservoirQuota": rule["ReservoirSize"],
            "ReservoirQuotaTTL": DEFAULT_TARGET_TTL,
            "Interval": DEFAULT_INTERVAL,
        }
        values.update(override)
        target = {"RuleName": rule["RuleName"]}
        for key, value in values.items():
            if value is None:
                continue
            if key == "ReservoirQuotaTTL":
                value = now + value
            elif key == "SamplingBoost":
                value = {"BoostRate": value["BoostRate"], "BoostRateTTL": now + value["BoostRateTTL"]}
            target[key] = value
        return target

    def control(self, name, request):
        if name == "rules":
            try:
                records = rule_records(request.json(), time.time())
            except ValueError as err:
                raise HttpError(400, str(err)) from None
            with self._state_lock:
                self._records = records
                self._last_modification = time.time()
                return peer_http.json_response(
                    200, {"rules": len(records), "LastRuleModification": self._last_modification}
                )
        if name == "targets":
            targets = request.json()
            if not isinstance(targets, dict):
                raise HttpError(400, "targets: an object mapping rule names to target values")
            for rule_name, target in targets.items():
                _check_target(rule_name, target)
            with self._state_lock:
                self._targets = targets
            return peer_http.json_response(200, {"targets": sorted(targets)})
        return None


def _check_target(rule_name, target):
    if not isinstance(target, dict) or set(target) - TARGET_KEYS:
        raise HttpError(400, f"target of {rule_name!r}: an object with keys among {sorted(TARGET_KEYS)}")
    boost = target.get("SamplingBoost")
    if boost is not None and (not isinstance(boost, dict) or set(boost) != BOOST_KEYS):
        raise HttpError(400, f"SamplingBoost of {rule_name!r} needs exactly {sorted(BOOST_KEYS)}")


def main():
    peer_http.block_stop_signals()
    parser = peer_http.argument_parser("X-Ray sampling API (GetSamplingRules, SamplingTargets)")
    parser.add_argument("--rules", metavar="FILE", help="initial sampling rules (JSON)")
    parser.add_argument("--page-size", type=int, default=2, help="rules per GetSamplingRules page")
    args = parser.parse_args()
    if args.page_size < 1:
        parser.error("--page-size must be at least 1")
    try:
        api = SamplingApi(args)
    except (OSError, ValueError) as err:
        parser.error(f"--rules: {err}")
    server = PeerServer(api, "http", args.port)
    peer_http.serve_until_stopped(args, [server.port], [server])


if __name__ == "__main__":
    main()
