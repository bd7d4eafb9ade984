#!/usr/bin/env python3
"""Turns convt_bench --json output into the README's Markdown table: one row per shape and
format, libconvt's median time, GFLOP/s and its ratios to oneDNN and to the bare SGEMM at each
thread count. Usage: bench/table.py RESULTS.json"""
import json
import sys


def main(path):
    rows = json.load(open(path))["results"]
    by = {(r["shape"], r["format"], r["threads"], r["contender"]): r for r in rows}
    threads = sorted({r["threads"] for r in rows})
    keys = []
    for r in rows:
        if r["contender"] == "libconvt" and (r["shape"], r["format"]) not in keys:
            keys.append((r["shape"], r["format"]))
    head = "| shape | fmt |" + "".join(
        f" {t}t ms | {t}t GFLOP/s | {t}t vs oneDNN | {t}t vs SGEMM |" for t in threads)
    print(head + " workspace |")
    print("|---|---|" + "---:|---:|---:|---:|" * len(threads) + "---:|")
    for shape, fmt in keys:
        cells = ""
        ws = 0
        for t in threads:
            r = by.get((shape, fmt, t, "libconvt"))
            if r is None:
                cells += " | | | |"
                continue
            ws = max(ws, r["workspace_bytes"])
            cells += (f" {r['median_ms']:.3f} | {r['gflops']:.0f} | {r['vs_onednn']:.2f} |"
                      f" {r['vs_sgemm']:.2f} |")
        size = f"{ws / 1024:.0f} KiB" if ws < 1 << 20 else f"{ws / (1 << 20):.1f} MiB"
        print(f"| {shape} | {fmt} |{cells} {size} |")


if __name__ == "__main__":
    main(sys.argv[1])
