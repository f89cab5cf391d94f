"""The service image (deploy/docker/Dockerfile, built once per service by docker-compose.yml),
checked offline: a builder stage that installs from uv.lock with --frozen, a slim runtime stage
that runs as a user other than root with a health check; the entrypoint starts every process
the code knows, with arguments its parser accepts; the build context leaves out what it must."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import tasdir.process
import yaml
from packaging.specifiers import SpecifierSet
from tasdir.process import PROCESSES
from tasdir.settings import SettingsError
from tasdir_cli.services import definitions

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"


@dataclass
class Instruction:
    keyword: str
    text: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[str]:
        return [i.text for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment line inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        found.append(Instruction(keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued instruction"
    return found


def global_args(parsed: list[Instruction]) -> dict[str, str]:
    """The ARG defaults declared before the first FROM."""
    defaults: dict[str, str] = {}
    for instruction in parsed:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and "=" in instruction.text:
            name, _, value = instruction.text.partition("=")
            defaults[name] = value.strip('"')
    return defaults


def stages(text: str) -> list[Stage]:
    parsed = instructions(text)
    defaults = global_args(parsed)
    found: list[Stage] = []
    for instruction in parsed:
        if instruction.keyword == "FROM":
            words = instruction.text.split()
            words = [w for w in words if not w.startswith("--platform")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m[1], m[0]), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(Stage(base, name, []))
        elif found:
            found[-1].instructions.append(instruction)
    return found


def dockerfile() -> list[Stage]:
    return stages(DOCKERFILE.read_text())


def test_the_image_is_built_in_stages() -> None:
    built = dockerfile()
    assert len(built) >= 2
    builder, runtime = built[0], built[-1]
    assert builder.name
    copies = runtime.all("COPY")
    assert any(f"--from={builder.name}" in copy for copy in copies)
    # The runtime gets the environment, not the tools that built it.
    assert not any("uv " in run or "pip install" in run for run in runtime.all("RUN"))


def test_the_runtime_is_a_slim_python_that_the_workspace_supports() -> None:
    runtime = dockerfile()[-1]
    match = re.fullmatch(r"python:(3\.\d+)-slim(-\w+)?", runtime.base)
    assert match, runtime.base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"{match[1]}.0"), (match[1], requires)
    # The builder's interpreter is the runtime's: the environment's links point at it.
    assert dockerfile()[0].base == runtime.base


def test_the_builder_installs_from_the_lock_file_only() -> None:
    builder = dockerfile()[0]
    runs = [run for run in builder.all("RUN") if re.search(r"\buv (sync|export|pip)\b", run)]
    assert runs
    for run in runs:
        assert "--frozen" in run, run
        assert "--no-dev" in run, run
        assert re.search(r"--package[ =]", run), run
    # The lock file is in the build before the first install.
    first_install = builder.instructions.index(
        next(i for i in builder.instructions if i.text in runs)
    )
    copied_before = " ".join(
        i.text for i in builder.instructions[:first_install] if i.keyword == "COPY"
    )
    assert "uv.lock" in copied_before
    # The workspace's packages go in as wheels, not as links back into the build folder.
    assert any("--no-editable" in run for run in runs)


def test_the_builder_has_every_manifest_of_the_workspace() -> None:
    # uv reads every member's pyproject.toml to know the workspace, even to install one
    # package: a new member missing here breaks every image.
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = {
        path.relative_to(ROOT).as_posix()
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in ROOT.glob(pattern)
        if (path / "pyproject.toml").is_file()
    }
    assert members
    copied = " ".join(dockerfile()[0].all("COPY"))
    for member in members:
        assert f"{member}/pyproject.toml" in copied, member


def test_the_builder_uses_the_uv_of_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert pinned
    args = [arg for arg in dockerfile()[0].all("ARG") if arg.startswith("UV_VERSION=")]
    assert args == [f"UV_VERSION={pinned[1]}"]


def test_the_runtime_runs_as_a_user_other_than_root() -> None:
    runtime = dockerfile()[-1]
    users = runtime.all("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # The user is created in the image, with that id or name.
    created = " ".join(runtime.all("RUN"))
    assert re.search(rf"useradd\b.*(--uid {user}\b|\b{user}$)", created), created


def test_the_runtime_has_a_health_check_and_the_entrypoint() -> None:
    runtime = dockerfile()[-1]
    checks = runtime.all("HEALTHCHECK")
    assert len(checks) == 1 and "NONE" not in checks[0].upper()
    assert "healthcheck" in checks[0] and "/healthz" in checks[0]
    assert runtime.all("ENTRYPOINT") == ['["tasdir-entrypoint"]']
    copied = " ".join(runtime.all("COPY"))
    assert "deploy/docker/entrypoint.sh /usr/local/bin/tasdir-entrypoint" in copied
    env = " ".join(runtime.all("ENV"))
    assert "TASDIR_SERVICE=${SERVICE}" in env and "TASDIR_PORT=8000" in env


def test_every_service_of_the_compose_file_builds_a_service_that_exists() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    built = [s["build"] for s in services.values() if isinstance(s.get("build"), dict)]
    assert built
    for build in built:
        assert (ROOT / build["context"] / build["dockerfile"]) == DOCKERFILE
        service = build["args"]["SERVICE"]
        assert (ROOT / "services" / service / "src" / service / "__main__.py").is_file()


# --- the entrypoint ------------------------------------------------------------------------


def entrypoint_env(**env: str) -> dict[str, str]:
    """This environment less its TASDIR_* variables, with this environment's `python` first
    on the PATH, and `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASDIR_")}
    path = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    return {**clean, "PATH": path, **env}


def run_entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=entrypoint_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("process", PROCESSES)
def test_the_entrypoint_starts_every_process_with_arguments_it_accepts(
    process: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A stand-in `python` records the command line; the service's real `main` then parses it
    # and reaches the settings, where this test stops it (exit 2, "cannot start"). A bad
    # argument would end in argparse's usage line instead.
    recorded = tmp_path / "argv"
    stand_in = tmp_path / "bin" / "python"
    stand_in.parent.mkdir()
    stand_in.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {recorded}\n")
    stand_in.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASDIR_")}
    env.update(
        PATH=f"{stand_in.parent}{os.pathsep}{env.get('PATH', '')}", TASDIR_SERVICE="matching"
    )
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), process], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    argv = recorded.read_text().splitlines()
    assert argv[:3] == ["-m", "matching", process], argv

    def stop(*_args: object) -> None:
        raise SettingsError("stopped by the test")

    monkeypatch.setattr(tasdir.process, "configure_logging", lambda *_args: None)
    monkeypatch.setattr(tasdir.process, "get_settings", stop)
    with pytest.raises(SystemExit) as exited:
        tasdir.process.main(definitions()["matching"], argv[2:])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "matching: cannot start" in err, err
    assert "usage:" not in err
    if process != "migrate":
        assert argv[3:] == ["--host", "0.0.0.0", "--port", "8000"], argv


def test_the_entrypoint_runs_the_service_module() -> None:
    # The real interpreter this time: `python -m exporters api` parses its arguments, then
    # refuses to start in production without a secret, and says why.
    result = run_entrypoint("api", TASDIR_SERVICE="exporters", TASDIR_ENVIRONMENT="production")
    assert result.returncode == 2, result.stderr
    assert "exporters: cannot start" in result.stderr, result.stderr
    assert "TASDIR_JWT_SECRET" in result.stderr


def test_the_entrypoint_refuses_to_run_without_a_service() -> None:
    result = run_entrypoint("api")
    assert result.returncode != 0
    assert "TASDIR_SERVICE" in result.stderr


@pytest.fixture
def http_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path in ("/healthz", "/metrics") else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_health_check_probes_the_process_port(http_server: int) -> None:
    port = str(http_server)
    assert run_entrypoint("healthcheck", TASDIR_SERVICE="x", TASDIR_PORT=port).returncode == 0
    ok = run_entrypoint("healthcheck", "/metrics", TASDIR_SERVICE="x", TASDIR_PORT=port)
    assert ok.returncode == 0
    failing = run_entrypoint("healthcheck", "/readyz", TASDIR_SERVICE="x", TASDIR_PORT=port)
    assert failing.returncode == 1 and "unhealthy" in failing.stderr


def test_the_health_check_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = str(probe.getsockname()[1])
    assert run_entrypoint("healthcheck", TASDIR_SERVICE="x", TASDIR_PORT=free).returncode == 1


# --- the build context ---------------------------------------------------------------------


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _glob(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern: `*` and `?` within a folder name, `**` across folders."""
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex + r"\Z")


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out: a pattern that matches the path or one of
    its folders drops it, `!` takes it back, and the last pattern that matches decides."""
    parts = path.split("/")
    folders = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        glob = _glob(pattern.removeprefix("!").strip("/"))
        if any(glob.match(folder) for folder in folders):
            result = not pattern.startswith("!")
    return result


def test_the_build_context_leaves_out_local_state_and_caches() -> None:
    patterns = ignore_patterns()
    for path in (
        ".venv",
        ".tools/bin/uv",
        "var/exporters.db",
        ".git/HEAD",
        ".mypy_cache/x",
        ".ruff_cache/x",
        ".pytest_cache/x",
        ".hypothesis/examples",
        "shared/src/tasdir/__pycache__/api.cpython-312.pyc",
    ):
        assert ignored(path, patterns), path


def test_the_build_context_keeps_what_the_image_copies() -> None:
    patterns = ignore_patterns()
    sources = []
    for stage in dockerfile():
        for copy in stage.all("COPY"):
            words = [w for w in copy.split() if not w.startswith("--")]
            if any(w.startswith("--from") for w in copy.split()):
                continue
            sources += [w.replace("${SERVICE}", "matching") for w in words[:-1]]
    assert "uv.lock" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), f"{source} is copied but .dockerignore drops it"
    for module in ("shared/src/tasdir/process.py", "services/matching/src/matching/__main__.py"):
        assert not ignored(module, patterns)
