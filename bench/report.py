"""From `results.json` to what people read: derived figures and targets, `table.md`,
`latency.png`, and the marked results section of docs/benchmarks.md.

    python -m bench.report bench/results/results.json   # redo the outputs of a past run
    python -m bench.report OTHER/results.json --docs ''  # ... without touching the docs
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.noise import NOISY_SHARE, REDO_STEAL_ABOVE, is_noisy

DOCS_START = "<!-- bench:results:start -->"
DOCS_END = "<!-- bench:results:end -->"
# (arm, the floor it is compared with)
PAIRS = (
    ("relay", "direct"),
    ("proxy", "direct"),
    ("proxy-traffic-log", "direct"),
    ("litellm", "direct-compatible"),
)
LABELS = {"litellm": "LiteLLM"}


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


def _level_figure(results: dict[str, Any], concurrency: int, arm: str, *keys: str) -> float:
    for level in results.get("latency", {}).get("levels", []):
        if level["concurrency"] == concurrency:
            return _get(level["arms"], arm, *keys)
    return math.nan


# ---- targets ----------------------------------------------------------------------------
#
# Absolute figures differ by 2.4x and more between two machines of the same class (the same
# harness on two 2-core VMs), so a limit in ms or chunks/s says more about the machine than
# about the proxy. Each target is a ratio of two figures measured in the same run instead: the
# proxy against LiteLLM, against the stream it carries, or against the direct connection.
# Memory per stream stays absolute: it does not depend on the CPU's speed.


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    digits: int = 2

    def text(self) -> str:
        return _fmt(self.value, self.digits)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    top: Figure
    bottom: Figure | None  # None: an absolute figure
    op: str | None  # "<=" or ">=", None: reported without a limit
    limit: float | None
    unit: str = ""  # of the ratio
    extra: bool = False  # kept beside the targets

    @property
    def value(self) -> float:
        if self.bottom is None:
            return self.top.value
        return _ratio(self.top.value, self.bottom.value)

    def met(self) -> bool | None:
        if math.isnan(self.value) or self.op is None or self.limit is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def status(self) -> str:
        if math.isnan(self.value):
            return "not measured"
        if self.op is None:
            return "reported"
        return "met" if self.met() else "missed"

    def reached(self) -> str:
        """Both figures and their ratio, e.g. "4.52 / 13.55 ms = 0.33"."""
        missing = [f.name for f in (self.top, self.bottom) if f and math.isnan(f.value)]
        if missing:
            return f"not measured: no {' or '.join(missing)} in this run"
        unit = f" {self.unit}" if self.unit else ""
        if self.bottom is None:
            return f"{self.top.text()} {self.top.unit}"
        if self.top.unit == self.bottom.unit:
            figures = f"{self.top.text()} / {self.bottom.text()} {self.top.unit}"
        else:
            figures = f"{self.top.text()} {self.top.unit} / {self.bottom.text()} {self.bottom.unit}"
        return f"{figures} = {_ratio_text(self.value)}{unit}"

    def record(self) -> dict[str, Any]:
        figures = [f for f in (self.top, self.bottom) if f is not None]
        return {
            "target": self.name,
            "figures": [{"figure": f.name, "value": f.value, "unit": f.unit} for f in figures],
            "value": self.value,
            "unit": self.unit,
            "op": self.op,
            "limit": self.limit,
            "met": self.met(),
            "status": self.status(),
            "reached": self.reached(),
            "extra": self.extra,
        }


def _ratio_text(value: float) -> str:
    return _fmt(value, 2 if abs(value) >= 0.1 or value == 0 else 3)


def _latency_targets(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[Target]:
    def cpu(arm: str) -> Figure:
        value = _level_figure(results, 1, arm, "arm_cpu_ms_per_request")
        return Figure(f"{LABELS.get(arm, arm)} CPU per request at c=1", value, "ms")

    def added(arm: str, concurrency: int, q: str) -> Figure:
        value = _added(rows, arm, concurrency, f"added_ttfb_ms_{q}")
        return Figure(f"{LABELS.get(arm, arm)} added TTFB {q} at c={concurrency}", value, "ms")

    stream = _level_figure(results, 256, "direct", "total_ms", "p50")
    return [
        Target("proxy CPU per request / LiteLLM's, c=1", cpu("proxy"), cpu("litellm"), "<=", 0.10),
        Target(
            "proxy added TTFB p50 / LiteLLM's, c=1",
            added("proxy", 1, "p50"),
            added("litellm", 1, "p50"),
            "<=",
            0.10,
        ),
        Target(
            "proxy added TTFB p99 at c=256 / the stream's length",
            added("proxy", 256, "p99"),
            Figure("direct total time p50 at c=256", stream, "ms"),
            "<=",
            0.05,
        ),
    ]


def _capacity_targets(results: dict[str, Any]) -> list[Target]:
    def rate(name: str, *keys: str) -> Figure:
        return Figure(f"{name} chunks/s", _get(results, *keys, "chunks_per_s"), "chunks/s", 0)

    memory = results.get("memory", {})
    opened = _get(memory, "open_at_sample")
    grown = _get(memory, "per_stream_kb") * opened  # what the open streams added, in KB
    return [
        Target(
            "proxy chunks/s / direct chunks/s (throughput)",
            rate("proxy", "throughput", "arms", "proxy"),
            rate("direct", "throughput", "arms", "direct"),
            ">=",
            0.50,
        ),
        Target(
            "RSS per open stream (1000 streams)",
            Figure("RSS with the streams open - RSS idle", grown, "KB", 0),
            Figure("open streams", opened, "streams", 0),
            "<=",
            25.0,
            "KB",
        ),
        Target(
            "two workers / one worker, same load",
            rate("2 workers", "scaling", "workers", "2"),
            rate("1 worker", "scaling", "workers", "1"),
            None,
            None,
        ),
    ]


def _extra_targets(results: dict[str, Any]) -> list[Target]:
    failed, total = _lost(results)
    idle = _get(results, "memory", "rss_idle_mb")
    return [
        Target(
            "lost or reordered streams",
            Figure("failed streams", float(failed), "streams", 0),
            Figure("streams through the proxy", float(total), "streams", 0),
            "<=",
            0.0,
            extra=True,
        ),
        Target("RSS idle", Figure("RSS idle", idle, "MB"), None, "<=", 60.0, "MB", extra=True),
    ]


def targets(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets of issue 16, each a ratio of two figures of this run, then the extra rows."""
    every = _latency_targets(results, rows) + _capacity_targets(results) + _extra_targets(results)
    return [target.record() for target in every]


def derive(results: dict[str, Any]) -> dict[str, Any]:
    rows = added_latency(results)
    throughput = results.get("throughput", {}).get("arms", {})
    rates = {name: _get(arm, "chunks_per_s") for name, arm in throughput.items()}
    scaling = results.get("scaling", {}).get("workers", {})
    return {
        "noisy": is_noisy(results),
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


def _settings(config: dict[str, str]) -> str:
    """`{"upstream.max_connections": "300"}` as `[upstream] max_connections = 300`."""
    return ", ".join(
        f"`[{key.split('.', 1)[0]}] {key.split('.', 1)[1]} = {value}`"
        for key, value in config.items()
    )


def _levels(results: dict[str, Any]) -> list[dict[str, Any]]:
    levels: list[dict[str, Any]] = results.get("latency", {}).get("levels", [])
    return levels


def _latency_table(results: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    streams = {level["concurrency"]: _stream(level) for level in _levels(results)}
    for level in _levels(results):
        if level.get("proxy_config"):  # said in full under the table
            streams[level["concurrency"]] += ", proxy's pool raised"
    lines = [
        "| c | stream | arm | TTFB p50 | p95 | p99 | added p50 | added p95 | added p99 "
        "| arm / floor p50 | LiteLLM added / proxy added p99 | ok/requests |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
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
            f"| {row['requests'] - row['failed']}/{row['requests']} |"
        )
    return lines


def _level_configs(results: dict[str, Any]) -> list[str]:
    """One line per level whose proxy was not started with the defaults."""
    return [
        f"At c={level['concurrency']} the proxy is one started with "
        f"{_settings(level['proxy_config'])} (default 200), so its pool is not the limit."
        for level in _levels(results)
        if level.get("proxy_config")
    ]


def _redone(results: dict[str, Any]) -> str:
    """How many rounds lost too much of the arms' core to the hypervisor and were run again."""
    rounds = [
        (level["concurrency"], figures)
        for level in _levels(results)
        for arm in level["arms"].values()
        for figures in arm.get("rounds", ())
    ]
    if not rounds:
        return ""
    redone = [c for c, figures in rounds if figures.get("discarded")]
    kept = [f["steal_share"] for _, f in rounds if not f.get("discarded") and f["steal_share"]]
    per_level = ", ".join(f"{redone.count(c)} at c={c}" for c in sorted(set(redone)))
    text = (
        f"Rounds run again because the hypervisor took over {REDO_STEAL_ABOVE * 100:.0f}% of "
        f"the arms' core while they ran (steal): {len(redone)} of {len(rounds)}"
    )
    text += f" ({per_level})." if redone else "."
    if kept:
        text += f" Steal in the rounds kept: at most {_fmt(max(kept) * 100, 1)}%."
    return text


def _cpu_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| c | arm | arm's process | arm CPU | waited for a core | simulator CPU "
        "| load generator CPU |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for level in _levels(results):
        for name, arm in level["arms"].items():
            process = arm.get("arm_process", name if "arm_cpu_ms_per_request" in arm else "-")
            lines.append(
                f"| {level['concurrency']} | {name} | {process} "
                f"| {_fmt(_get(arm, 'arm_cpu_ms_per_request'))} "
                f"| {_fmt(_get(arm, 'arm_waited_for_cpu_ms_per_request'))} "
                f"| {_fmt(_get(arm, 'upstream_cpu_ms_per_request'))} "
                f"| {_fmt(_get(arm, 'loadgen_cpu_ms_per_request'))} |"
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
        "| arm | chunks/s | upstream frames/s | arm's process | arm CPU s "
        "| waited for a core s | chunks per arm CPU s | simulator CPU s | load generator CPU s "
        "| ok/requests |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, arm in section.get("arms", {}).items():
        process = arm.get("arm_process", name if "arm_cpu_seconds" in arm else "-")
        lines.append(
            f"| {name} | {_fmt(_get(arm, 'chunks_per_s'), 0)} "
            f"| {_fmt(_get(arm, 'upstream_frames_per_s'), 0)} | {process} "
            f"| {_fmt(_get(arm, 'arm_cpu_seconds'))} "
            f"| {_fmt(_get(arm, 'arm_waited_for_cpu_seconds'))} "
            f"| {_fmt(_get(arm, 'chunks_per_cpu_s'), 0)} "
            f"| {_fmt(_get(arm, 'upstream_cpu_seconds'))} "
            f"| {_fmt(_get(arm, 'loadgen_cpu_seconds'))} | {arm['ok']}/{arm['requests']} |"
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
        met = {"met": "yes", "missed": "**no**"}.get(t["status"], t["status"])
        limit = "no limit" if t["op"] is None else f"{t['op']} {_limit(t['limit'])} {t['unit']}"
        name = f"{t['target']} (extra)" if t["extra"] else t["target"]
        lines.append(f"| {name} | {t['reached']} | {limit.rstrip()} | {met} |")
    return lines


def _limit(value: float) -> str:
    return _fmt(value, 0 if value == int(value) else 2)


def _noise(meta: dict[str, Any]) -> str:
    """How much of the CPU other processes used, over the run and (if sampled) per second."""
    noise = meta.get("machine_noise", {})
    if "other_cpu_share" not in noise:
        return "the CPU other processes used was not recorded"
    text = (
        f"other processes used {_fmt(noise['other_cpu_share'] * 100, 0)}% of the machine's "
        "CPU during the run"
    )
    samples = noise.get("other_cpu_share_per_s")
    if samples:
        above = sum(1 for share in samples if share > NOISY_SHARE)
        text += (
            f" (per second: at most {_fmt(max(samples) * 100, 0)}%, above "
            f"{_fmt(NOISY_SHARE * 100, 0)}% in {above} of {len(samples)} s)"
        )
    return text


def _banner(results: dict[str, Any]) -> list[str]:
    if not is_noisy(results):
        return []
    return [
        f"**NOISY RUN: not a reference.** Other processes used more than "
        f"{_fmt(NOISY_SHARE * 100, 0)}% of the machine's CPU while it ran, so its figures do "
        "not replace the published ones.",
        "",
    ]


def markdown(results: dict[str, Any], derived: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    litellm = meta.get("litellm", {})
    out = [
        *_banner(results),
        f"Run `{meta['profile']}` of {meta['started']}, {meta['seconds']} s; "
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
        f"Python {machine['python']}; load average {_fmt(meta['loadavg_start'][0])} at start, "
        f"{_fmt(meta['loadavg_end'][0])} at end; {_noise(meta)}. "
        f"LiteLLM {litellm.get('pinned')}: {litellm.get('status', 'not run')}. "
        f"Traffic log: {meta['traffic_log']}.",
        "",
        "**Targets** (each a ratio of two figures of this run, except memory; see the method)",
        "",
        *_targets_table(derived),
        "",
        "**Time to first byte by concurrency** (ms; stream = frames x interval; added = arm "
        "- its floor in the same run: `direct` for the proxy, `direct-compatible` for LiteLLM)",
        "",
        *_latency_table(results, derived["added_latency"]),
        "",
        *(line for config in _level_configs(results) for line in (config, "")),
        *(line for text in (_redone(results),) if text for line in (text, "")),
        "**CPU per request by concurrency** (ms of CPU time per request, one warm-up request "
        "per connection included; arm's process = the process serving the arm, the simulator "
        "for the direct arms; waited = time it was ready to run but other processes had its "
        "core; simulator = the simulator's CPU while that arm's requests ran; load generator = "
        "the client's; - = not recorded by this run)",
        "",
        *_cpu_table(results),
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
    """Derive the figures and targets, write them into `results.json` beside the table and the
    plot, and (if `docs`) rewrite its results section."""
    out_dir.mkdir(parents=True, exist_ok=True)
    derived = derive(results)
    results["derived"] = derived
    if not isinstance(results.get("noisy"), bool):  # written before runs were marked
        results["noisy"] = derived["noisy"]
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


DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
NOISY_REFUSAL = (
    "noisy run (other processes used more than {share:.0%} of the CPU): not written into {what}; "
    "--allow-noisy writes it there anyway, marked as noisy"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument(
        "results", nargs="?", type=Path, default=Path(__file__).parent / "results" / "results.json"
    )
    parser.add_argument("--docs", default=str(DOCS), help="rewrite its results section ('': no)")
    parser.add_argument("--allow-noisy", action="store_true", help="a noisy run into the docs too")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Redraw table, plot and docs section from a results.json, next to it."""
    args = _parser().parse_args(argv)
    results = orjson.loads(args.results.read_bytes())
    docs = Path(args.docs) if args.docs else None
    if docs is not None and is_noisy(results) and not args.allow_noisy:
        print(NOISY_REFUSAL.format(share=NOISY_SHARE, what=docs), file=sys.stderr)
        docs = None
    write_outputs(results, args.results.parent, docs)
    print((args.results.parent / "table.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
