"""``MESH_SENSOR_INTERVAL_SECONDS`` sets how often each domain's sensors may tick (default 30 s)."""

from __future__ import annotations

import pytest

from mesh.errors import MeshError
from mesh.orchestration.definitions import build_domain

SENSORS = ("customer_automation", "customer_slo_monitor")


def intervals(definitions) -> dict[str, int]:
    found = {sensor.name: sensor.minimum_interval_seconds for sensor in definitions.sensors}
    return {name: found[name] for name in SENSORS}


def test_the_sensors_tick_every_30_seconds_by_default(monkeypatch):
    monkeypatch.delenv("MESH_SENSOR_INTERVAL_SECONDS", raising=False)
    assert intervals(build_domain("customer")) == dict.fromkeys(SENSORS, 30)


def test_the_setting_sets_every_sensor_of_a_domain(monkeypatch):
    monkeypatch.setenv("MESH_SENSOR_INTERVAL_SECONDS", "5")
    assert intervals(build_domain("customer")) == dict.fromkeys(SENSORS, 5)


@pytest.mark.parametrize("value", ["0", "-3", "fast", "2.5"])
def test_a_value_that_is_not_a_positive_whole_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("MESH_SENSOR_INTERVAL_SECONDS", value)
    with pytest.raises(MeshError, match=f"MESH_SENSOR_INTERVAL_SECONDS must be .* found '{value}'"):
        build_domain("customer")
