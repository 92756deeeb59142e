"""A DashScope native-protocol simulator: the upstream for `dashscope-proxy demo` and the tests."""

from proxy.simulator.app import MULTIMODAL_PATH, TEXT_PATH, ReceivedRequest, create_simulator_app
from proxy.simulator.scenarios import (
    SCENARIOS,
    Scenario,
    SimFrame,
    build_scenario,
    render_frame,
    select_scenario,
)

__all__ = [
    "MULTIMODAL_PATH",
    "SCENARIOS",
    "TEXT_PATH",
    "ReceivedRequest",
    "Scenario",
    "SimFrame",
    "build_scenario",
    "create_simulator_app",
    "render_frame",
    "select_scenario",
]
