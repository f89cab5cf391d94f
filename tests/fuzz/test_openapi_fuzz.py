"""Schemathesis over every operation of the OpenAPI document of the embedded app (the three
services in one app, on SQLite in a fresh folder per session), as an admin, as an exporter and
with no token.

What runs: schemathesis's engine, as `schemathesis run` does, with every check enabled (its
default, the same as `--checks all`) and every phase: examples, coverage (schema-derived
boundary and negative cases, unexpected methods, missing headers), fuzzing (hypothesis, positive
and negative data) and the stateful phase, which follows the document's links (a provider
created, then read and revised through `$response.body#/id`; each list's `next_cursor` to its
next page) and the links schemathesis infers. `continue-on-failure` so that one run counts
every failure, not the first per operation. A failure of any check fails the test, and so does
any 5xx.

The size: `TASDIR_FUZZ_EXAMPLES` examples per operation and phase (default 20), the coverage
phase for the admin only (`TASDIR_FUZZ_COVERAGE`, `all` for every principal: about 100 s per
principal on two cores, over 50 operations) and `TASDIR_FUZZ_STATEFUL_STEPS` steps per stateful
scenario (default 10); `make fuzz` runs 500 examples and 50 steps. `TASDIR_FUZZ_SEED` fixes the
seed (a default one otherwise, so that CI is reproducible). Each run prints its totals (`-s`):
operations, cases by phase, links, 5xx answers, failures by check, the 422s accepted below.

What is accepted, and why (nothing is disabled): `positive_data_acceptance` expects a 2xx, 401,
403, 404, 409 or 429 for every request that the schema allows. Two 422s answer schema-valid
requests on purpose, both documented in the problem's `type`; a `filter_failure` hook accepts
exactly these two, and only from that check:
- `invalid-cursor`: a `cursor` is an opaque token, valid only as the `next_cursor` of the same
  list; no schema can tell a generated string from a real one. So the 422 is accepted only for a
  cursor that this list never issued: an `after_call` hook records every `next_cursor` each list
  answers, and a cursor it issued is never refused as `invalid-cursor`, in any phase (the
  `next_page` links of the stateful phase send them; the report counts the answers to them as
  `issued_cursors_sent`).
- `idempotency-key-reused`: the same `Idempotency-Key` sent again with another body. The
  generators reuse their example key across bodies; the IETF draft on the header asks for a 422.
- the deal flow's rules, likewise: `invalid-review`, `not-a-match`, `invalid-response` and
  `invalid-reply` (text rules, a product that is not a match of the set, an offer's currency,
  decimals and date).
- the exporters' domain rules, each its own problem type: `invalid-exporter`,
  `invalid-financing-request`, `invalid-consent` and `unknown-provider`. They are the rules a
  JSON Schema cannot state: across fields (an export turnover above the turnover, shares that
  sum past 100, `exporting_since` before `founded_year`, a currency's decimals), against the
  clock (a year or a date in the future or the past), or against data (a provider that exists).
  Every rule a schema can state is in the schema, and its 422 is a `validation-error`, which is
  never accepted here.
`object_level_authorization` runs, but passes without testing anything: it needs two
identities of the same role configured as peers, and every role here may read every provider.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from credit_products.domain.provider import Provider
from fastapi import FastAPI
from prometheus_client import Gauge
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.engine.statistic import Statistic
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi
from support.tokens import make_token
from tasdir.contracts import utcnow
from tasdir.metrics import OUTBOX_LAG, OUTBOX_PARKED, OUTBOX_PENDING
from tasdir.settings import Settings
from tasdir_cli.embedded import build_app

EXAMPLES = int(os.environ.get("TASDIR_FUZZ_EXAMPLES", "20"))
STATEFUL_STEPS = int(os.environ.get("TASDIR_FUZZ_STATEFUL_STEPS", "10"))
SEED = int(os.environ.get("TASDIR_FUZZ_SEED", "20261130"))
# The coverage phase (schema-derived boundary and negative cases, unexpected methods) is most of
# a run's time: about 9,000 cases per principal. `make test` runs it as the admin only, who
# reaches every operation; `make fuzz` runs it for every principal (`all`).
COVERAGE = os.environ.get("TASDIR_FUZZ_COVERAGE", "admin")

# A generous cap per principal against a hang: 20 examples of the 50 operations take about
# 100 s on two cores (the coverage phase, which does not depend on the examples, is most of it).
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(max(360, 6 * EXAMPLES))]

# The limiter stays on (429 is documented), far above what one run sends.
SETTINGS = Settings(environment="development", rate_limit_per_minute=10_000_000)

# A provider registered before the run, so that a provider's writes (products) can succeed.
FUZZ_PROVIDER_ID = UUID("6a1f0c2e-5b7d-4e3a-9c8f-1d2e3f4a5b6c")


async def seed_provider(system: Any) -> None:
    runtime = system["credit_products"]
    async with runtime.uow() as uow:
        if await uow.providers.get(FUZZ_PROVIDER_ID) is not None:
            return
        provider, registered = Provider.register(
            name="Banque du fuzz",
            kind="bank",
            country="MA",
            now=utcnow(),
            provider_id=FUZZ_PROVIDER_ID,
        )
        uow.providers.add(provider)
        uow.emit(provider, registered)
        await uow.commit()


# The order matters: the admin registers providers that the others then read.
PRINCIPALS: dict[str, dict[str, str]] = {
    "admin": {"Authorization": f"Bearer {make_token(SETTINGS, 'admin', sub='fuzz-admin')}"},
    "provider": {
        "Authorization": "Bearer "
        + make_token(SETTINGS, "provider", sub="fuzz-provider", provider_id=FUZZ_PROVIDER_ID)
    },
    "exporter": {
        "Authorization": "Bearer "
        + make_token(SETTINGS, "exporter", sub="fuzz-exporter", org="fuzz-exporter-org")
    },
    "anonymous": {},
}

# The problem types that answer a schema-valid request with a 422 by design (see above).
ACCEPTED_REJECTIONS = frozenset(
    {
        "invalid-cursor",
        "idempotency-key-reused",
        # The exporters' domain rules that no JSON Schema can state (see above).
        "invalid-exporter",
        "invalid-financing-request",
        "invalid-consent",
        "unknown-provider",
        # The products' rules that no JSON Schema can state (bounds against each other, a
        # guarantee's cover fields, a currency's decimals).
        "invalid-product",
        # The deal flow's rules that no JSON Schema can state: the rules for text (a note, a
        # question, an answer that is blank once trimmed or holds a forbidden character), a
        # product that is not a match of this set, an offer's currency, decimals and date
        # against the reference data and the clock.
        "invalid-review",
        "not-a-match",
        "invalid-response",
        "invalid-reply",
    }
)
OUTBOX_GAUGES = (OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_PARKED)


def _labelled(gauge: Gauge) -> set[tuple[str, ...]]:
    return {tuple(s.labels.values()) for metric in gauge.collect() for s in metric.samples}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The embedded app; schemathesis runs its lifespan on its own event loop thread."""
    gauges = [_labelled(gauge) for gauge in OUTBOX_GAUGES]
    yield build_app(tmp_path_factory.mktemp("fuzz-data"), SETTINGS, seeders=[seed_provider])
    asgi.shutdown_lifespans()
    # The embedded relays set the outbox gauges in the process-wide registry.
    for gauge, found in zip(OUTBOX_GAUGES, gauges, strict=True):
        for labels in _labelled(gauge) - found:
            gauge.remove(*labels)


def problem_kind(response: Any) -> str | None:
    """The last segment of a problem's `type`, or None for anything else."""
    try:
        kind = json.loads(response.content or b"{}").get("type")
    except (ValueError, AttributeError):
        return None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else None


def config(headers: dict[str, str], *, coverage: bool = True) -> schemathesis.Config:
    data: dict[str, Any] = {
        "seed": SEED,
        "continue-on-failure": True,
        "cache": {"enabled": False},
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "phases": {
            "coverage": {"enabled": coverage},
            "stateful": {"max-steps": STATEFUL_STEPS},
        },
    }
    if headers:
        data["headers"] = headers
    return schemathesis.Config.from_dict(data)


@dataclass
class Tally:
    """What one run did, by the same counts as the CLI's summary, and a bit more."""

    statistic: Statistic = field(default_factory=Statistic)
    cases_by_phase: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures_by_check: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, Any], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    # The `next_cursor`s each list answered, and the answers to requests that sent one back.
    issued_cursors: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    issued_cursors_sent: Counter[int] = field(default_factory=Counter)
    issued_cursors_refused: list[str] = field(default_factory=list)
    # The links (declared and inferred) the stateful phase followed.
    links: int = 0

    def add(self, phase: str, recorder: ScenarioRecorder) -> None:
        self.statistic.on_scenario_finished(recorder)
        self.cases_by_phase[phase] += len(recorder.cases)
        for node in recorder.cases.values():
            self.operations.add(node.value.operation.label)
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[interaction.response.status_code] += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                # One per operation and kind of failure, as schemathesis counts unique failures.
                key = (check.name, check.failure_info.failure)
                if key in self.failures:
                    continue
                self.failures_by_check[check.name] += 1
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction is not None else None
                answer = (
                    f"{response.status_code} {response.headers.get('content-type')} "
                    f"{(response.content or b'')[:300]!r}"
                    if response is not None
                    else "no response"
                )
                sample = check.failure_info.code_sample[:500]
                self.failures[key] = f"{sample}\n      -> {answer}"

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def _accepted(self, kind: str) -> int:
        return len({operation for operation, found in self.accepted if found == kind})

    def report(self, principal: str) -> str:
        lines = [
            f"[{principal}] operations={len(self.operations)} "
            f"cases={self.statistic.total_cases} "
            f"by_phase={dict(sorted(self.cases_by_phase.items()))} links={self.links} "
            f"server_errors={self.server_errors} failures={sum(self.failures_by_check.values())} "
            f"by_check={dict(sorted(self.failures_by_check.items()))} "
            f"accepted_422s={self.statistic.filtered_failures} "
            "(operations per kind: "
            + ", ".join(f"{kind} {self._accepted(kind)}" for kind in sorted(ACCEPTED_REJECTIONS))
            + ") "
            f"issued_cursors_sent={dict(sorted(self.issued_cursors_sent.items()))} "
            f"statuses={dict(sorted(self.statuses.items()))}"
        ]
        for (check, failure), sample in sorted(
            self.failures.items(), key=lambda item: (item[0][0], str(item[0][1].operation))
        ):
            lines.append(f"  {check} {failure.operation}: {failure.title}: {failure.message}")
            lines.append(f"    {sample}")
        lines += [f"  error: {error}" for error in self.errors]
        lines += [f"  issued cursor refused: {found}" for found in self.issued_cursors_refused]
        return "\n".join(lines)


def sent_cursor(case: Any) -> str | None:
    cursor = (case.query or {}).get("cursor")
    return cursor if isinstance(cursor, str) else None


def install_hooks(schema: Any, tally: Tally) -> None:
    """`after_call` records the cursors each list issues; `filter_failure` keeps every failure
    but the two documented 422s (see the docstring), and counts those it accepts."""

    def after_call(_context: Any, case: Any, response: Any) -> None:
        label = case.operation.label
        if sent_cursor(case) in tally.issued_cursors[label]:
            # Some of these are 422s for another parameter (a negative `limit`); none may be
            # about the cursor.
            tally.issued_cursors_sent[response.status_code] += 1
            if problem_kind(response) == "invalid-cursor":
                tally.issued_cursors_refused.append(f"{label} {case.query}")
        if response.status_code == 200:
            try:
                issued = json.loads(response.content or b"{}").get("next_cursor")
            except (ValueError, AttributeError):
                return
            if isinstance(issued, str):
                tally.issued_cursors[label].add(issued)

    def filter_failure(_context: Any, failure: Any, case: Any, response: Any) -> bool:
        kind = problem_kind(response) if response.status_code == 422 else None
        if not isinstance(failure, RejectedPositiveData) or kind not in ACCEPTED_REJECTIONS:
            return True
        if (
            kind == "invalid-cursor"
            and sent_cursor(case) in tally.issued_cursors[case.operation.label]
        ):
            return True  # the list refused a cursor it issued itself
        tally.accepted[(case.operation.label, kind)] += 1
        return False

    schema.hook("after_call")(after_call)
    schema.hook("filter_failure")(filter_failure)


def run(app: FastAPI, headers: dict[str, str], *, coverage: bool = True) -> Tally:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=config(headers, coverage=coverage)
    )
    tally = Tally()
    install_hooks(schema, tally)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tally.add(event.phase.value, event.recorder)
        elif isinstance(event, events.PhaseStarted) and isinstance(
            event.payload, events.StatefulPhasePayload
        ):
            tally.links = event.payload.transitions_total
        elif isinstance(event, events.NonFatalError):
            tally.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return tally


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_every_operation_answers_as_the_document_says(app: FastAPI, principal: str) -> None:
    tally = run(app, PRINCIPALS[principal], coverage=COVERAGE == "all" or principal == COVERAGE)
    report = tally.report(principal)
    print(report)
    assert tally.operations, "schemathesis found no operation"
    assert tally.server_errors == 0, report
    assert not tally.failures, report
    assert not tally.errors, report
    assert not tally.issued_cursors_refused, report
