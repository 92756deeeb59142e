"""The sizes of a benchmark run: stream shapes, concurrency levels and scenario settings for
the full run, `--quick`, and the smoke test's tiny run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shape:
    frames: int
    frame_bytes: int
    interval: float


@dataclass(frozen=True, slots=True)
class Level:
    """One concurrency level: `rounds` rounds of `per_round` requests per arm."""

    concurrency: int
    rounds: int
    per_round: int
    shape: Shape


@dataclass(frozen=True, slots=True)
class Profile:
    """Sizes of every scenario; on 2 cores `FULL` takes 9 to 15 minutes, `QUICK` about 3."""

    name: str
    levels: tuple[Level, ...]
    arm_budget: float  # seconds one arm may spend at one level before its rounds are skipped
    throughput: Shape
    throughput_concurrency: int
    throughput_seconds: float
    memory: Shape
    memory_streams: int
    memory_ramp: float  # new streams per second
    scaling_concurrency: int
    scaling_seconds: float


# Sequential (c=1) streams are short, so there are many samples of the per-request cost.
SEQUENTIAL = Shape(12, 16, 0.005)
# Concurrent streams look like a model answering: a token-sized piece every 25 ms for about
# a second. Shorter streams would load the arms with more new requests per second than
# concurrent users of a model ever send (see docs/benchmarks.md).
STREAM = Shape(40, 16, 0.025)
# Between two streams a connection pauses at random up to this share of a stream's length
# (bench.loadgen.Pacing): concurrent streams stay out of step, as independent users are.
THINK = 0.1
FULL = Profile(
    name="full",
    levels=(
        Level(1, 10, 30, SEQUENTIAL),
        Level(16, 6, 32, STREAM),
        Level(64, 5, 128, STREAM),
        Level(256, 3, 512, STREAM),
    ),
    arm_budget=60.0,
    throughput=Shape(2000, 16, 0.0),
    throughput_concurrency=8,
    throughput_seconds=8.0,
    memory=Shape(24, 16, 0.5),
    memory_streams=1000,
    memory_ramp=400.0,
    scaling_concurrency=16,
    scaling_seconds=6.0,
)
QUICK = Profile(
    name="quick",
    levels=(
        Level(1, 3, 10, SEQUENTIAL),
        Level(16, 1, 32, STREAM),
        Level(64, 1, 128, STREAM),
        Level(256, 1, 256, STREAM),
    ),
    arm_budget=15.0,
    throughput=Shape(2000, 16, 0.0),
    throughput_concurrency=8,
    throughput_seconds=2.0,
    memory=Shape(10, 16, 0.5),
    memory_streams=1000,
    memory_ramp=500.0,
    scaling_concurrency=16,
    scaling_seconds=2.0,
)
# A tiny run for the smoke test: seconds, no LiteLLM.
SMOKE = Profile(
    name="smoke",
    levels=(
        Level(1, 2, 3, Shape(8, 16, 0.002)),
        Level(4, 2, 8, Shape(8, 16, 0.002)),
        # Past the default pool, as FULL's and QUICK's c=256: its own proxy, a larger pool.
        Level(256, 1, 64, Shape(8, 16, 0.002)),
    ),
    arm_budget=10.0,
    throughput=Shape(200, 16, 0.0),
    throughput_concurrency=2,
    throughput_seconds=0.5,
    memory=Shape(8, 16, 0.2),
    memory_streams=20,
    memory_ramp=200.0,
    scaling_concurrency=2,
    scaling_seconds=0.5,
)
PROFILES = {profile.name: profile for profile in (FULL, QUICK, SMOKE)}
