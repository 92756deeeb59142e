"""One benchmark run: start the simulator, the proxy and LiteLLM, run every scenario through
the load generator, write `results.json`, then the table, the plot and the docs section.

Processes and cores (a 2-core machine): the simulator and the load generator share the first
core, the arm under test (this proxy or LiteLLM, one worker) gets the second to itself, so the
arm never competes with the load it is measured under. Only one arm is loaded at a time. The
two-worker scenario lets the workers use both cores (see docs/benchmarks.md).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import arms, litellm_arm
from bench.machine import busy_cpu_seconds, machine, noise, own_cpu_seconds, versions
from bench.noise import NOISY_SHARE, REDO_LIMIT, REDO_STEAL_ABOVE, Sampler
from bench.procs import (
    Child,
    cpu_seconds,
    free_port,
    http_post,
    rss_bytes,
    run_delay_seconds,
    wait_file,
    wait_ready,
)
from bench.profiles import THINK, Level, Profile, Shape
from bench.proxy_factory import CONFIG_VARIABLE
from bench.upstream import CONFIG_PATH
from proxy.config import UpstreamSettings

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Options:
    profile: Profile
    work: Path
    litellm_venv: Path = ROOT / "bench" / ".work" / "litellm-venv"
    litellm: bool = True
    pin: bool = True
    traffic_log_arm: bool = True
    scaling: bool = True


class Run:
    """The processes of one run and the cores they are pinned to."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.work = options.work
        self.work.mkdir(parents=True, exist_ok=True)
        cores = sorted(os.sched_getaffinity(0))
        pinned = options.pin and len(cores) >= 2
        self.harness_cpus: frozenset[int] | None = frozenset(cores[:1]) if pinned else None
        self.arm_cpus: frozenset[int] | None = frozenset(cores[1:2]) if pinned else None
        self.children: list[Child] = []
        self.supervisors: set[int] = set()  # children whose own workers do the work
        self.upstream_port = 0
        self.upstream_pid = 0
        self._plans = 0

    # ---- processes ------------------------------------------------------------------------

    def start_upstream(self) -> None:
        port_file = self.work / "upstream.port"
        port_file.unlink(missing_ok=True)
        argv = [PYTHON, "-m", "bench.upstream", "--port", "0", "--port-file", str(port_file)]
        child = self._spawn("upstream", argv, self.harness_cpus)
        self.upstream_port = int(wait_file(port_file, 20, child))
        self.upstream_pid = child.pid

    def shape(self, shape: Shape) -> None:
        body = orjson.dumps(
            {"frames": shape.frames, "frame_bytes": shape.frame_bytes, "interval": shape.interval}
        )
        status, answer = http_post(self.upstream_port, CONFIG_PATH, body)
        if status != 200:
            raise RuntimeError(f"upstream refused its shape: {answer!r}")

    def proxy_config(self, name: str, settings: dict[str, str] | None = None) -> Path:
        """A TOML config: defaults, the simulator as upstream, plus `settings` ("section.key"
        to a TOML value)."""
        sections: dict[str, list[str]] = {"upstream": [f'base_url = "{self._upstream_url()}"']}
        for dotted, value in (settings or {}).items():
            section, key = dotted.split(".", 1)
            sections.setdefault(section, []).append(f"{key} = {value}")
        text = "".join(f"[{name}]\n" + "\n".join(lines) + "\n" for name, lines in sections.items())
        config = self.work / f"{name}.toml"
        config.write_text(text, encoding="utf-8")
        return config

    def _upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    def start_relay(self) -> tuple[Child, int]:
        """`bench.relay` in front of the simulator, on the arms' core."""
        port_file = self.work / "relay.port"
        port_file.unlink(missing_ok=True)
        argv = [
            PYTHON, "-m", "bench.relay", "--upstream-port", str(self.upstream_port),
            "--port-file", str(port_file),
        ]  # fmt: skip
        child = self._spawn("relay", argv, self.arm_cpus)
        return child, int(wait_file(port_file, 20, child))

    def start_proxy(self, name: str, settings: dict[str, str] | None = None) -> tuple[Child, int]:
        """`dashscope-proxy serve` with defaults, except `settings`."""
        config, port = self.proxy_config(name, settings), free_port()
        argv = [PYTHON, "-m", "proxy", "serve", "--config", str(config), "--port", str(port)]
        child = self._spawn(name, argv, self.arm_cpus)
        wait_ready(child, port, "/healthz", 30)
        return child, port

    def start_workers(self, workers: int) -> tuple[Child, int]:
        config, port = self.proxy_config(f"proxy-workers-{workers}"), free_port()
        argv = [
            PYTHON, "-m", "uvicorn", "bench.proxy_factory:create", "--factory",
            "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--no-server-header", "--lifespan", "on",
        ]  # fmt: skip
        env = {CONFIG_VARIABLE: str(config)}
        child = self._spawn(f"proxy-workers-{workers}", argv, None, env=env)
        self.supervisors.add(child.pid)
        wait_ready(child, port, "/healthz", 60)
        return child, port

    def _spawn(
        self,
        name: str,
        argv: list[str],
        cpus: frozenset[int] | None,
        env: dict[str, str] | None = None,
    ) -> Child:
        child = Child(name, argv, self.work / f"{name}.log", cpus=cpus, env=env, cwd=ROOT)
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def live(self) -> list[tuple[int, bool]]:
        """The children running now, and whether each has workers of its own (for
        `bench.noise.Sampler`, which reads them from another thread: hence the copy)."""
        return [(child.pid, child.pid in self.supervisors) for child in list(self.children)]

    # ---- load -----------------------------------------------------------------------------

    def load(
        self, plan: dict[str, Any], timeout: float, during: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Run one plan in a fresh load-generator process and return its result; `during` is
        called while it runs (the memory scenario samples RSS then)."""
        self._plans += 1
        plan_path = self.work / f"plan-{self._plans}-{plan['kind']}.json"
        out_path = plan_path.with_suffix(".out.json")
        out_path.unlink(missing_ok=True)
        plan_path.write_bytes(orjson.dumps(plan, option=orjson.OPT_INDENT_2))
        argv = [PYTHON, "-m", "bench.loadgen", str(plan_path), str(out_path)]
        child = self._spawn(f"loadgen-{self._plans}", argv, self.harness_cpus)
        try:
            if during is not None:
                during()
            code = child.wait(timeout)
        finally:
            self.stop(child)
        if code != 0:
            raise RuntimeError(f"load generator failed ({code}):\n{child.tail()}")
        result: dict[str, Any] = orjson.loads(out_path.read_bytes())
        return result


def _shape_dict(shape: Shape) -> dict[str, Any]:
    return {"frames": shape.frames, "frame_bytes": shape.frame_bytes}


# ---- scenarios ----------------------------------------------------------------------------


# The default pool holds 200 upstream connections: at a level above that, streams would wait
# for a pooled connection a whole stream's length and the level would measure the pool, not the
# proxy. So such a level (c=256) gets a proxy of its own whose pool is not the limit, as the
# memory scenario's is.
DEFAULT_MAX_CONNECTIONS = UpstreamSettings().max_connections
WIDE_CONFIG = {"upstream.max_connections": "300"}


def sweep(
    run: Run,
    arm_specs: list[dict[str, Any]],
    extra_levels: dict[str, set[int]],
    pids: dict[str, int],
) -> dict[str, Any]:
    """Sequential overhead (c=1) and the concurrency sweep, all arms interleaved per round.
    One load-generator process per level, so each arm's CPU time per level can be read."""
    levels = []
    for level in run.options.profile.levels:
        specs = [
            spec
            for spec in arm_specs
            if spec["name"] not in extra_levels or level.concurrency in extra_levels[spec["name"]]
        ]
        if level.concurrency > DEFAULT_MAX_CONNECTIONS:
            levels.append(_wide_level(run, level, specs, pids))
        else:
            levels.append(_level(run, level, specs, pids))
    return {"levels": levels}


def _wide_level(
    run: Run, level: Level, specs: list[dict[str, Any]], pids: dict[str, int]
) -> dict[str, Any]:
    """A level past the default pool, against a proxy started with `WIDE_CONFIG`."""
    child, port = run.start_proxy(f"proxy-c{level.concurrency}", WIDE_CONFIG)
    try:
        specs = [arms.proxy(port) if spec["name"] == "proxy" else spec for spec in specs]
        result = _level(run, level, specs, {**pids, "proxy": child.pid})
    finally:
        run.stop(child)
    result["proxy_config"] = WIDE_CONFIG
    return result


def _level(
    run: Run, level: Level, specs: list[dict[str, Any]], pids: dict[str, int]
) -> dict[str, Any]:
    profile = run.options.profile
    run.shape(level.shape)
    stream = level.shape.frames * level.shape.interval if level.concurrency > 1 else 0.0
    plan = {
        "kind": "latency",
        "shape": _shape_dict(level.shape),
        "arms": specs,
        "levels": [
            {"concurrency": level.concurrency, "rounds": level.rounds,
             "per_round": level.per_round, "stagger": stream, "think": stream * THINK}
        ],
        "timeout": 60,
        "arm_budget": profile.arm_budget,
        "upstream_pid": run.upstream_pid,
        "arm_pids": sorted(set(pids.values())),
        # A round during which the hypervisor took more than REDO_STEAL_ABOVE of the arms'
        # core is run again (at most REDO_LIMIT times): its tail would be the host's.
        "arm_cpus": sorted(run.arm_cpus or []),
        "redo_steal_above": REDO_STEAL_ABOVE,
        "redo_limit": REDO_LIMIT,
    }  # fmt: skip
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    waited_before = {name: run_delay_seconds(pid) for name, pid in pids.items()}
    budget = len(specs) * (profile.arm_budget + 60) + 120
    result: dict[str, Any] = run.load(plan, timeout=budget)["levels"][0]
    for name, arm in result["arms"].items():
        cpu = arm.get("cpu", {})
        count = cpu.get("requests") or arm["requests"] + level.concurrency
        if name in pids:
            used = cpu_seconds(pids[name]) - cpu_before[name]
            waited = run_delay_seconds(pids[name]) - waited_before[name]
        else:  # a direct arm: the simulator is what serves it
            used, waited = cpu.get("upstream_s", 0.0), cpu.get("upstream_waited_s", 0.0)
        _cpu_per_request(arm, name if name in pids else "simulator", used, waited, count)
    result["shape"] = {**_shape_dict(level.shape), "interval_s": level.shape.interval}
    return result


def _cpu_per_request(
    arm: dict[str, Any], process: str, used: float, waited: float, count: int
) -> None:
    """Per request, warm-up requests included (one per connection: they used CPU too)."""
    if not arm["requests"]:
        return
    cpu = arm.get("cpu", {})
    arm["arm_process"] = process
    arm["arm_cpu_ms_per_request"] = round(used / count * 1000, 3)
    arm["arm_waited_for_cpu_ms_per_request"] = round(waited / count * 1000, 3)
    arm["upstream_cpu_ms_per_request"] = round(cpu.get("upstream_s", 0.0) / count * 1000, 3)
    arm["loadgen_cpu_ms_per_request"] = round(cpu.get("loadgen_s", 0.0) / count * 1000, 3)


def throughput(run: Run, arm_specs: list[dict[str, Any]], pids: dict[str, int]) -> Any:
    """Zero-delay upstream, long streams; one load-generator process per arm so the arm's
    CPU time (the simulator's, for the direct arm) can be read around it."""
    profile = run.options.profile
    run.shape(profile.throughput)
    results: dict[str, Any] = {}
    for spec in arm_specs:
        plan = {
            "kind": "throughput",
            "shape": _shape_dict(profile.throughput),
            "arms": [spec],
            "concurrency": profile.throughput_concurrency,
            "duration": profile.throughput_seconds,
            "timeout": 120,
        }
        process = spec["name"] if spec["name"] in pids else "simulator"
        serving = pids.get(spec["name"], run.upstream_pid)
        before = _usage(run.upstream_pid, serving)
        result = run.load(plan, timeout=profile.throughput_seconds + 300)
        after = _usage(run.upstream_pid, serving)
        upstream, used, waited = (end - start for start, end in zip(before, after, strict=True))
        summary = result["arms"][spec["name"]]
        summary["arm_process"] = process
        summary["arm_cpu_seconds"] = round(used, 3)
        summary["arm_waited_for_cpu_seconds"] = round(waited, 3)
        summary["upstream_cpu_seconds"] = round(upstream, 3)
        # What one core fully given to the arm would sustain: robust to other work sharing
        # the machine, which the wall-clock rate is not.
        summary["chunks_per_cpu_s"] = round(summary["all_chunks"] / used, 1) if used else None
        results[spec["name"]] = summary
    return {
        "concurrency": profile.throughput_concurrency,
        "shape": _shape_dict(profile.throughput),
        "arms": results,
    }


def _usage(upstream: int, serving: int) -> tuple[float, float, float]:
    """CPU time so far of the simulator and of the process serving an arm (the simulator
    itself for the direct arm), and how long the latter waited for a core."""
    return cpu_seconds(upstream), cpu_seconds(serving), run_delay_seconds(serving)


# Raised only for this scenario: the default pool (200 upstream connections) and stream cap
# (1000) are below what 1000 concurrent streams need.
MEMORY_CONFIG = {"server.max_concurrent_streams": "2000", "upstream.max_connections": "1100"}


def _warm(run: Run, spec: dict[str, Any], shape: Shape) -> None:
    plan = {
        "kind": "latency",
        "shape": _shape_dict(shape),
        "arms": [spec],
        "levels": [{"concurrency": 4, "rounds": 1, "per_round": 40}],
        "timeout": 30,
    }
    run.load(plan, timeout=120)


def memory(run: Run) -> dict[str, Any]:
    """RSS of a fresh proxy idle, then with N slow streams open: the cost of one stream."""
    profile = run.options.profile
    child, port = run.start_proxy("proxy-memory", MEMORY_CONFIG)
    try:
        rss_started = rss_bytes(child.pid)
        run.shape(Shape(8, 16, 0.0))
        _warm(run, arms.proxy(port), Shape(8, 16, 0.0))
        time.sleep(1.0)
        rss_idle = rss_bytes(child.pid)
        run.shape(profile.memory)
        ready_file = run.work / "memory.ready"
        ready_file.unlink(missing_ok=True)
        plan = {
            "kind": "hold",
            "shape": _shape_dict(profile.memory),
            "arms": [arms.proxy(port)],
            "streams": profile.memory_streams,
            "ramp": profile.memory_ramp,
            "ready_file": str(ready_file),
            "timeout": 120,
        }
        plan_result: dict[str, Any] = {}
        samples = []

        def sample_when_ready() -> None:
            ready = orjson.loads(wait_file(ready_file, 300))
            plan_result["ready"] = ready
            for _ in range(5):
                samples.append(rss_bytes(child.pid))
                time.sleep(0.2)

        result = run.load(plan, timeout=600, during=sample_when_ready)
        rss_held = max(samples) if samples else 0
        opened = result["ready"]["open"]
        per_stream = (rss_held - rss_idle) / opened if opened else float("nan")
        return {
            "streams": profile.memory_streams,
            "open_at_sample": opened,
            "seconds_to_open": result["ready"]["seconds_to_open"],
            "rss_started_mb": round(rss_started / MB, 2),
            "rss_idle_mb": round(rss_idle / MB, 2),
            "rss_open_mb": round(rss_held / MB, 2),
            "rss_after_mb": round(rss_bytes(child.pid) / MB, 2),
            "per_stream_kb": round(per_stream / 1024, 2),
            "summary": result["summary"],
            "shape": {**_shape_dict(profile.memory), "interval_s": profile.memory.interval},
            "config": MEMORY_CONFIG,
        }
    finally:
        run.stop(child)


def scaling(run: Run) -> dict[str, Any]:
    """Translated chunks per second with one and two uvicorn workers (not pinned)."""
    profile = run.options.profile
    run.shape(profile.throughput)
    results: dict[str, Any] = {}
    for workers in (1, 2):
        child, port = run.start_workers(workers)
        try:
            spec = arms.proxy(port, name=f"workers-{workers}")
            plan = {
                "kind": "throughput",
                "shape": _shape_dict(profile.throughput),
                "arms": [spec],
                "concurrency": profile.scaling_concurrency,
                "duration": profile.scaling_seconds,
                "timeout": 120,
            }
            cpu_before = cpu_seconds(child.pid, with_children=True)
            summary = run.load(plan, timeout=profile.scaling_seconds + 300)["arms"][spec["name"]]
            used = cpu_seconds(child.pid, with_children=True) - cpu_before
            summary["arm_cpu_seconds"] = round(used, 3)
            summary["rss_mb"] = round(rss_bytes(child.pid, with_children=True) / MB, 2)
            results[str(workers)] = summary
        finally:
            run.stop(child)
    return {"concurrency": profile.scaling_concurrency, "workers": results}


# ---- the whole run ------------------------------------------------------------------------


def _litellm(run: Run) -> tuple[Child | None, int, dict[str, Any]]:
    info: dict[str, Any] = {"pinned": litellm_arm.pinned_version()}
    if not run.options.litellm:
        info["status"] = "skipped (--no-litellm)"
        return None, 0, info
    try:
        setup = litellm_arm.ensure_venv(run.options.litellm_venv)
        child, port = litellm_arm.start(setup, run.work, run.upstream_port, run.arm_cpus)
    except Exception as exc:  # any failure leaves the other arms to run
        info["status"] = f"missing: {type(exc).__name__}: {str(exc)[-1500:]}"
        return None, 0, info
    run.children.append(child)
    info["status"] = "ok"
    info["config"] = litellm_arm.config_text(run.upstream_port)
    info["environment"] = litellm_arm.ENVIRONMENT
    info["rss_idle_mb"] = round(rss_bytes(child.pid) / MB, 2)
    return child, port, info


def execute(options: Options) -> dict[str, Any]:
    run = Run(options)
    began = time.time()
    busy_before, own_before = busy_cpu_seconds(), own_cpu_seconds()
    sampler = Sampler(run.live)
    sampler.start()
    results: dict[str, Any] = {
        "noisy": None,  # set at the end: other work's share of the CPU above NOISY_SHARE
        "meta": {
            "profile": options.profile.name,
            "profile_settings": asdict(options.profile),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
            "loadavg_start": os.getloadavg(),
            "machine": machine(),
            "versions": versions(),
            "pinning": {
                "harness_cpus": sorted(run.harness_cpus or []),
                "arm_cpus": sorted(run.arm_cpus or []),
            },
            "traffic_log": 'off (the default: [traffic_log] path = "")',
        },
    }
    try:
        run.start_upstream()
        proxy_child, proxy_port = run.start_proxy("proxy")
        relay_child, relay_port = run.start_relay()
        specs = [arms.direct(run.upstream_port), arms.relay(relay_port), arms.proxy(proxy_port)]
        pids = {"proxy": proxy_child.pid, "relay": relay_child.pid}
        extra_levels: dict[str, set[int]] = {}
        if options.traffic_log_arm:
            traffic = {"traffic_log.path": f'"{run.work / "traffic.jsonl"}"'}
            logged_child, logged_port = run.start_proxy("proxy-traffic-log", traffic)
            specs.append(arms.proxy(logged_port, name="proxy-traffic-log"))
            extra_levels["proxy-traffic-log"] = {1, 64}
            pids["proxy-traffic-log"] = logged_child.pid
        litellm_child, litellm_port, results["meta"]["litellm"] = _litellm(run)
        specs.append(arms.direct_compatible(run.upstream_port))
        if litellm_child is not None:
            specs.append(arms.litellm(litellm_port))
            pids["litellm"] = litellm_child.pid
        results["latency"] = sweep(run, specs, extra_levels, pids)
        heavy = [s for s in specs if s["name"] in ("direct", "proxy", "litellm")]
        results["throughput"] = throughput(run, heavy, pids)
        results["rss_after_load_mb"] = {
            name: round(rss_bytes(pid) / MB, 2) for name, pid in pids.items()
        }
        run.stop_all()
        run.start_upstream()
        results["memory"] = memory(run)
        if options.scaling:
            results["scaling"] = scaling(run)
    finally:
        run.stop_all()
        per_second = sampler.stop()
    meta = results["meta"]
    meta["loadavg_end"] = os.getloadavg()
    meta["seconds"] = round(time.time() - began, 1)
    meta["machine_noise"] = noise(busy_before, own_before, time.time() - began)
    meta["machine_noise"]["other_cpu_share_per_s"] = per_second
    meta["machine_noise"]["noisy_above_share"] = NOISY_SHARE
    results["noisy"] = meta["machine_noise"]["other_cpu_share"] > NOISY_SHARE
    return results
