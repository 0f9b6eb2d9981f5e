#!/usr/bin/env python3
"""Instructions per call under callgrind, for each probe configuration.

Run through tests/bench/callgrind.sh (which builds the probe first):

    bash tests/bench/callgrind.sh                 # every configuration
    bash tests/bench/callgrind.sh xray_sampled otel_sampled:200000

For each configuration the probe runs twice under
`valgrind --tool=callgrind --separate-threads=yes`: with N=0 and with N
measured calls. Both runs do the same setup, 10 000 warm-up calls, flush
and shutdown, so (I(N) - I(0)) / N is the cost of one call:

* caller thread = thread 1's dump (the thread making the calls);
* all threads   = the sum over every thread's dump (adds the batch
  worker's / collector's work per span).

fastant (linked into the probe by fastrace) calibrates the TSC in a
constructor that spins for a fixed *time*, so its instruction count varies
between runs (xray's clock may spin once too); the inclusive cost of such
functions (CTOR below) is subtracted from every thread in every run, and
their Instant::now calls from thread 1's clock reads. Clock reads = calls to clock_gettime on thread 1, (C(N) - C(0)) / N. Allocations per call come from the probe's counting
allocator (thread 1, measured calls only), printed by the probe itself.

Results: a table on stdout and <target>/xray-bench/callgrind.tsv (merged
with earlier results, one line per configuration); the dumps are kept in
<target>/xray-bench/callgrind/ for callgrind_annotate.
"""

import concurrent.futures
import glob
import os
import re
import subprocess
import sys

# Configuration -> N. Nested rows make 11 spans per call; exporter rows
# export one batch of 100 spans per call (N <= 400 batches).
DEFAULT_N = 100_000
CONFIG_N = {
    "plain_nested": 20_000,
    "xray_nested": 20_000,
    "xray_nested_unsampled": 20_000,
    "xray_nested_noprovider": 20_000,
    "xray_nested_sdk_disabled": 20_000,
    "otel_nested": 20_000,
    "otel_nested_unsampled": 20_000,
    "otel_nested_noop": 20_000,
    "tracing_nested": 20_000,
    "tracing_nested_unsampled": 20_000,
    "fastrace_nested": 20_000,
    "console_batch": 200,
    "json_batch": 200,
}
# Enough for every span of the largest run (warm-up included) under
# valgrind, where the batch worker rarely gets to run.
QUEUE_SIZE = "1500000"

# Functions that spin for a fixed *time* (TSC calibration), so their
# instruction counts vary from run to run: fastant's constructor (fastrace)
# and xray's one-off tick-rate guess. Their inclusive cost, and their clock
# reads, are subtracted from every thread.
CTOR = re.compile(r"fastant.*tsc_now.*init|clock::first_rate_guess")
CLOCK = "clock_gettime"


def parse_dump(path):
    """Returns (total Ir, Ir of the fastant constructor, clock_gettime calls)."""
    names = {}
    total = 0
    ctor = 0
    clock_calls = 0
    fn = ""
    cfn = ""
    pending_call = False

    def resolve(spec):
        m = re.match(r"\((\d+)\)(?: (.*))?$", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "")

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if pending_call:
                pending_call = False
                parts = line.split()
                if len(parts) >= 2 and CTOR.search(cfn) and not CTOR.search(fn):
                    ctor += int(parts[1])
                continue
            if line.startswith("fn="):
                fn = resolve(line[3:].rstrip("\n"))
            elif line.startswith("cfn="):
                cfn = resolve(line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                pending_call = True
                count = int(line[6:].split()[0])
                if CLOCK in cfn and CLOCK not in fn:
                    clock_calls += count
                # The constructor's own clock reads (one per Instant::now).
                if CTOR.search(fn) and "::now" in cfn:
                    clock_calls -= count
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = max(total, int(line.split()[1]))
    return total, ctor, clock_calls


def probe_line(text):
    for line in text.splitlines():
        if line.startswith("config="):
            return dict(kv.split("=", 1) for kv in line.split())
    return None


def run_one(probe, outdir, config, n):
    prefix = os.path.join(outdir, f"{config}.{n}")
    for old in glob.glob(prefix + ".out*"):
        os.remove(old)
    env = dict(os.environ, OTEL_BSP_MAX_QUEUE_SIZE=QUEUE_SIZE)
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            f"--callgrind-out-file={prefix}.out",
            probe,
            config,
            str(n),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{config} N={n} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    dumps = sorted(glob.glob(prefix + ".out-*"))
    if not dumps:
        raise RuntimeError(f"{config} N={n}: no callgrind dump in {outdir}")
    threads = [parse_dump(d) for d in dumps]
    caller_total, ctor, clocks = threads[0]
    all_total = sum(t[0] - t[1] for t in threads)
    notes = [l for l in proc.stderr.splitlines() if l.startswith("xray:")]
    return {
        "caller": caller_total - ctor,
        "all": all_total,
        "clocks": clocks,
        "threads": len(dumps),
        "probe": probe_line(proc.stdout) or {},
        "notes": notes,
    }


def measure(probe, outdir, config, n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        zero = pool.submit(run_one, probe, outdir, config, 0)
        full = pool.submit(run_one, probe, outdir, config, n)
        r0, rn = zero.result(), full.result()
    p = rn["probe"]
    lost = p.get("lost", "-")
    return {
        "config": config,
        "n": n,
        "spans_per_call": int(p.get("spans_per_call", 1)),
        "instr_caller": (rn["caller"] - r0["caller"]) / n,
        "instr_all": (rn["all"] - r0["all"]) / n,
        "clock_reads": (rn["clocks"] - r0["clocks"]) / n,
        "allocs": int(p.get("allocs", 0)) / n,
        "frees": int(p.get("frees", 0)) / n,
        "bytes": int(p.get("bytes", 0)) / n,
        "exported": p.get("exported", "-"),
        "expected": p.get("expected", "-"),
        "lost": lost,
        "notes": " | ".join(rn["notes"]),
    }


COLUMNS = [
    "config", "n", "spans_per_call", "instr_caller", "instr_all", "clock_reads",
    "allocs", "frees", "bytes", "expected", "exported", "lost", "notes",
]


def fmt(v):
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def main(argv):
    probe, target = argv[0], argv[1]
    wanted = argv[2:]
    outdir = os.path.join(target, "xray-bench", "callgrind")
    os.makedirs(outdir, exist_ok=True)
    listed = subprocess.run([probe, "list"], capture_output=True, text=True, check=True)
    configs = [l.split("\t")[0] for l in listed.stdout.splitlines() if l.strip()]
    runs = []
    for arg in wanted or configs:
        name, _, n = arg.partition(":")
        if name not in configs:
            sys.exit(f"unknown configuration {name!r}; `probe list` has: {' '.join(configs)}")
        runs.append((name, int(n) if n else CONFIG_N.get(name, DEFAULT_N)))

    tsv = os.path.join(target, "xray-bench", "callgrind.tsv")
    results = {}
    if os.path.exists(tsv):
        with open(tsv, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            for line in f:
                row = dict(zip(header, line.rstrip("\n").split("\t")))
                if "config" in row:
                    results[row["config"]] = row

    print(f"{'config':<26} {'N':>7} {'instr/call caller':>18} {'all threads':>12} "
          f"{'clock/call':>10} {'allocs/call':>11} {'bytes/call':>10}  exported")
    for name, n in runs:
        try:
            r = measure(probe, outdir, name, n)
        except RuntimeError as err:
            print(f"{name}: FAILED: {err}", file=sys.stderr)
            continue
        results[name] = {k: fmt(r[k]) for k in COLUMNS}
        exported = "" if r["expected"] == "-" else f"{r['exported']}/{r['expected']} lost {r['lost']}"
        print(f"{name:<26} {n:>7} {r['instr_caller']:>18.1f} {r['instr_all']:>12.1f} "
              f"{r['clock_reads']:>10.2f} {r['allocs']:>11.2f} {r['bytes']:>10.0f}  {exported}",
              flush=True)
        with open(tsv, "w", encoding="utf-8") as f:
            f.write("\t".join(COLUMNS) + "\n")
            for row in results.values():
                f.write("\t".join(row.get(c, "") for c in COLUMNS) + "\n")
    print(f"written: {tsv}; dumps in {outdir}")


if __name__ == "__main__":
    main(sys.argv[1:])
