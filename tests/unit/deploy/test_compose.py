"""docker-compose.yml, checked offline (no Docker engine runs here): the broker gets its vhost
and a user that other containers may use, and the topology definitions are loaded; every service
runs as a migration, an API, a consumer and a relay built from its image; the start-up order is
gated on health checks and on the migrations; the settings are the ones the code reads; and no
two containers publish one host port. The gateway's routes are checked in
test_compose_gateway.py, the Dockerfile in test_dockerfiles.py."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from tasdir.settings import DEV_JWT_SECRET, Settings, SettingsError
from tasdir_cli.services import SERVICES

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = ("api", "consumer", "relay")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


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


# --- the service containers ---------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)


def interpolate(text: str, shell: Mapping[str, str]) -> str:
    """`text` as `docker compose` resolves it against the shell's environment: `${VAR}`,
    `$VAR`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$$`."""

    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["bare"] or match["name"]
        op, arg = match["op"] or "", match["arg"] or ""
        value = shell.get(name)
        missing = not value if op.startswith(":") else value is None
        if not missing:
            return value or ""
        if op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        return arg if op.endswith("-") else ""

    return _VARIABLE.sub(one, text)


def container(service: str, process: str) -> str:
    """The compose service of one process: (`credit_products`, `api`) -> `credit-products-api`."""
    return f"{service.replace('_', '-')}-{process}"


def dependencies(service: Mapping[str, Any]) -> dict[str, str]:
    """`depends_on` as {service: condition}; the list form means `service_started`."""
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {
        name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()
    }


def one_shots(services: Mapping[str, Any]) -> set[str]:
    """The containers that run once and exit (`restart: "no"`)."""
    return {name for name, service in services.items() if service.get("restart") == "no"}


def health_test(service: Mapping[str, Any]) -> list[str] | None:
    check = service.get("healthcheck") or {}
    if check.get("disable") or not check.get("test") or check["test"] == ["NONE"]:
        return None
    test = check["test"]
    return [str(part) for part in test] if isinstance(test, list) else ["CMD-SHELL", str(test)]


def container_env(service: Mapping[str, Any], shell: Mapping[str, str]) -> dict[str, str]:
    """A container's environment as compose builds it: a key without a value takes the
    shell's value, and is left out when the shell has none."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(
            item.split("=", 1) if "=" in item else (item, None) for item in environment
        )
    resolved: dict[str, str] = {}
    for key, value in environment.items():
        if value is None:
            if key in shell:
                resolved[key] = shell[key]
        else:
            resolved[key] = interpolate(str(value), shell)
    return resolved


def published_ports(service: Mapping[str, Any], shell: Mapping[str, str]) -> Iterator[str]:
    """Each host address:port the service publishes (IPv4 and the short or long syntax)."""
    for port in service.get("ports", []):
        if isinstance(port, dict):
            if port.get("published") is not None:
                host_ip = interpolate(str(port.get("host_ip", "0.0.0.0")), shell)
                yield f"{host_ip}:{interpolate(str(port['published']), shell)}"
            continue
        parts = interpolate(str(port), shell).split("/")[0].split(":")
        if len(parts) == 1:
            continue  # a container port only: Docker picks a free host port
        host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        yield f"{host_ip}:{parts[-2]}"


def test_every_container_has_an_image_or_a_build() -> None:
    services = compose()["services"]
    assert services
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        build = service.get("build")
        if isinstance(build, dict):
            context = ROOT / build.get("context", ".")
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_every_service_runs_its_four_processes_from_one_image_of_its_own() -> None:
    services = compose()["services"]
    images = set()
    for service in SERVICES:
        names = [container(service, process) for process in ("migrate", *PROCESSES)]
        for name in names:
            assert name in services, f"{name} is missing from docker-compose.yml"
        four = [services[name] for name in names]
        assert len({(s["image"], json.dumps(s["build"], sort_keys=True)) for s in four}) == 1
        assert four[0]["build"]["args"]["SERVICE"] == service
        # Named as deploy/kubernetes expects, and built here: never pulled from a registry.
        assert four[0]["image"].startswith(f"tasdir/{service}:")
        assert all(s.get("pull_policy") == "build" for s in four)
        for name, spec in zip(names, four, strict=True):
            assert spec["command"] == [name.rsplit("-", 1)[1]], name
        images.add(four[0]["image"])
    assert len(images) == len(SERVICES)


def test_every_long_running_container_has_a_health_check() -> None:
    services = compose()["services"]
    for name in services.keys() - one_shots(services):
        assert health_test(services[name]), f"{name} runs for good but has no health check"
    for service in SERVICES:
        api = health_test(services[container(service, "api")]) or []
        assert api[-1] == "/healthz", api
        for process in ("consumer", "relay"):
            check = health_test(services[container(service, process)]) or []
            assert check[-1] == "/metrics", (service, process, check)


def test_every_one_shot_container_is_awaited_so_that_up_wait_succeeds() -> None:
    # `docker compose up --wait` takes a container that exits, even with 0, as a failure,
    # unless a service waits for it with `service_completed_successfully`.
    services = compose()["services"]
    awaited = {
        target
        for service in services.values()
        for target, condition in dependencies(service).items()
        if condition == "service_completed_successfully"
    }
    assert awaited == one_shots(services)
    assert {container(service, "migrate") for service in SERVICES} <= awaited


def test_every_dependency_names_a_service_with_a_valid_condition() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for target, condition in dependencies(service).items():
            assert target in services, f"{name} depends on {target}, which does not exist"
            assert condition in CONDITIONS, (name, target, condition)
            if condition == "service_healthy":
                assert health_test(services[target]), f"{name} waits for {target} to be healthy"
            if condition == "service_completed_successfully":
                assert target in one_shots(services), f"{name} waits for {target} to exit"
    # No cycle: every container can start.
    started: set[str] = set()
    while len(started) < len(services):
        ready = {
            name
            for name, service in services.items()
            if name not in started and set(dependencies(service)) <= started
        }
        assert ready, f"a dependency cycle among {sorted(services.keys() - started)}"
        started |= ready


def test_migrations_complete_before_the_apis_consumers_and_relays_start() -> None:
    services = compose()["services"]
    for service in SERVICES:
        migrate = services[container(service, "migrate")]
        assert migrate["command"] == ["migrate"]
        assert dependencies(migrate).get("postgres") == "service_healthy"
        for process in PROCESSES:
            name = container(service, process)
            depends = dependencies(services[name])
            assert depends.get(container(service, "migrate")) == "service_completed_successfully"
            assert depends.get("postgres") == "service_healthy", name
            assert depends.get("rabbitmq") == "service_healthy", name
        assert dependencies(services[container(service, "api")]).get("redis") == "service_healthy"


def test_the_gateway_starts_once_every_api_is_healthy() -> None:
    services = compose()["services"]
    depends = dependencies(services["gateway"])
    for service in SERVICES:
        assert depends.get(container(service, "api")) == "service_healthy", service


@pytest.mark.parametrize(
    "shell",
    [{}, {"GATEWAY_PORT": "9000", "POSTGRES_PORT": "15432", "GATEWAY_ADDRESS": "0.0.0.0"}],
    ids=["defaults", "moved"],
)
def test_no_two_containers_publish_one_host_port(shell: dict[str, str]) -> None:
    services = compose()["services"]
    seen: dict[str, str] = {}
    for name, service in services.items():
        for address in published_ports(service, shell):
            port = address.rsplit(":", 1)[1]
            assert port not in seen, f"{name} and {seen[port]} both publish host port {port}"
            seen[port] = name
    # The processes publish nothing: they are reached through the gateway and scale freely.
    for service in SERVICES:
        for process in ("migrate", *PROCESSES):
            assert not services[container(service, process)].get("ports")
    assert "gateway" in seen.values()
    if shell:
        assert list(published_ports(services["gateway"], shell)) == ["0.0.0.0:9000"]


def test_only_loopback_ports_by_default() -> None:
    # The broker's user, PostgreSQL's trust authentication and the dev JWT secret are for
    # development: nothing listens beyond the machine unless asked to.
    for name, service in compose()["services"].items():
        for address in published_ports(service, {}):
            assert address.startswith("127.0.0.1:"), (name, address)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No TASDIR_* variable of the test run: only the container's environment counts."""
    for key in list(os.environ):
        if key.startswith("TASDIR_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_the_processes_get_the_settings_the_code_reads(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    services = compose()["services"]
    rabbit = services["rabbitmq"]["environment"]
    for service in SERVICES:
        for process in ("migrate", *PROCESSES):
            environment = container_env(services[container(service, process)], shell={})
            with clean_environment.context() as patch:
                for key, value in environment.items():
                    patch.setenv(key, value)
                settings = Settings()
            # Development by default, so that `make up` works with `make token`'s tokens.
            assert settings.environment == "development"
            assert settings.secret == DEV_JWT_SECRET
            amqp = urlsplit(settings.amqp_url)
            assert amqp.hostname in services and amqp.hostname == "rabbitmq"
            assert (amqp.username, amqp.password) == (
                rabbit["RABBITMQ_DEFAULT_USER"],
                rabbit["RABBITMQ_DEFAULT_PASS"],
            )
            assert urlsplit(settings.redis_url).hostname == "redis"
            database = urlsplit(settings.database_url(service))
            assert database.hostname == "postgres" and database.username == "postgres"
            assert database.path == f"/{settings.database_prefix}{service}"


def test_production_needs_a_secret_of_its_own(clean_environment: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert DEV_JWT_SECRET not in text
    api = compose()["services"][container("exporters", "api")]
    production = {"TASDIR_ENVIRONMENT": "production"}
    with clean_environment.context() as patch:
        for key, value in container_env(api, production).items():
            patch.setenv(key, value)
        with pytest.raises((ValidationError, SettingsError), match="TASDIR_JWT_SECRET"):
            Settings()
    secret = "s" * 40
    environment = container_env(api, {**production, "TASDIR_JWT_SECRET": secret})
    with clean_environment.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)
        settings = Settings()
    assert settings.environment == "production" and settings.secret == secret


def test_make_up_and_make_down_run_compose() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert phony and {"up", "down"} <= set(phony.group(1).split())
    recipes = {
        target: recipe.strip()
        for target, recipe in re.findall(r"^(up|down):[^\n]*\n\t([^\n]*)", makefile, re.MULTILINE)
    }
    assert recipes == {"up": "docker compose up -d --build --wait", "down": "docker compose down"}
