#!/usr/bin/env python3
"""Collects the benchmark results into BENCHMARKS.md.

    python3 tests/bench/report.py [--label TEXT] [--stdout] [--target DIR]

Reads
  <target>/criterion/<id>/new/estimates.json   criterion medians (cargo bench -p xray-bench)
  <target>/xray-bench/callgrind.tsv            instructions per call (tests/bench/callgrind.sh)
  <target>/xray-bench/callgrind/*.out-01       the dumps, for "where xray's time goes"
  <target>/xray-bench/exported.tsv             spans lost by the criterion runs
  <target>/xray-bench/throughput.tsv           OTLP throughput (tests/bench/throughput.sh)
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


def throughput_section(target):
    path = os.path.join(target, "xray-bench", "throughput.tsv")
    if not os.path.exists(path):
        return "(no throughput results: run `bash tests/bench/throughput.sh`)"
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, l.split("\t"))) for l in lines[1:] if l.strip()]
    out = ["| protocol | step | target spans/s | made | achieved spans/s | lost | lost % | peak RSS (VmHWM) | shutdown |",
           "|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for proto in sorted({r["protocol"] for r in rows}):
        mine = [r for r in rows if r["protocol"] == proto]
        for r in mine:
            made, lost = int(r["produced"]), int(r["lost"])
            target_s = "max" if float(r["target_per_s"]) == 0 else f"{float(r['target_per_s']):,.0f}"
            out.append(f"| {proto} | {r['kind']} | {target_s} | {made:,} | {float(r['rate_per_s']):,.0f} "
                       f"| {lost:,} | {100 * lost / max(made, 1):.1f}% | {int(r['peak_rss_kib']):,} KiB "
                       f"| {r['shutdown_ms']} ms |")
        ok = [float(r["rate_per_s"]) for r in mine if int(r["lost"]) == 0]
        bad = [float(r["rate_per_s"]) for r in mine if int(r["lost"]) > 0]
        mx = [r for r in mine if r["kind"] == "max"]
        rss = max(int(r["peak_rss_kib"]) for r in mine)
        line = f"* **{proto}**:"
        if mx:
            made = max(int(mx[0]["produced"]), 1)
            line += (f" producer flat out {float(mx[0]['rate_per_s']):,.0f} spans/s"
                     f" ({100 * int(mx[0]['lost']) / made:.0f}% lost);")
        if ok:
            line += f" highest loss-free step **{max(ok):,.0f} spans/s**"
        else:
            line += " no loss-free step"
        if bad:
            line += f"; slowest lossy step **{min(bad):,.0f} spans/s**"
        summary.append(line)
        summary[-1] += f"; peak RSS at most {rss:,} KiB."
    return "\n".join(summary + [""] + out)


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
        "### Every configuration",
        "",
        detail_table(d),
        "",
        "### Where xray's time goes (sampled span)",
        "",
        where_time_goes(target),
        "",
        "### Export throughput over OTLP (rotel collector, blackhole exporter)",
        "",
        throughput_section(target),
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
