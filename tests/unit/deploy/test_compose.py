"""docker-compose.yml, checked offline (no Docker engine runs here): the broker gets its vhost
and a user that other containers may use, and the topology definitions are loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def definitions() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (ROOT / "deploy" / "rabbitmq" / "definitions.json").read_text()
    )
    return loaded


def test_rabbitmq_creates_a_vhost_and_a_user_that_containers_may_use() -> None:
    services = compose()["services"]
    rabbit = services["rabbitmq"]
    environment = rabbit.get("environment", {})
    loads_at_boot = "load_definitions" in json.dumps(rabbit)
    if loads_at_boot:
        # Definitions loaded at boot replace the default user and vhost: they must bring both.
        assert definitions().get("users") and definitions().get("vhosts")
    else:
        assert environment.get("RABBITMQ_DEFAULT_USER") not in (None, "guest")
        assert environment.get("RABBITMQ_DEFAULT_PASS")


def test_the_topology_definitions_are_loaded_after_the_broker_is_healthy() -> None:
    services = compose()["services"]
    rabbit = services["rabbitmq"]
    if "load_definitions" in json.dumps(rabbit):
        return
    loaders = [
        (name, service)
        for name, service in services.items()
        if any("definitions.json" in str(volume) for volume in service.get("volumes", []))
        and name != "rabbitmq"
    ]
    assert len(loaders) == 1
    _name, loader = loaders[0]
    assert loader["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    command = " ".join(loader["command"])
    user = rabbit["environment"]["RABBITMQ_DEFAULT_USER"]
    password = rabbit["environment"]["RABBITMQ_DEFAULT_PASS"]
    assert f"{user}:{password}" in command
    assert "/api/definitions" in command and "@/definitions.json" in command
    assert "--fail" in command


def test_every_service_with_a_port_has_a_health_check() -> None:
    for name, service in compose()["services"].items():
        if service.get("ports"):
            assert service.get("healthcheck"), name
