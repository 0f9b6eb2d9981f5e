#!/usr/bin/env python3
"""Collects the benchmark results into BENCHMARKS.md.

    python3 tests/bench/report.py [--label TEXT] [--stdout] [--target DIR]

Reads
  <target>/criterion/<id>/new/estimates.json   criterion medians (cargo bench -p xray-bench)
  <target>/xray-bench/callgrind.tsv            instructions per call (tests/bench/callgrind.sh)
  <target>/xray-bench/callgrind/*.out-01       the dumps, for "where xray's time goes"
  <target>/xray-bench/exported.tsv             spans lost by the criterion runs
  <target>/xray-bench/export-*.tsv             the export path, xray and the raw SDK over OTLP
                                               (tests/bench/throughput.sh)
and replaces the text between the `<!-- report:begin -->` and
`<!-- report:end -->` markers of BENCHMARKS.md (or prints it, --stdout).
Anything missing is shown as "-".
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

import cg

HERE = os.path.dirname(os.path.abspath(__file__))
WORKSPACE = os.path.dirname(os.path.dirname(HERE))
BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"
BATCH_SPANS = 100  # micro::BATCH_SPANS

# (row label, unit divisor, {column: config id})
COLUMNS = ["xray", "raw SDK", "tracing-otel", "fastrace", "opentelemetry-aws"]
ROWS = [
    ("sampled span, new trace per call (no current span)", 1,
     {"xray": "xray_sampled", "raw SDK": "otel_sampled", "tracing-otel": "tracing_sampled"}),
    ("sampled child span (long-lived root)¹", 1,
     {"xray": "xray_child_sampled", "raw SDK": "otel_child_sampled", "fastrace": "fastrace_child"}),
    ("sampled-out span (AlwaysOff)", 1,
     {"xray": "xray_unsampled", "raw SDK": "otel_unsampled", "tracing-otel": "tracing_unsampled"}),
    ("sampled-out child (unsampled root)", 1, {"xray": "xray_child_unsampled"}),
    ("disabled: no provider / subscriber / reporter", 1,
     {"xray": "xray_noprovider", "raw SDK": "otel_noop", "tracing-otel": "tracing_nosubscriber",
      "fastrace": "fastrace_disabled"}),
    ("disabled: `OTEL_SDK_DISABLED=true`", 1, {"xray": "xray_sdk_disabled"}),
    ("nested 1+10, sampled (per iteration)²", 1,
     {"xray": "xray_nested", "raw SDK": "otel_nested", "tracing-otel": "tracing_nested",
      "fastrace": "fastrace_nested"}),
    ("nested 1+10, sampled-out (per iteration)", 1,
     {"xray": "xray_nested_unsampled", "raw SDK": "otel_nested_unsampled",
      "tracing-otel": "tracing_nested_unsampled"}),
    ("nested 1+10, disabled (per iteration)", 1,
     {"xray": "xray_nested_noprovider", "raw SDK": "otel_nested_noop"}),
    ("root per call, sampled³", 1,
     {"xray": "xray_root_sampled", "raw SDK": "otel_sampled", "fastrace": "fastrace_root"}),
    ("root per call, sampled-out", 1, {"xray": "xray_root_unsampled"}),
    ("root per call, disabled", 1, {"xray": "xray_root_noprovider"}),
    ("X-Ray trace id⁴", 1,
     {"xray": "id_xray", "raw SDK": "id_sdk_random", "opentelemetry-aws": "id_aws"}),
    ("header parse", 1, {"xray": "parse_xray", "opentelemetry-aws": "parse_aws"}),
    ("header format", 1, {"xray": "format_xray", "opentelemetry-aws": "format_aws"}),
    ("propagator extract (HashMap)", 1, {"xray": "extract_xray", "opentelemetry-aws": "extract_aws"}),
    ("propagator inject (HashMap)", 1, {"xray": "inject_xray", "opentelemetry-aws": "inject_aws"}),
    ("console exporter, per span⁵", BATCH_SPANS, {"xray": "console_batch"}),
    ("JSON exporter, per span⁵", BATCH_SPANS, {"xray": "json_batch"}),
    ("baseline: plain call", 1, {"xray": "plain", "raw SDK": "plain", "tracing-otel": "plain",
                                 "fastrace": "plain", "opentelemetry-aws": "plain"}),
    ("baseline: 11 plain calls", 1, {"xray": "plain_nested", "raw SDK": "plain_nested",
                                     "tracing-otel": "plain_nested", "fastrace": "plain_nested"}),
]
DIVISOR = {"console_batch": BATCH_SPANS, "json_batch": BATCH_SPANS}


def read_criterion(target):
    out = {}
    for path in glob.glob(os.path.join(target, "criterion", "*", "new", "estimates.json")):
        bench = os.path.basename(os.path.dirname(os.path.dirname(path)))
        try:
            with open(path, encoding="utf-8") as f:
                est = json.load(f)["median"]
            ci = est["confidence_interval"]
            out[bench] = (est["point_estimate"], ci["lower_bound"], ci["upper_bound"])
        except (OSError, KeyError, ValueError):
            continue
    return out


def read_tsv(path, key):
    rows = {}
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines:
        return rows
    if key is None:  # headerless exported.tsv: id, started, exported, lost, pct
        for line in lines:
            parts = line.split("\t")
            if len(parts) >= 5:
                rows[parts[0]] = parts
        return rows
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        if key in row:
            rows[row[key]] = row
    return rows


def ns(v):
    if v is None:
        return "-"
    if v >= 10_000:
        return f"{v / 1000:,.1f} µs"
    if v >= 100:
        return f"{v:,.0f} ns"
    return f"{v:.1f} ns"


def num(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


class Data:
    def __init__(self, target):
        self.crit = read_criterion(target)
        self.cg = read_tsv(os.path.join(target, "xray-bench", "callgrind.tsv"), "config")
        self.exported = read_tsv(os.path.join(target, "xray-bench", "exported.tsv"), None)

    def median(self, cid, div=1):
        c = self.crit.get(cid)
        return None if c is None else c[0] / div

    def ci(self, cid, div=1):
        c = self.crit.get(cid)
        return None if c is None else (c[1] / div, c[2] / div)

    def cgv(self, cid, col, div=1):
        row = self.cg.get(cid)
        try:
            return float(row[col]) / div
        except (TypeError, KeyError, ValueError):
            return None


RULES_BUDGET_NS = 100


def rules_section(d):
    """What deciding a root by 20 X-Ray sampling rules adds to the same root
    under `parentbased_always_on` (the budget: at most 100 ns), and what a
    child under each costs."""
    lines = [
        "| span | criterion median [95% CI] | instr/call caller | added to the same span under "
        "`parentbased_always_on` | within budget |",
        "|---|---|---|---|---|",
    ]
    rows = (
        ("root, `parentbased_always_on`", "xray_http_root_always_on", None),
        ("root, 20 rules, the match last, sampled", "xray_http_root_rules_sampled",
         "xray_http_root_always_on"),
        ("root, 20 rules, the match last, sampled out", "xray_http_root_rules_unsampled",
         "xray_http_root_always_on"),
        ("child of a long-lived root, `parentbased_always_on`", "xray_child_always_on", None),
        ("child of a long-lived root the rules sampled", "xray_child_rules", "xray_child_always_on"),
    )
    for label, cid, base in rows:
        t, i = d.median(cid), d.cgv(cid, "instr_caller")
        ci = d.ci(cid)
        span = "-" if ci is None else f"{ns(t)} [{ns(ci[0])}, {ns(ci[1])}]"
        t0 = None if base is None else d.median(base)
        i0 = None if base is None else d.cgv(base, "instr_caller")
        if None in (t, t0):
            added, within = "", ""
        else:
            dt = t - t0
            di = "" if None in (i, i0) else f" · {i - i0:+,.0f} i"
            added = f"{dt:+,.1f} ns{di}"
            if cid.startswith("xray_child"):
                # A child costs what it cost: the same instructions (the
                # time differs by the noise of the two runs).
                same = None not in (i, i0) and abs(i - i0) < 2
                within = "same instructions: " + ("yes" if same else "**no**")
            else:
                within = f"≤ {RULES_BUDGET_NS} ns: " + ("yes" if dt <= RULES_BUDGET_NS else "**no**")
        lines.append(f"| {label} | {span} | {num(i, 1)} | {added} | {within} |")
    return "\n".join(lines)


def main_table(d):
    head = "| per call | " + " | ".join(
        ["xray", "xray ÷ raw SDK", "raw SDK", "tracing-otel", "fastrace", "opentelemetry-aws"]) + " |"
    lines = [head, "|" + "---|" * 7]
    for label, div, cols in ROWS:
        cells = []
        for col in COLUMNS:
            cid = cols.get(col)
            if cid is None:
                cells.append("")
                continue
            t, i = d.median(cid, div), d.cgv(cid, "instr_caller", div)
            cells.append(f"{ns(t)} · {num(i)} i")
            if col == "xray":
                sdk = cols.get("raw SDK")
                if sdk and not cid.startswith("plain") and sdk != "id_sdk_random":
                    ts, is_ = d.median(sdk, div), d.cgv(sdk, "instr_caller", div)
                    r_t = f"{t / ts:.2f}×" if t and ts else "-"
                    r_i = f"{i / is_:.2f}×" if i and is_ else "-"
                    cells.append(f"{r_t} · {r_i}")
                else:
                    cells.append("")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(d):
    lines = [
        "| configuration | criterion median [95% CI] | instr/call caller | instr/call all threads "
        "| clock reads/call | allocs/call (bytes) | spans lost in the criterion run |",
        "|---|---|---|---|---|---|---|",
    ]
    ids = sorted(set(d.crit) | set(d.cg))
    order = {cid: n for n, cid in enumerate(_probe_order())}
    ids.sort(key=lambda c: (order.get(c, 999), c))
    for cid in ids:
        ci = d.ci(cid)
        t = d.median(cid)
        crit = "-" if t is None else f"{ns(t)} [{ns(ci[0])}, {ns(ci[1])}]"
        allocs, bytes_ = d.cgv(cid, "allocs"), d.cgv(cid, "bytes")
        alloc = "-" if allocs is None else f"{allocs:.2f} ({bytes_:,.0f} B)"
        exp = d.exported.get(cid)
        lost = "" if exp is None else f"{int(exp[3]):,} of {int(exp[1]):,} ({float(exp[4]):.1f}%)"
        lines.append(
            f"| `{cid}` | {crit} | {num(d.cgv(cid, 'instr_caller'), 1)} | {num(d.cgv(cid, 'instr_all'), 1)} "
            f"| {num(d.cgv(cid, 'clock_reads'), 2)} | {alloc} | {lost} |")
    return "\n".join(lines)


def _probe_order():
    return [cid for _, _, cols in ROWS for cid in cols.values()]


def annotate(dump):
    """{function: (inclusive Ir, self Ir)} of one callgrind dump."""
    out = {}
    for inclusive in (True, False):
        try:
            text = subprocess.run(
                ["callgrind_annotate", "--auto=no", f"--inclusive={'yes' if inclusive else 'no'}",
                 "--threshold=100", dump],
                capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return {}
        for line in text.splitlines():
            m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?)(?:\s+\[[^\]]*\])?\s*$", line)
            if not m or ":" not in m.group(2) or m.group(2).startswith("=>"):
                continue
            fn = m.group(2).split(":", 1)[1] if not m.group(2).startswith("???") else m.group(2)
            ir = int(m.group(1).replace(",", ""))
            inc, slf = out.get(fn, (0, 0))
            # Inlined code is listed once per source file: inclusive costs
            # of one function overlap (take the largest), self costs add up.
            out[fn] = (max(inc, ir), slf) if inclusive else (inc, slf + ir)
    return out


def where_time_goes(target, config="xray_sampled"):
    row = Data(target).cg.get(config)
    if row is None:
        return "(no callgrind results for `%s`: run `bash tests/bench/callgrind.sh %s`)" % (config, config)
    n = int(row["n"])
    base = os.path.join(target, "xray-bench", "callgrind", config)
    full, zero = glob.glob(f"{base}.{n}.out-01"), glob.glob(f"{base}.0.out-01")
    if not full or not zero:
        return "(callgrind dumps of `%s` not found)" % config
    a, b = annotate(full[0]), annotate(zero[0])
    per_call = {}
    for fn in set(a) | set(b):
        inc = (a.get(fn, (0, 0))[0] - b.get(fn, (0, 0))[0]) / n
        slf = (a.get(fn, (0, 0))[1] - b.get(fn, (0, 0))[1]) / n
        if inc >= 1 or slf >= 1:
            per_call[fn] = (inc, slf)
    total = float(row["instr_caller"])
    skip = re.compile(r"measured_loop|probe::run|probe::main|probe::probe|lang_start|"
                      r"__libc_start|^main$|_start$|call_once|rust_begin|below main|^0x|^\?\?\?")
    inc = sorted(((v[0], fn) for fn, v in per_call.items() if not skip.search(fn)), reverse=True)[:30]
    slf = sorted(((v[1], fn) for fn, v in per_call.items()), reverse=True)[:25]
    out = [f"Caller thread, `{config}`, {total:,.0f} instructions per call "
           f"(callgrind_annotate of the N={n:,} and N=0 dumps, difference ÷ N).", "",
           "Inclusive (the function and what it calls):", "",
           "| instr/call | % | function |", "|---|---|---|"]
    for v, fn in inc:
        out.append(f"| {v:,.0f} | {100 * v / total:.0f}% | `{_short(fn)}` |")
    out += ["", "Self (the function's own instructions):", "",
            "| instr/call | % | function |", "|---|---|---|"]
    for v, fn in slf:
        out.append(f"| {v:,.0f} | {100 * v / total:.0f}% | `{_short(fn)}` |")
    return "\n".join(out)


def _short(fn):
    fn = fn.replace("`", "'")
    return fn if len(fn) <= 140 else fn[:137] + "..."


def _read_rows(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:] if l.strip()]


def _f(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def _rate(v):
    return "-" if v is None else f"{v:,.0f}/s"


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def _ratio_s(r):
    return "-" if r is None else f"{r:.2f}×"


def _verdict(ok):
    return "-" if ok is None else ("met" if ok else "**missed**")


CONTENDER = {"xray": "xray", "sdk": "raw SDK", "none": "no tracing"}
PROTOCOL = {"http": "OTLP/HTTP", "grpc": "OTLP/gRPC", "-": "-"}
RECEIVER = {"nagle": "Nagle on", "nodelay": "TCP_NODELAY", "-": "-"}


def _loss_free(rows, contender, proto, recv):
    """(loss-free rate, slowest lossy rate, producer-bound, per-round rates) of a series.

    A series is bisected in rounds (a `round` column; older results have one
    round): the loss-free rate of a round is its fastest step without loss (0
    if none), the series' is the median of its rounds'."""
    series = [r for r in rows if r["contender"] == contender and r["protocol"] == proto
              and r["receiver"] == recv and r["kind"] in ("max", "bisect")]
    if not series:
        return None, None, False, []
    rounds = sorted({int(r.get("round") or 0) for r in series})
    best = []
    for k in rounds:
        mine = [r for r in series if int(r.get("round") or 0) == k]
        ok = [_f(r, "rate_per_s") for r in mine if int(r["lost"]) == 0 and int(r["produced"]) > 0]
        best.append(max(ok) if ok else 0.0)
    bad = [_f(r, "rate_per_s") for r in series if int(r["lost"]) > 0]
    bound = any(r["kind"] == "max" and int(r["lost"]) == 0 for r in series)
    median = sorted(best)[len(best) // 2]
    return (median if median > 0 else None), (min(bad) if bad else None), bound, best


def _cpu_rows(rows, contender, proto, recv):
    """The CPU steps of a series (one per round), by CPU per span."""
    mine = [r for r in rows if r["contender"] == contender and r["protocol"] == proto
            and r["receiver"] == recv and r["kind"] == "cpu" and _f(r, "cpu_ns_per_span") is not None]
    return sorted(mine, key=lambda r: _f(r, "cpu_ns_per_span"))


def _cpu_row(rows, contender, proto, recv):
    """The median CPU step of a series (the middle one of its rounds)."""
    mine = _cpu_rows(rows, contender, proto, recv)
    return mine[len(mine) // 2] if mine else None


def export_section(target):
    base = os.path.join(target, "xray-bench")
    steps = _read_rows(os.path.join(base, "export-steps.tsv"))
    if steps is None:
        return "(no export-path results: run `bash tests/bench/throughput.sh`)"
    idle = _read_rows(os.path.join(base, "export-idle.tsv")) or []
    flush = _read_rows(os.path.join(base, "export-flush.tsv")) or []
    run = {r["key"]: r["value"] for r in (_read_rows(os.path.join(base, "export-run.tsv")) or [])}
    protos = [p for p in ("http", "grpc") if any(r["protocol"] == p for r in steps + idle + flush)]
    recvs = [x for x in ("nagle", "nodelay") if any(r["receiver"] == x for r in steps)]
    cpu_rate = float(run.get("cpu_rate", "0") or 0)
    out = [
        f"Options: **{run.get('options', '?')}**. One run of {run.get('total_secs', '?')} s: "
        f"CPU steps at {cpu_rate:,.0f} spans/s for {run.get('cpu_secs', '?')} s; bisection steps of "
        f"{run.get('step_secs', '?')} s ({run.get('bisect', '?')} after the flat-out one, "
        f"{run.get('rounds', '1')} round(s) per series); "
        f"idle {run.get('idle_secs', '?')} s; flush of {int(float(run.get('flush_spans', '0') or 0)):,} spans. "
        "Spans lost = made − received by the counting receiver, for both contenders.",
        "",
    ]
    if run.get("skipped"):
        out += [f"Skipped for the time budget: {run['skipped']}.", ""]

    # Targets at a glance.
    out += ["#### Targets", "",
            "| target | measured | verdict |", "|---|---|---|"]
    for proto in protos:
        for recv in recvs:
            x, s_ = _cpu_row(steps, "xray", proto, recv), _cpu_row(steps, "sdk", proto, recv)
            r = _ratio(_f(x, "cpu_ns_per_span") if x else None, _f(s_, "cpu_ns_per_span") if s_ else None)
            lossy = any(row and int(row["lost"]) > 0 for row in (x, s_))
            out.append(f"| CPU per exported span, {PROTOCOL[proto]}, {RECEIVER[recv]}: xray ≤ 0.5× SDK "
                       f"| {_ratio_s(r)}{' (a step lost spans)' if lossy else ''} "
                       f"| {_verdict(None if r is None else r <= 0.5)} |")
    for recv in recvs:
        xh = _loss_free(steps, "xray", "http", recv)[0]
        sh = _loss_free(steps, "sdk", "http", recv)[0]
        r = _ratio(xh, sh)
        if "http" in protos:
            out.append(f"| loss-free OTLP/HTTP, {RECEIVER[recv]}: xray ≥ 2× SDK | {_ratio_s(r)} "
                       f"({_rate(xh)} vs {_rate(sh)}) | {_verdict(None if r is None else r >= 2)} |")
        xg = _loss_free(steps, "xray", "grpc", recv)[0]
        r = _ratio(xg, xh)
        if "grpc" in protos:
            out.append(f"| loss-free OTLP/gRPC, {RECEIVER[recv]}: xray gRPC ≥ 0.8× xray HTTP | {_ratio_s(r)} "
                       f"({_rate(xg)} vs {_rate(xh)}) | {_verdict(None if r is None else r >= 0.8)} |")
    for r in idle:
        v = _f(r, "cpu_ms_per_s")
        out.append(f"| idle, {CONTENDER[r['contender']]} {PROTOCOL[r['protocol']]}: < 1 ms CPU/s "
                   f"| {'-' if v is None else f'{v:.3f} ms/s'} | {_verdict(None if v is None else v < 1)} |")
    for r in flush:
        cpu = (_f(r, "flush_cpu_user_ms") or 0) + (_f(r, "flush_cpu_sys_ms") or 0)
        out.append(f"| flush {int(r['spans']):,} spans, {CONTENDER[r['contender']]} {PROTOCOL[r['protocol']]}: "
                   f"< 1 s CPU | {cpu:,.0f} ms CPU, {_f(r, 'drained_ms') or 0:,.0f} ms wall "
                   f"| {_verdict(cpu < 1000 and int(r['lost']) == 0)} |")
    out.append("")

    # CPU per span.
    out += [f"#### CPU per exported span at {cpu_rate:,.0f} spans/s", "",
            "User + system CPU time of the whole step process (all threads, from start to after "
            "shutdown) ÷ spans the receiver got: the median of the rounds (in brackets each "
            "round's, lowest first).", "",
            "| protocol | receiver | xray | raw SDK | xray ÷ SDK | lost (xray · SDK) | bytes/span (xray · SDK) |",
            "|---|---|---|---|---|---|---|"]
    for proto in protos:
        for recv in recvs:
            x, s_ = _cpu_row(steps, "xray", proto, recv), _cpu_row(steps, "sdk", proto, recv)
            if not x and not s_:
                continue
            cx = _f(x, "cpu_ns_per_span") if x else None
            cs = _f(s_, "cpu_ns_per_span") if s_ else None

            def lost(row):
                return "-" if not row else f"{int(row['lost']):,}"

            def bps(row):
                if not row or not int(row["received"]):
                    return "-"
                return f"{int(row['body_bytes']) / int(row['received']):.1f}"
            def cell(v, contender):
                if v is None:
                    return "-"
                every = _cpu_rows(steps, contender, proto, recv)
                if len(every) < 2:
                    return f"{v:,.0f} ns"
                rounds = " · ".join(f"{_f(r, 'cpu_ns_per_span'):,.0f}" for r in every)
                return f"{v:,.0f} ns ({rounds})"
            out.append(f"| {PROTOCOL[proto]} | {RECEIVER[recv]} | {cell(cx, 'xray')} "
                       f"| {cell(cs, 'sdk')} | {_ratio_s(_ratio(cx, cs))} "
                       f"| {lost(x)} · {lost(s_)} | {bps(x)} · {bps(s_)} |")
    base_row = next((r for r in steps if r["kind"] == "baseline"), None)
    if base_row:
        out += ["", f"Floor: the same paced loop with no tracing (process start, the pacer's sleeps) "
                    f"costs {_f(base_row, 'cpu_ns_per_span') or 0:,.0f} ns per call."]
    # The baseline, then each series' median CPU step.
    cpu_rows = [r for r in steps if r["kind"] == "baseline"][:1]
    for proto in protos:
        for recv in recvs:
            for c in ("xray", "sdk"):
                row = _cpu_row(steps, c, proto, recv)
                if row is not None:
                    cpu_rows.append(row)
    cpu_rows = [r for r in cpu_rows if r.get("thread_cpu_ms")]
    if cpu_rows:
        out += ["", "Where it goes: CPU time of each thread alive before shutdown, by name (the "
                    "scheduler's run time; the kernel cuts names at 15 characters; `throughput` is the thread "
                    "making the spans), in the median CPU step of each series.", "",
                "| contender | protocol | receiver | whole process | by thread |", "|---|---|---|---|---|"]
        for r in cpu_rows:
            threads = ", ".join(f"{name} {ms} ms" for name, ms in
                                (t.rsplit(":", 1) for t in r["thread_cpu_ms"].split(",") if ":" in t))
            total = (_f(r, "cpu_user_ms") or 0) + (_f(r, "cpu_sys_ms") or 0)
            out.append(f"| {CONTENDER[r['contender']]} | {PROTOCOL[r['protocol']]} "
                       f"| {RECEIVER.get(r['receiver'], r['receiver'])} | {total:,.0f} ms | {threads} |")
    out.append("")

    # Loss-free throughput.
    out += ["#### Highest loss-free rate, one producer thread", "",
            "Flat out first, then target rates bisected between the fastest loss-free and the "
            "slowest lossy step, in rounds that take turns over the series. In bold the median of "
            "the rounds' fastest loss-free steps; in brackets each round's, and the slowest lossy "
            "step of all. (One stall of a few milliseconds in a step of seconds overflows the "
            "export queue at these rates, and such stalls come and go with the machine's other "
            "work: a single bisection moves by up to a third from run to run.)", "",
            "| protocol | receiver | xray | raw SDK | xray ÷ SDK |", "|---|---|---|---|---|"]
    for proto in protos:
        for recv in recvs:
            cells = []
            rates = []
            for c in ("xray", "sdk"):
                ok, bad, bound, best = _loss_free(steps, c, proto, recv)
                rates.append(ok)
                cell = f"**{_rate(ok)}**" if ok is not None else "none loss-free"
                notes = []
                if len(best) > 1:
                    notes.append("rounds " + " · ".join(_rate(b) if b else "none" for b in best))
                if bound:
                    notes.append("producer flat out, no loss")
                elif bad is not None:
                    notes.append(f"lossy at {_rate(bad)}")
                if notes:
                    cell += f" ({'; '.join(notes)})"
                cells.append(cell)
            out.append(f"| {PROTOCOL[proto]} | {RECEIVER[recv]} | {cells[0]} | {cells[1]} "
                       f"| {_ratio_s(_ratio(rates[0], rates[1]))} |")
    out.append("")

    # Idle.
    if idle:
        out += ["#### Idle", "",
                f"`init` with the OTLP exporter, then {run.get('idle_secs', '?')} s asleep: CPU used while asleep.", "",
                "| contender | protocol | CPU per second asleep | CPU of init | peak RSS |",
                "|---|---|---|---|---|"]
        for r in idle:
            out.append(f"| {CONTENDER[r['contender']]} | {PROTOCOL[r['protocol']]} "
                       f"| {_f(r, 'cpu_ms_per_s') or 0:.3f} ms/s | {_f(r, 'init_cpu_ms') or 0:.2f} ms "
                       f"| {int(r['peak_rss_kib']):,} KiB |")
        out.append("")

    # Flush.
    if flush:
        out += [f"#### Flushing {int(float(run.get('flush_spans', '0') or 0)):,} pending spans", "",
                "`OTEL_BSP_MAX_QUEUE_SIZE=1048576`, `OTEL_BSP_SCHEDULE_DELAY=600000`: the spans are made "
                "flat out, then flushed. Pending = made − exported when the flush starts (each contender "
                "exports full batches while the spans are made). Until exported: wall time from the "
                "flush call until the contender counted every span exported (the SDK's `force_flush` "
                "gives up after 5 s, its worker goes on). CPU: the whole process over that time.", "",
                "| contender | protocol | made in | pending at flush | flush call | until exported | CPU (user + sys) | received | lost |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in flush:
            cpu_u, cpu_s = _f(r, "flush_cpu_user_ms") or 0, _f(r, "flush_cpu_sys_ms") or 0
            call = f"{_f(r, 'flush_ms') or 0:,.0f} ms" + ("" if r["flush_ok"] == "true" else " (error)")
            out.append(f"| {CONTENDER[r['contender']]} | {PROTOCOL[r['protocol']]} "
                       f"| {_f(r, 'make_secs') or 0:.2f} s | {int(r['pending_at_flush']):,} | {call} "
                       f"| {_f(r, 'drained_ms') or 0:,.0f} ms | {cpu_u + cpu_s:,.0f} ms ({cpu_u:,.0f} + {cpu_s:,.0f}) "
                       f"| {int(r['received']):,} | {int(r['lost']):,} |")
        out.append("")

    # What the receivers saw of the secure options.
    if run.get("options", "plain") != "plain":
        out += ["#### What the receivers saw", "",
                "| contender | protocol | requests | gzip | SigV4-signed | rejected | TLS handshakes failed | spans |",
                "|---|---|---|---|---|---|---|---|"]
        for c in ("xray", "sdk"):
            for proto in protos:
                mine = [r for r in steps if r["contender"] == c and r["protocol"] == proto]
                if not mine:
                    continue
                tot = {k: sum(int(r[k]) for r in mine) for k in
                       ("requests", "gzip_requests", "signed_requests", "rejected_requests", "tls_failures",
                        "received")}
                out.append(f"| {CONTENDER[c]} | {PROTOCOL[proto]} | {tot['requests']:,} | {tot['gzip_requests']:,} "
                           f"| {tot['signed_requests']:,} | {tot['rejected_requests']:,} | {tot['tls_failures']:,} "
                           f"| {tot['received']:,} |")
        out.append("")

    # Every step.
    out += ["#### Every step", "",
            "| contender | protocol | receiver | step | target | made | achieved | received | lost | CPU | CPU/span | requests | peak RSS |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rounds = len({r.get("round") for r in steps if r["kind"] in ("max", "bisect")}) > 1
    for r in steps:
        made, lost = int(r["produced"]), int(r["lost"])
        tgt = _f(r, "target_per_s") or 0
        kind = r["kind"]
        if rounds and kind in ("cpu", "max", "bisect"):
            kind += f" {int(r.get('round') or 0) + 1}"
        cpu = (_f(r, "cpu_user_ms") or 0) + (_f(r, "cpu_sys_ms") or 0)
        per = _f(r, "cpu_ns_per_span")
        received = "-" if r["contender"] == "none" else f"{int(r['received']):,}"
        lost_s = "-" if r["contender"] == "none" else f"{lost:,} ({100 * lost / max(made, 1):.1f}%)"
        out.append(f"| {CONTENDER[r['contender']]} | {PROTOCOL[r['protocol']]} | {RECEIVER.get(r['receiver'], r['receiver'])} "
                   f"| {kind} | {'max' if tgt == 0 else f'{tgt:,.0f}/s'} | {made:,} | {_f(r, 'rate_per_s') or 0:,.0f}/s "
                   f"| {received} | {lost_s} | {cpu:,.0f} ms | {'-' if per is None else f'{per:,.0f} ns'} "
                   f"| {int(r['requests']):,} | {int(r['peak_rss_kib']):,} KiB |")
    return "\n".join(out)


SECURE_ORDER = ["plain", "gzip", "tls", "gzip+tls", "gzip+tls+sigv4", "tls+sigv4", "sigv4", "gzip+sigv4"]


def _options_runs(base):
    """{options label: file prefix} of every throughput run whose results exist."""
    found = {}
    for path in glob.glob(os.path.join(base, "export*-steps.tsv")) + \
            glob.glob(os.path.join(base, "export*-instr.tsv")):
        name = os.path.basename(path)
        prefix = name.rsplit("-", 1)[0]
        label = "plain" if prefix == "export" else prefix[len("export-"):]
        found[label] = prefix
    return dict(sorted(found.items(), key=lambda kv: (
        SECURE_ORDER.index(kv[0]) if kv[0] in SECURE_ORDER else len(SECURE_ORDER), kv[0])))


def _instr_per_span(row):
    """Instructions per exported span of a pair of callgrind runs: the
    difference of their totals, less what each spent in code that spins
    for a fixed time (see cg.CTOR), ÷ the difference of the spans."""
    try:
        runs = [cg.parse_dump(row[k]) for k in ("dump_short", "dump_long")]
        n_short, n_long = int(row["spans_short"]), int(row["spans_long"])
    except (KeyError, OSError, ValueError):
        return None
    (t_s, spin_s, _), (t_l, spin_l, _) = runs
    if n_long <= n_short or t_s == 0 or t_l == 0:
        return None
    return ((t_l - spin_l) - (t_s - spin_s)) / (n_long - n_short)


def secure_section(target):
    """The export path with each set of options next to the plain one."""
    base = os.path.join(target, "xray-bench")
    runs = _options_runs(base)
    if not any(label != "plain" for label in runs):
        return ("(no secure-path results: run `bash tests/bench/throughput.sh --gzip`, "
                "`--tls`, `--gzip --tls --sigv4`)")
    out = ["Each set of options in its own run (`throughput.sh` with those options; receivers with "
           "TCP_NODELAY), the same steps for both contenders. **CPU/span**: the CPU step, user + system "
           "time of the whole process ÷ spans received. **Loss-free**: highest loss-free rate of the "
           "bisection. **Instructions/span**: every thread of the step process under callgrind "
           "(`--instructions`: 1,000 spans/s for 2 s and for 6 s; the difference of the two runs' "
           "instructions ÷ the difference of the spans received, so start, TLS handshake, credentials "
           "and shutdown cancel, less code that spins for a fixed time; the paced loop without tracing costs "
           "FLOOR instructions per call). **Requests**: what the receivers saw "
           "of xray's and the SDK's requests: gzip-encoded, SigV4-signed (signatures are checked "
           "in `tests/secure`, not here).", "",
           "| options | protocol | CPU/span xray · SDK | xray ÷ SDK | loss-free xray · SDK | xray ÷ SDK "
           "| instructions/span xray · SDK | xray ÷ SDK | requests xray · SDK: gzip, signed |",
           "|---|---|---|---|---|---|---|---|---|"]
    floor = None
    for label, prefix in runs.items():
        steps = _read_rows(os.path.join(base, f"{prefix}-steps.tsv")) or []
        instr = _read_rows(os.path.join(base, f"{prefix}-instr.tsv")) or []
        for r in instr:
            r["instr_per_span"] = _instr_per_span(r)
            if r["contender"] == "none" and r["instr_per_span"] is not None:
                floor = r["instr_per_span"]
        for proto in ("http", "grpc"):
            mine = [r for r in steps if r["protocol"] == proto]
            mine_i = [r for r in instr if r["protocol"] == proto]
            if not mine and not mine_i:
                continue
            recv = "nodelay" if any(r["receiver"] == "nodelay" for r in mine) else "nagle"
            cells = []
            cpu = {c: _cpu_row(mine, c, proto, recv) for c in ("xray", "sdk")}
            cpu = {c: (_f(r, "cpu_ns_per_span") if r else None) for c, r in cpu.items()}
            cells.append(" · ".join("-" if v is None else f"{v:,.0f} ns" for v in cpu.values()))
            cells.append(_ratio_s(_ratio(cpu["xray"], cpu["sdk"])))
            lf = {c: _loss_free(mine, c, proto, recv)[0] for c in ("xray", "sdk")}
            cells.append(" · ".join(_rate(v) for v in lf.values()))
            cells.append(_ratio_s(_ratio(lf["xray"], lf["sdk"])))
            ins = {c: next((r["instr_per_span"] for r in mine_i if r["contender"] == c), None)
                   for c in ("xray", "sdk")}
            cells.append(" · ".join("-" if v is None else f"{v:,.0f}" for v in ins.values()))
            cells.append(_ratio_s(_ratio(ins["xray"], ins["sdk"])))
            seen = []
            for c in ("xray", "sdk"):
                rows = [r for r in mine if r["contender"] == c]
                req = sum(int(r["requests"]) for r in rows)
                seen.append(f"{sum(int(r['gzip_requests']) for r in rows):,}/{req:,}, "
                            f"{sum(int(r['signed_requests']) for r in rows):,}/{req:,}" if rows else "-")
            cells.append(" · ".join(seen))
            shown = label
            if proto == "grpc" and "sigv4" in label:
                shown = label.replace("+sigv4", "") + " (gRPC is not signed)"
            out.append(f"| {shown} | {PROTOCOL[proto]} | " + " | ".join(cells) + " |")
    out[0] = out[0].replace("FLOOR", "-" if floor is None else f"{floor:,.0f}")
    return "\n".join(out)


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mhz = sh("grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2").strip()
    clock = sh("cat /sys/devices/system/clocksource/clocksource0/current_clocksource")
    mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
    return (f"{sh('nproc')} vCPU, {cpu} ({mhz} MHz), clocksource `{clock}`, {mem}, "
            f"Linux {platform.release()}, `{sh('rustc --version')}`, `{sh('valgrind --version')}`")


def render(target, label):
    d = Data(target)
    parts = [
        BEGIN,
        "",
        f"**{label}**",
        "",
        f"Machine: {machine()}.",
        "",
        "### Per call: criterion median · callgrind instructions (caller thread)",
        "",
        "Cells: `median ns · instructions per call on the calling thread` (instructions include "
        "the probe loop, see the baseline rows). `xray ÷ raw SDK`: time ratio · instruction ratio.",
        "",
        main_table(d),
        "",
        "¹ fastrace: its `#[trace]` records only under a local parent; the root is recycled every "
        "1000 calls and its cost is included (1/1000 per call). "
        "² fastrace: a root per iteration + 10 `#[trace]` children. "
        "³ raw SDK: the sampled span row again (with no current span every `tracer.start` is a root). "
        "⁴ raw SDK column: the SDK's `RandomIdGenerator` (not an X-Ray id: no timestamp), for scale. "
        "⁵ batches of 100 prepared spans (10 traces of 1 root + 9 children, 3 attributes each) "
        "exported to `io::sink()`; per span = per batch ÷ 100.",
        "",
        "### X-Ray sampling rules: what deciding a root costs",
        "",
        "The root of `#[xray_root(attrs(http.request.method = \"GET\", url.path = ...))]`, decided by "
        "20 rules with wildcard paths (the matching rule last, then `Default`), next to the same root "
        "under `parentbased_always_on`; and a `#[traced]` child under a root of each "
        "(`benches/xray_rules.rs`). What is compared is the calling thread's work, so these spans are "
        "timed in runs of 1,000 calls with a flush in between, untimed (every sampled span is "
        "exported, and the export thread does not run while the clock does), in a process kept to "
        "one CPU (the memory the export thread frees is not fetched back from the other core's "
        "cache). Their figures are therefore lower than the rows above, which are timed while the "
        "export thread runs on the other core; timed that way, a sampled root moves from run to run "
        "by more than the rules cost (by how many spans the export thread happens to take and free "
        "meanwhile).",
        "",
        rules_section(d),
        "",
        "### Every configuration",
        "",
        detail_table(d),
        "",
        "### Where xray's time goes (sampled span)",
        "",
        where_time_goes(target),
        "",
        "### Export path: xray next to the raw OpenTelemetry SDK over OTLP",
        "",
        export_section(target),
        "",
        "### The secure path: gzip, TLS, SigV4, next to the plain path",
        "",
        secure_section(target),
        "",
        END,
    ]
    return "\n".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default=None)
    ap.add_argument("--label", default=None)
    ap.add_argument("--stdout", action="store_true")
    args = ap.parse_args()
    target = args.target
    if target is None:
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                              cwd=WORKSPACE, capture_output=True, text=True, check=True).stdout
        target = json.loads(meta)["target_directory"]
    label = args.label or (
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d} (UTC), "
        f"xray-runtime at `{_git_rev()}`.")
    text = render(target, label)
    if args.stdout:
        print(text)
        return
    path = os.path.join(WORKSPACE, "BENCHMARKS.md")
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{path} has no {BEGIN} ... {END} section")
    doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)
    print(f"updated {path}")


def _git_rev():
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=WORKSPACE,
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""
    return rev or "unknown revision"


if __name__ == "__main__":
    main()
