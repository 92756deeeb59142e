"""From `results.json` to what people read: derived figures and targets, `table.md`,
`latency.png`, and the marked results section of docs/benchmarks.md.

    python -m bench.report bench/results/results.json   # redo the outputs of a past run
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import orjson

DOCS_START = "<!-- bench:results:start -->"
DOCS_END = "<!-- bench:results:end -->"
# (arm, the floor it is compared with)
PAIRS = (("proxy", "direct"), ("proxy-traffic-log", "direct"), ("litellm", "direct-compatible"))


def _get(data: dict[str, Any], *keys: str) -> float:
    value: Any = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return math.nan
        value = value[key]
    return float(value) if isinstance(value, int | float) else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def added_latency(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per level and arm: the arm's percentile minus its floor's (same run, interleaved)."""
    rows = []
    for level in results.get("latency", {}).get("levels", []):
        level_arms = level["arms"]
        for arm, floor in PAIRS:
            if arm not in level_arms or floor not in level_arms:
                continue
            row: dict[str, Any] = {"concurrency": level["concurrency"], "arm": arm, "floor": floor}
            for metric in ("ttfb_ms", "ttft_ms", "total_ms"):
                for q in ("p50", "p95", "p99"):
                    own = _get(level_arms[arm], metric, q)
                    base = _get(level_arms[floor], metric, q)
                    row[f"{metric}_{q}"] = own
                    row[f"added_{metric}_{q}"] = round(own - base, 4)
            row["cpu_ms_per_request"] = _get(level_arms[arm], "arm_cpu_ms_per_request")
            row["waited_ms_per_request"] = _get(
                level_arms[arm], "arm_waited_for_cpu_ms_per_request"
            )
            row["failed"] = level_arms[arm]["failed"]
            row["requests"] = level_arms[arm]["requests"]
            rows.append(row)
    return rows


def _added(rows: list[dict[str, Any]], arm: str, concurrency: int, key: str) -> float:
    for row in rows:
        if row["arm"] == arm and row["concurrency"] == concurrency:
            return float(row[key])
    return math.nan


def _lost(results: dict[str, Any]) -> tuple[int, int]:
    """(failed, total) requests over every arm and scenario that went through the proxy."""
    failed = total = 0
    for level in results.get("latency", {}).get("levels", []):
        for name, arm in level["arms"].items():
            if name.startswith("proxy"):
                failed, total = failed + arm["failed"], total + arm["requests"]
    for name, arm in results.get("throughput", {}).get("arms", {}).items():
        if name.startswith("proxy"):
            failed, total = failed + arm["failed"], total + arm["requests"]
    memory = results.get("memory", {}).get("summary")
    if memory:
        failed, total = failed + memory["failed"], total + memory["requests"]
    for arm in results.get("scaling", {}).get("workers", {}).values():
        failed, total = failed + arm["failed"], total + arm["requests"]
    return failed, total


def targets(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    throughput = results.get("throughput", {}).get("arms", {})
    proxy_rate = _get(throughput, "proxy", "chunks_per_s")
    litellm_rate = _get(throughput, "litellm", "chunks_per_s")
    memory = results.get("memory", {})
    failed, total = _lost(results)
    checks = [
        ("added TTFB p50 at c=1", _added(rows, "proxy", 1, "added_ttfb_ms_p50"), "<=", 1.0, "ms"),
        ("added TTFB p99 at c=64", _added(rows, "proxy", 64, "added_ttfb_ms_p99"), "<=", 5.0, "ms"),
        ("translated chunks/s, one worker", proxy_rate, ">=", 20000.0, "chunks/s"),
        (
            "translated chunks per CPU-second, one worker",
            _get(throughput, "proxy", "chunks_per_cpu_s"),
            ">=",
            20000.0,
            "chunks/s",
        ),
        ("throughput proxy / LiteLLM", _ratio(proxy_rate, litellm_rate), ">=", 5.0, "x"),
        ("RSS idle", _get(memory, "rss_idle_mb"), "<=", 60.0, "MB"),
        ("RSS per open stream (1000 streams)", _get(memory, "per_stream_kb"), "<=", 25.0, "KB"),
        ("lost or reordered streams", float(failed), "<=", 0.0, f"of {total}"),
    ]
    out = []
    for name, value, op, limit, unit in checks:
        met = None if math.isnan(value) else (value <= limit if op == "<=" else value >= limit)
        out.append({"target": name, "value": value, "op": op, "limit": limit, "unit": unit,
                    "met": met})  # fmt: skip
    return out


def derive(results: dict[str, Any]) -> dict[str, Any]:
    rows = added_latency(results)
    throughput = results.get("throughput", {}).get("arms", {})
    rates = {name: _get(arm, "chunks_per_s") for name, arm in throughput.items()}
    scaling = results.get("scaling", {}).get("workers", {})
    return {
        "added_latency": rows,
        "throughput_ratios": {
            "proxy_over_direct": _ratio(rates.get("proxy", math.nan), rates.get("direct", 0)),
            "litellm_over_proxy": _ratio(rates.get("litellm", math.nan), rates.get("proxy", 0)),
            "proxy_over_litellm": _ratio(rates.get("proxy", math.nan), rates.get("litellm", 0)),
        },
        "scaling_2_over_1": _ratio(
            _get(scaling, "2", "chunks_per_s"), _get(scaling, "1", "chunks_per_s")
        ),
        "targets": targets(results, rows),
    }


# ---- Markdown ---------------------------------------------------------------------------


def _fmt(value: float, digits: int = 2) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _stream(level: dict[str, Any]) -> str:
    shape = level.get("shape", {})
    return f"{shape.get('frames')} x {shape.get('interval_s', 0) * 1000:.0f} ms"


def _latency_table(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    streams = {
        lv["concurrency"]: _stream(lv) for lv in results.get("latency", {}).get("levels", [])
    }
    lines = [
        "| c | stream | arm | TTFB p50 | p95 | p99 | added p50 | added p95 | added p99 "
        "| arm / floor p50 | LiteLLM added / proxy added p99 | arm CPU ms/request "
        "| waited for a core ms/request | ok/requests |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        c, arm = row["concurrency"], row["arm"]
        ratio = _ratio(row["ttfb_ms_p50"], row["ttfb_ms_p50"] - row["added_ttfb_ms_p50"])
        vs_proxy = "-"
        if arm == "litellm":
            proxy_added = _added(rows, "proxy", c, "added_ttfb_ms_p99")
            vs_proxy = _fmt(_ratio(row["added_ttfb_ms_p99"], proxy_added), 1)
        lines.append(
            f"| {c} | {streams.get(c, '')} | {arm} | {_fmt(row['ttfb_ms_p50'])} "
            f"| {_fmt(row['ttfb_ms_p95'])} | {_fmt(row['ttfb_ms_p99'])} "
            f"| {_fmt(row['added_ttfb_ms_p50'])} | {_fmt(row['added_ttfb_ms_p95'])} "
            f"| {_fmt(row['added_ttfb_ms_p99'])} | {_fmt(ratio)}x | {vs_proxy} "
            f"| {_fmt(row['cpu_ms_per_request'])} | {_fmt(row['waited_ms_per_request'])} "
            f"| {row['requests'] - row['failed']}/{row['requests']} |"
        )
    return lines


def _sequential_table(results: dict[str, Any]) -> list[str]:
    levels = results.get("latency", {}).get("levels", [])
    first = next((level for level in levels if level["concurrency"] == 1), None)
    if first is None:
        return []
    lines = [
        "| arm (c=1) | TTFB p50 | first token p50 | total p50 | total p99 | chunk gap p50 "
        "| gap p99 | chunks/stream |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, arm in first["arms"].items():
        per_stream = arm["chunks"] / arm["ok"] if arm["ok"] else math.nan
        lines.append(
            f"| {name} | {_fmt(_get(arm, 'ttfb_ms', 'p50'))} | {_fmt(_get(arm, 'ttft_ms', 'p50'))} "
            f"| {_fmt(_get(arm, 'total_ms', 'p50'))} | {_fmt(_get(arm, 'total_ms', 'p99'))} "
            f"| {_fmt(_get(arm, 'gap_ms', 'p50'))} | {_fmt(_get(arm, 'gap_ms', 'p99'))} "
            f"| {_fmt(per_stream, 0)} |"
        )
    return lines


def _throughput_table(results: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    section = results.get("throughput", {})
    lines = [
        "| arm | chunks/s | upstream frames/s | arm CPU s | waited for a core s "
        "| chunks per arm CPU s | ok/requests |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, arm in section.get("arms", {}).items():
        lines.append(
            f"| {name} | {_fmt(_get(arm, 'chunks_per_s'), 0)} "
            f"| {_fmt(_get(arm, 'upstream_frames_per_s'), 0)} "
            f"| {_fmt(_get(arm, 'arm_cpu_seconds'))} "
            f"| {_fmt(_get(arm, 'arm_waited_for_cpu_seconds'))} "
            f"| {_fmt(_get(arm, 'chunks_per_cpu_s'), 0)} | {arm['ok']}/{arm['requests']} |"
        )
    ratios = derived["throughput_ratios"]
    lines.append("")
    lines.append(
        f"Ratios: proxy / direct {_fmt(ratios['proxy_over_direct'])}, "
        f"LiteLLM / proxy {_fmt(ratios['litellm_over_proxy'], 3)} "
        f"(proxy is {_fmt(ratios['proxy_over_litellm'], 1)}x LiteLLM)."
    )
    return lines


def _targets_table(derived: dict[str, Any]) -> list[str]:
    lines = ["| target | reached | limit | met |", "|---|---:|---:|:---:|"]
    for t in derived["targets"]:
        met = "-" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(
            f"| {t['target']} | {_fmt(t['value'])} {t['unit']} | {t['op']} {_fmt(t['limit'])} "
            f"| {met} |"
        )
    return lines


def markdown(results: dict[str, Any], derived: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    litellm = meta.get("litellm", {})
    out = [
        f"Run `{meta['profile']}` of {meta['started']}, {meta['seconds']} s; "
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
        f"Python {machine['python']}; load average {_fmt(meta['loadavg_start'][0])} at start, "
        f"{_fmt(meta['loadavg_end'][0])} at end; other processes used "
        f"{_fmt(meta.get('machine_noise', {}).get('other_cpu_share', math.nan) * 100, 0)}% of "
        f"the machine's CPU during the run. LiteLLM {litellm.get('pinned')}: "
        f"{litellm.get('status', 'not run')}. Traffic log: {meta['traffic_log']}.",
        "",
        "**Targets**",
        "",
        *_targets_table(derived),
        "",
        "**Time to first byte by concurrency** (ms; stream = frames x interval; added = arm "
        "- its floor in the same run: `direct` for the proxy, `direct-compatible` for LiteLLM; "
        "arm CPU = the arm process's CPU time at that level / requests; waited = time it was "
        "ready to run but other processes had its core)",
        "",
        *_latency_table(results, derived["added_latency"]),
        "",
        "**Sequential (c=1)** (ms)",
        "",
        *_sequential_table(results),
        "",
    ]
    throughput = results.get("throughput")
    if throughput:
        tshape = throughput["shape"]
        out += [
            f"**Throughput, one worker** (zero-delay upstream, {tshape['frames']} frames per "
            f"stream, {throughput['concurrency']} concurrent streams)",
            "",
            *_throughput_table(results, derived),
            "",
        ]
    memory = results.get("memory")
    if memory:
        out += [
            f"**Memory** ({memory['streams']} concurrent slow streams, "
            f"{memory['open_at_sample']} open when sampled): RSS {_fmt(memory['rss_started_mb'])} "
            f"MB at start, {_fmt(memory['rss_idle_mb'])} MB idle after warm-up, "
            f"{_fmt(memory['rss_open_mb'])} MB with the streams open: "
            f"**{_fmt(memory['per_stream_kb'])} KB per open stream**; "
            f"{memory['summary']['ok']}/{memory['summary']['requests']} streams complete.",
            "",
        ]
    scaling = results.get("scaling")
    if scaling:
        workers = scaling["workers"]
        out += [
            f"**Scaling** ({scaling['concurrency']} concurrent zero-delay streams): "
            f"1 worker {_fmt(_get(workers, '1', 'chunks_per_s'), 0)} chunks/s, "
            f"2 workers {_fmt(_get(workers, '2', 'chunks_per_s'), 0)} chunks/s "
            f"({_fmt(derived['scaling_2_over_1'])}x).",
            "",
        ]
    return "\n".join(out)


# ---- plot and docs ----------------------------------------------------------------------


def plot(rows: list[dict[str, Any]], path: Path) -> str:
    """Added TTFB p50/p99 against concurrency; returns why not, if it could not be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=120)
    styles = {"proxy": "tab:blue", "litellm": "tab:red", "proxy-traffic-log": "tab:cyan"}
    for arm, colour in styles.items():
        points = sorted((r["concurrency"], r) for r in rows if r["arm"] == arm)
        if not points:
            continue
        xs = [c for c, _ in points]
        for q, style in (("p50", "-o"), ("p99", "--s")):
            # A log axis cannot show zero or less: floor it at 0.01 ms.
            ys = [max(r[f"added_ttfb_ms_{q}"], 0.01) for _, r in points]
            axes.plot(xs, ys, style, color=colour, label=f"{arm} {q}")
    axes.set_xscale("log", base=2)
    levels = sorted({r["concurrency"] for r in rows})
    axes.set_xticks(levels, [str(c) for c in levels])
    axes.set_yscale("log")
    axes.set_xlabel("concurrent streams")
    axes.set_ylabel("added time to first byte (ms)")
    axes.set_title("Added TTFB over a direct connection (lower is better)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return ""


def update_docs(docs: Path, table: str) -> bool:
    """Replace the marked section of docs/benchmarks.md with the new table."""
    if not docs.exists():
        return False
    text = docs.read_text(encoding="utf-8")
    start, end = text.find(DOCS_START), text.find(DOCS_END)
    if start < 0 or end < start:
        return False
    section = f"{DOCS_START}\n{table.rstrip()}\n{DOCS_END}"
    docs.write_text(text[:start] + section + text[end + len(DOCS_END) :], encoding="utf-8")
    return True


def write_outputs(results: dict[str, Any], out_dir: Path, docs: Path | None) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    derived = derive(results)
    results["derived"] = derived
    table = markdown(results, derived)
    (out_dir / "table.md").write_text(table + "\n", encoding="utf-8")
    missing_plot = plot(derived["added_latency"], out_dir / "latency.png")
    if missing_plot:
        results["meta"]["plot"] = f"not drawn: {missing_plot}"
    if docs is not None:
        results["meta"]["docs_updated"] = update_docs(docs, table)
    options = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
    (out_dir / "results.json").write_bytes(orjson.dumps(results, option=options) + b"\n")
    return derived


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).parent / "results" / "results.json"
    results = orjson.loads(path.read_bytes())
    docs = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    write_outputs(results, path.parent, docs)
    print((path.parent / "table.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
