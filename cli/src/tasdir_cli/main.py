"""The `tasdir` command-line tool.

    tasdir run      [--host H] [--port P] [--data-dir DIR]        every service in one process
    tasdir stack    [--base-port P] [--port SERVICE=PORT ...]     every service as processes
    tasdir token    --role ROLE [--sub] [--org] [--provider] [--regions a,b] [--ttl]
    tasdir dlq      list|show|replay|discard SERVICE [MESSAGE_ID] [--all] [--limit N]
    tasdir outbox   parked SERVICE | retry SERVICE [EVENT_ID ...] [--all]
                    | republish SERVICE [--type PATTERN] [--to-service NAME]
    tasdir inbox    forget SERVICE --type PATTERN
    tasdir demo     seed | walkthrough | accounts | data      the demo data set and walkthrough
    tasdir reference show KIND                                 against a running system
    tasdir requests list [--status] [--region]                 (--base-url, and a dev token of
    tasdir match-sets show REQUEST_ID                           --role, --sub, --org...)

The configuration comes from the `TASDIR_*` variables, as for every service process. One that
cannot run ends the command with exit code 2 and a line that names the variable to set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from tasdir.settings import Settings, SettingsError, describe_error

from tasdir_cli.services import SERVICES, UnknownService, check_service, definitions

if TYPE_CHECKING:
    from rich.console import Console

    from tasdir_cli.devtoken import DevIdentity
    from tasdir_cli.dlq import Command

CHOICES = ", ".join(SERVICES)

app = typer.Typer(
    name="tasdir",
    help="Tasdir, the export-financing matchmaker: run it, operate it, sign dev tokens.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(
    help="A service's dead letters: list, show, replay into its queue, or discard them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
outbox_app = typer.Typer(
    help="A service's outbox: the rows set aside (parked), and replays of its history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
inbox_app = typer.Typer(
    help="A service's inbox: what its consumer has applied.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
demo_app = typer.Typer(
    help="The demo: a data set loaded through the public API, and the guided walkthrough.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
reference_app = typer.Typer(
    help="The reference data of a running system.", no_args_is_help=True, rich_markup_mode=None
)
requests_app = typer.Typer(
    help="The financing requests of a running system.", no_args_is_help=True, rich_markup_mode=None
)
match_sets_app = typer.Typer(
    help="The match sets of a running system.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(outbox_app, name="outbox")
app.add_typer(inbox_app, name="inbox")
app.add_typer(demo_app, name="demo")
app.add_typer(reference_app, name="reference")
app.add_typer(requests_app, name="requests")
app.add_typer(match_sets_app, name="match-sets")


def _service(value: str) -> str:
    try:
        return check_service(value)
    except UnknownService as exc:
        raise typer.BadParameter(str(exc)) from None


def _optional_service(value: str | None) -> str | None:
    return None if value is None else _service(value)


ServiceArgument = Annotated[
    str, typer.Argument(metavar="SERVICE", callback=_service, help=f"one of {CHOICES}")
]
EventTypes = Annotated[
    str,
    typer.Option(
        "--type",
        metavar="PATTERN",
        help="event types in topic syntax: '*' one word, '#' any words "
        "(e.g. 'exporters.exporter.#')",
    ),
]


def load_settings() -> Settings:
    """The settings from the environment; exit code 2 and the reason if they cannot run."""
    try:
        settings = Settings()
        for definition in definitions().values():
            if definition.check_settings is not None:
                definition.check_settings()
        return settings
    except (ValidationError, SettingsError) as exc:
        typer.echo(f"tasdir: invalid configuration: {describe_error(exc)}", err=True)
        raise typer.Exit(2) from None


def _finish(work: Coroutine[Any, Any, int]) -> None:
    """Run an operation; exit with its code, or 1 and the reason when a dependency fails."""
    from tasdir_cli.operations import OperationError

    try:
        code = asyncio.run(work)
    except OperationError as exc:
        typer.echo(f"tasdir: {exc}", err=True)
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


def _configure_logging(label: str) -> None:
    from tasdir.observability import configure_logging

    configure_logging(label)


# --- running it ------------------------------------------------------------------------------


@app.command()
def run(
    host: Annotated[str, typer.Option(help="the interface to listen on")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="PORT", min=1, max=65535, help="the port of the one API")
    ] = 8000,
    data_dir: Annotated[
        Path,
        typer.Option(
            envvar="DATA_DIR", file_okay=False, help="where the services' SQLite files go"
        ),
    ] = Path("var"),
    demo: Annotated[
        bool,
        typer.Option(
            envvar="DEMO",
            help="load the demo data set through the API, in the background (docs/demo.md)",
        ),
    ] = True,
) -> None:
    """Every service in one process, on SQLite files and an in-process bus (`make run`)."""
    from tasdir_cli.embedded import serve

    settings = load_settings()
    _configure_logging("embedded")
    # Ctrl-C is the way to stop it: uvicorn shuts down, then passes the signal on.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, data_dir, settings, demo=demo))


@app.command()
def stack(
    host: Annotated[str, typer.Option(help="the interface every process listens on")] = (
        "127.0.0.1"
    ),
    base_port: Annotated[
        int,
        typer.Option(
            envvar="STACK_PORT",
            help=f"the API of the first service; the others follow ({CHOICES})",
        ),
    ] = 8001,
    port: Annotated[
        list[str] | None,
        typer.Option(metavar="SERVICE=PORT", help="the API port of one service (repeatable)"),
    ] = None,
    log_dir: Annotated[
        Path | None, typer.Option(file_okay=False, help="also write each process's log here")
    ] = None,
    ready_timeout: Annotated[
        float, typer.Option(min=1, help="seconds for every API to answer /readyz")
    ] = 60.0,
    stop_grace: Annotated[
        float, typer.Option(min=0, help="seconds between SIGTERM and SIGKILL when stopping")
    ] = 10.0,
) -> None:
    """Every service as its API, consumer and relay processes on RabbitMQ, Redis and
    PostgreSQL (`make stack`). The relays serve /metrics on the API port + 100, the consumers
    on + 200."""
    from tasdir_cli.stack import StackOptions, run_stack, service_ports

    try:
        ports = service_ports(base_port, port or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = load_settings()
    options = StackOptions(
        ports=ports,
        host=host,
        log_dir=log_dir,
        ready_timeout=ready_timeout,
        stop_grace=stop_grace,
    )
    code = asyncio.run(run_stack(options, settings))
    if code:
        raise typer.Exit(code)


@app.command()
def token(
    role: Annotated[
        str, typer.Option(help="exporter, provider, advisor or admin", show_default=False)
    ],
    sub: Annotated[str | None, typer.Option(help="the subject; default dev-<role>")] = None,
    org: Annotated[str | None, typer.Option(help="the organisation; default the subject")] = None,
    provider: Annotated[
        str | None, typer.Option(help="a provider's provider_id (a UUID); default a new one")
    ] = None,
    regions: Annotated[
        str | None,
        typer.Option(
            help="an advisor's regions, comma-separated; default casablanca-settat,souss-massa"
        ),
    ] = None,
    ttl: Annotated[int, typer.Option(help="the lifetime in seconds")] = 12 * 3600,
) -> None:
    """Print a dev JWT, and nothing else, on stdout (`make token`)."""
    from tasdir_cli.devtoken import dev_identity, dev_token

    if ttl <= 0:
        raise typer.BadParameter("must be positive", param_hint="'--ttl'")
    try:
        identity = dev_identity(
            role.strip(),
            sub=sub,
            org=org,
            provider_id=provider,
            regions=regions.split(",") if regions else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = load_settings()
    if not settings.secret:
        typer.echo(
            "tasdir: no secret to sign with: tokens are verified with TASDIR_JWT_JWKS_URL; "
            "set TASDIR_JWT_SECRET to sign dev tokens",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(dev_token(settings, identity, ttl_seconds=ttl))


# --- against a running system: the demo, the reference data, requests, match sets -------------

BaseUrl = Annotated[
    str,
    typer.Option(
        envvar="BASE_URL", help="the running system's URL (make run; make up's gateway :8080)"
    ),
]
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
Seed = Annotated[int | None, typer.Option("--seed", help="the data set's random seed; default 212")]
Role = Annotated[
    str, typer.Option(help="the role of the dev token used: exporter, provider, advisor or admin")
]
Sub = Annotated[str | None, typer.Option(help="its subject; default dev-<role>")]
Org = Annotated[str | None, typer.Option(help="its organisation (an exporter's)")]
ProviderId = Annotated[str | None, typer.Option("--provider", help="a provider's id (a UUID)")]
Regions = Annotated[
    str | None,
    typer.Option(
        help="an advisor's regions, comma-separated; default casablanca-settat,souss-massa"
    ),
]
Lang = Annotated[str, typer.Option(help="the language of names and reasons: en or fr")]


def _seed(chosen: int | None) -> int:
    from tasdir_cli.demo.generator import DEFAULT_SEED

    return DEFAULT_SEED if chosen is None else chosen


def _who(
    role: str,
    sub: str | None,
    org: str | None,
    provider: str | None,
    regions: str | None,
) -> DevIdentity:
    from tasdir_cli.devtoken import dev_identity

    try:
        return dev_identity(
            role.strip(),
            sub=sub,
            org=org,
            provider_id=provider,
            regions=regions.split(",") if regions else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _console() -> Console:
    """Rich output; 120 columns when it is not a terminal (a pipe, a log) unless COLUMNS says."""
    import os
    import sys

    from rich.console import Console

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
    return Console(highlight=False, width=width)


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


@demo_app.command("seed")
def demo_seed(
    base_url: BaseUrl = DEFAULT_BASE_URL,
    seed: Seed = None,
    deals: Annotated[
        bool, typer.Option(help="also take the requests through the deal flow (their stories)")
    ] = True,
) -> None:
    """Load the demo data set into a running system through its public API, with progress bars;
    what is there already is left as it is (seeding twice creates nothing)."""
    from tasdir_cli.demo import commands

    settings = load_settings()
    chosen = _seed(seed)
    _exit(
        asyncio.run(commands.seed(base_url, settings, _console(), seed_value=chosen, deals=deals))
    )


@demo_app.command("walkthrough")
def demo_walkthrough(base_url: BaseUrl = DEFAULT_BASE_URL, seed: Seed = None) -> None:
    """The guided demo (`make demo`): one deal from a request to an accepted offer, each step
    printed; it loads the demo catalogue first if the system has none."""
    from tasdir_cli.demo import commands

    settings = load_settings()
    _exit(asyncio.run(commands.walk(base_url, settings, _console(), seed_value=_seed(seed))))


@demo_app.command("accounts")
def demo_accounts(base_url: BaseUrl = DEFAULT_BASE_URL, seed: Seed = None) -> None:
    """Dev tokens of the demo's exporter, advisor, bank and admin (once the data set is
    loaded)."""
    from tasdir_cli.demo import commands

    settings = load_settings()
    chosen = _seed(seed)
    _exit(asyncio.run(commands.show_accounts(base_url, settings, _console(), seed_value=chosen)))


@demo_app.command("data")
def demo_data(
    seed: Seed = None,
    output: Annotated[
        Path | None, typer.Option(dir_okay=False, help="write it here instead of stdout")
    ] = None,
) -> None:
    """The demo data set of a seed as JSON, without loading it: the same seed, the same bytes."""
    from tasdir_cli.demo.generator import generate

    text = generate(_seed(seed)).to_json()
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


@reference_app.command("show")
def reference_show(
    kind: Annotated[
        str,
        typer.Argument(
            help="regions, countries, blocs, world-regions, currencies, hs-chapters, "
            "instruments or fx"
        ),
    ],
    base_url: BaseUrl = DEFAULT_BASE_URL,
    lang: Lang = "en",
    role: Role = "admin",
    sub: Sub = None,
) -> None:
    """One list of the reference data (/v1/reference/KIND), as a table."""
    from tasdir_cli.demo import commands

    if kind not in commands.REFERENCE_KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(commands.REFERENCE_KINDS)}")
    who = _who(role, sub, None, None, None)
    settings = load_settings()
    _exit(asyncio.run(commands.reference_show(base_url, settings, _console(), who, kind, lang)))


@requests_app.command("list")
def requests_list(
    base_url: BaseUrl = DEFAULT_BASE_URL,
    status: Annotated[str | None, typer.Option(help="only this status (matched, referred...)")] = (
        None
    ),
    region: Annotated[str | None, typer.Option(help="only this region")] = None,
    limit: Annotated[int, typer.Option(min=1, help="list at most this many")] = 50,
    role: Role = "admin",
    sub: Sub = None,
    org: Org = None,
    regions: Regions = None,
) -> None:
    """The financing requests the token may see (an exporter its own, an advisor its regions',
    an admin all), oldest first."""
    from tasdir_cli.demo import commands

    who = _who(role, sub, org, None, regions)
    settings = load_settings()
    _exit(
        asyncio.run(
            commands.requests_list(
                base_url, settings, _console(), who, status=status, region=region, limit=limit
            )
        )
    )


@match_sets_app.command("show")
def match_sets_show(
    request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID", help="the request's id")],
    base_url: BaseUrl = DEFAULT_BASE_URL,
    lang: Lang = "en",
    excluded: Annotated[int, typer.Option(min=0, help="show this many nearest misses")] = 10,
    role: Role = "admin",
    sub: Sub = None,
    org: Org = None,
    provider: ProviderId = None,
    regions: Regions = None,
) -> None:
    """A request's match set: its ranked matches with every reason, the nearest misses with
    the rules they fail, and the audit trail. An advisor's first read opens the set (it moves
    to in_review); an admin's or the exporter's does not."""
    from tasdir_cli.demo import commands

    who = _who(role, sub, org, provider, regions)
    settings = load_settings()
    _exit(
        asyncio.run(
            commands.match_set_show(
                base_url, settings, _console(), who, request_id, lang=lang, excluded=excluded
            )
        )
    )


# --- dead letters ------------------------------------------------------------------------------


MessageId = Annotated[
    str | None, typer.Argument(metavar="MESSAGE_ID", help="the message id of one dead letter")
]
Every = Annotated[bool, typer.Option("--all", help="act on every dead letter")]


def _dlq(command: Command, service: str, message_id: str | None, every: bool, limit: int) -> None:
    from tasdir_cli.dlq import BrokerUnreachable
    from tasdir_cli.dlq import run as run_dlq

    if command != "list" and not (every or message_id):
        raise typer.BadParameter(f"{command} needs a MESSAGE_ID or --all")
    if every and message_id:
        raise typer.BadParameter("give a MESSAGE_ID or --all, not both")
    settings = load_settings()
    try:
        code = asyncio.run(
            run_dlq(
                command,
                service,
                amqp_url=settings.amqp_url,
                message_id=message_id,
                every=every,
                limit=limit,
            )
        )
    except BrokerUnreachable as exc:
        typer.echo(f"tasdir: RabbitMQ (TASDIR_AMQP_URL) is unreachable: {exc}", err=True)
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


@dlq_app.command("list")
def dlq_list(
    service: ServiceArgument,
    limit: Annotated[int, typer.Option(min=1, help="list at most this many")] = 100,
) -> None:
    """One JSON line per dead letter: its id, type, reason, queue and deaths."""
    _dlq("list", service, None, False, limit)


@dlq_app.command("show")
def dlq_show(
    service: ServiceArgument,
    message_id: Annotated[
        str, typer.Argument(metavar="MESSAGE_ID", help="the message id of the dead letter")
    ],
) -> None:
    """One dead letter, its body included, as JSON."""
    _dlq("show", service, message_id, False, 100)


@dlq_app.command("replay")
def dlq_replay(
    service: ServiceArgument, message_id: MessageId = None, every: Every = False
) -> None:
    """Send dead letters back to the service's own queue (no other service sees them again)."""
    _dlq("replay", service, message_id, every, 100)


@dlq_app.command("discard")
def dlq_discard(
    service: ServiceArgument, message_id: MessageId = None, every: Every = False
) -> None:
    """Drop dead letters for good."""
    _dlq("discard", service, message_id, every, 100)


# --- the outbox and the inbox -------------------------------------------------------------------


@outbox_app.command("parked")
def outbox_parked(
    service: ServiceArgument,
    limit: Annotated[int, typer.Option(min=1, help="list at most this many")] = 1000,
) -> None:
    """One JSON line per outbox row the relay set aside, oldest first."""
    from tasdir_cli.operations import list_parked

    settings = load_settings()
    _configure_logging(f"{service}.outbox")
    _finish(list_parked(service, settings, limit=limit))


@outbox_app.command("retry")
def outbox_retry(
    service: ServiceArgument,
    event_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="EVENT_ID", help="the event ids of parked rows"),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="every parked row")] = False,
) -> None:
    """Put parked rows back in the relay's way, their failure clock reset."""
    from tasdir_cli.operations import retry_parked

    if not event_ids and not every:
        raise typer.BadParameter("give the EVENT_IDs to retry, or --all")
    if event_ids and every:
        raise typer.BadParameter("give EVENT_IDs or --all, not both")
    settings = load_settings()
    _configure_logging(f"{service}.outbox")
    _finish(retry_parked(service, settings, None if every else event_ids))


@outbox_app.command("republish")
def outbox_republish(
    service: ServiceArgument,
    pattern: EventTypes = "#",
    to_service: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            callback=_optional_service,
            help=f"feed only this service's queue ({CHOICES})",
        ),
    ] = None,
) -> None:
    """Publish the service's sent events again, in commit order, with their event ids."""
    from tasdir_cli.operations import republish

    settings = load_settings()
    _configure_logging(f"{service}.outbox")
    _finish(republish(service, settings, pattern=pattern, to_service=to_service))


@inbox_app.command("forget")
def inbox_forget(
    service: ServiceArgument,
    pattern: Annotated[
        str,
        typer.Option(
            "--type",
            metavar="PATTERN",
            show_default=False,
            help="the event types to forget, in topic syntax (e.g. 'exporters.exporter.#')",
        ),
    ],
) -> None:
    """Forget the events the service's consumer applied, so that a replay applies them again
    (empty the projection first)."""
    from tasdir_cli.operations import forget_events

    settings = load_settings()
    _configure_logging(f"{service}.inbox")
    _finish(forget_events(service, settings, pattern=pattern))


__all__ = ["app", "load_settings"]
