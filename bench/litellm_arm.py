"""The LiteLLM arm: a pinned, hash-checked LiteLLM proxy in its own virtual environment, set up
for DashScope's OpenAI-compatible mode against the loopback simulator, with a fake key.

The virtual environment lives in bench/.work/litellm-venv and is reused while the requirements
file is unchanged. If it cannot be built or started, the run goes on without this arm and the
results say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.content import MODEL
from bench.locked_venv import ensure
from bench.procs import Child, free_port, wait_ready

REQUIREMENTS = Path(__file__).parent / "litellm" / "requirements.txt"
FAKE_KEY = "sk-fake-bench"
_INSTALL_TIMEOUT = 900.0


@dataclass(frozen=True, slots=True)
class LiteLLMSetup:
    version: str
    executable: Path


def pinned_version() -> str:
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if line.startswith("litellm=="):
            return line.split("==", 1)[1].split()[0]
    raise RuntimeError(f"no litellm pin in {REQUIREMENTS}")


def ensure_venv(env_dir: Path) -> LiteLLMSetup:
    """Build (or reuse) the venv: `pip install --require-hashes --no-deps -r requirements`."""
    ensure(env_dir, REQUIREMENTS, timeout=_INSTALL_TIMEOUT)
    return LiteLLMSetup(pinned_version(), env_dir.resolve() / "bin" / "litellm")


def config_text(upstream_port: int) -> str:
    """The proxy config: one model, DashScope's compatible mode on the simulator, nothing else
    (no database, no master key, no callbacks, no cost map download)."""
    return f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{MODEL}
      api_base: http://127.0.0.1:{upstream_port}/compatible-mode/v1
      api_key: {FAKE_KEY}
litellm_settings:
  drop_params: true
  telemetry: false
  turn_off_message_logging: true
  request_timeout: 120
general_settings:
  disable_spend_logs: true
"""


# Offline and quiet: the cost map ships in the wheel, nothing is sent anywhere.
ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
}
# Any of these would make LiteLLM look for a database or a cache server.
UNSET = ("DATABASE_URL", "DIRECT_URL", "REDIS_HOST", "REDIS_URL", "LITELLM_MASTER_KEY")


def start(
    setup: LiteLLMSetup, work: Path, upstream_port: int, cpus: frozenset[int] | None
) -> tuple[Child, int]:
    config = (work / "litellm.yaml").resolve()
    config.write_text(config_text(upstream_port), encoding="utf-8")
    port = free_port()
    argv = [
        str(setup.executable),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--telemetry",
        "False",
    ]
    child = Child(
        "litellm", argv, work / "litellm.log", cpus=cpus, env=ENVIRONMENT, cwd=work, unset=UNSET
    )
    wait_ready(child, port, "/health/liveliness", timeout=120)
    return child, port
