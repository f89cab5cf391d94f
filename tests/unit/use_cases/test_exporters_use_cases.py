"""The use cases of exporters on fakes: no database, no broker, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from exporters.domain.exporter import DerivationRules, Exporter, Profile
from exporters.domain.financing_request import Terms
from exporters.service_layer import services
from tasdir.contracts import events
from tasdir.errors import Conflict, Invalid, NotFound
from unit.use_cases.fakes import FakeExportersUnitOfWork

RULES = DerivationRules()
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def profile(**changes: object) -> Profile:
    fields: dict[str, object] = {
        "legal_name": "Atlas Agrumes SARL",
        "ice": "001234567000089",
        "region": "souss-massa",
    }
    fields.update(changes)
    return Profile(**fields)  # type: ignore[arg-type]


def terms(**changes: object) -> Terms:
    fields: dict[str, object] = {
        "instrument": "pre_export_finance",
        "amount": Decimal("1500000"),
        "currency": "MAD",
        "tenor_days": 180,
        "destination": "CI",
        "hs_codes": ("0805",),
        "purpose": "new_contract",
        "payment_terms": "lc",
    }
    fields.update(changes)
    return Terms(**fields)  # type: ignore[arg-type]


async def register(uow: FakeExportersUnitOfWork, org: str = "atlas", **changes: object) -> Exporter:
    command = services.RegisterExporter(org=org, profile=profile(**changes))
    return await services.register_exporter(command, uow, RULES, clock)


async def test_registering_stores_the_exporter_and_emits_registered() -> None:
    uow = FakeExportersUnitOfWork()
    exporter = await register(uow)
    assert uow.commits == 1 and uow.results == [exporter]
    stored = uow.exporters.committed[exporter.id]
    assert stored.org == "atlas"
    (emitted,) = uow.emitted
    assert isinstance(emitted.event, events.ExporterRegistered)
    assert (emitted.aggregate_id, emitted.aggregate_version) == (stored.id, 1)
    assert emitted.event.region == "souss-massa" and emitted.event.status == "active"


def digits(ascii_digits: str, zero: int) -> str:
    """The same number in another script's digits (Arabic-Indic: 0x0660, fullwidth: 0xFF10)."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ice", "12345"),
        ("ice", digits("001234567000089", 0x0660)),
        ("ice", digits("001234567000089", 0xFF10)),
        ("ice", "00123456700008a"),
        ("region", "atlantis"),
        ("legal_name", "   "),
        ("legal_name", "Atlas\u0000Agrumes"),
        ("legal_name", "A\u202eB"),
    ],
    ids=[
        "short-ice",
        "arabic-indic-ice",
        "fullwidth-ice",
        "letter-ice",
        "unknown-region",
        "blank-name",
        "nul-name",
        "bidi-name",
    ],
)
async def test_an_invalid_registration_names_the_field_and_writes_nothing(
    field: str, value: str
) -> None:
    uow = FakeExportersUnitOfWork()
    with pytest.raises(Invalid) as refused:
        await register(uow, **{field: value})
    assert [error["field"] for error in refused.value.extra["errors"]] == [field]
    assert uow.commits == 0 and uow.exporters.committed == {} and uow.emitted == []


async def test_one_profile_per_organisation_and_per_ice() -> None:
    uow = FakeExportersUnitOfWork()
    await register(uow)
    with pytest.raises(Conflict) as same_org:
        await register(uow, ice="001234567000090")
    assert same_org.value.kind == "duplicate"
    with pytest.raises(Conflict) as same_ice:
        await register(uow, org="another-org")
    assert same_ice.value.kind == "duplicate-ice"
    assert uow.commits == 1 and len(uow.emitted) == 1


async def test_a_revision_checks_ownership_and_the_ice_of_others() -> None:
    uow = FakeExportersUnitOfWork()
    mine = await register(uow)
    await register(uow, org="other", ice="001234567000090")
    revise = services.ReviseExporter(mine.id, "atlas", {"employees": 40})
    revised = await services.revise_exporter(revise, uow, RULES, clock)
    assert (revised.employees, revised.version) == (40, 2)
    assert isinstance(uow.emitted[-1].event, events.ExporterUpdated)
    with pytest.raises(NotFound):
        await services.revise_exporter(
            services.ReviseExporter(mine.id, "other", {"employees": 1}),
            uow,
            RULES,
            clock,
        )
    with pytest.raises(Conflict):
        await services.revise_exporter(
            services.ReviseExporter(mine.id, "atlas", {"ice": "001234567000090"}),
            uow,
            RULES,
            clock,
        )
    assert uow.commits == 3


async def test_deactivating_is_for_the_owner_or_an_admin_and_happens_once() -> None:
    uow = FakeExportersUnitOfWork()
    exporter = await register(uow)
    with pytest.raises(NotFound):
        await services.deactivate_exporter(
            services.DeactivateExporter(exporter.id, "x"), uow, clock
        )
    stopped = await services.deactivate_exporter(
        services.DeactivateExporter(exporter.id, None),
        uow,
        clock,
    )
    assert stopped.status == "deactivated"
    again = await services.deactivate_exporter(
        services.DeactivateExporter(exporter.id, "atlas"),
        uow,
        clock,
    )
    assert again.version == 2 and uow.commits == 2
    with pytest.raises(Conflict):
        await services.submit_request(services.SubmitRequest("atlas", terms()), uow, clock)


async def test_a_request_needs_a_profile_and_carries_its_region() -> None:
    uow = FakeExportersUnitOfWork()
    with pytest.raises(Conflict) as refused:
        await services.submit_request(services.SubmitRequest("atlas", terms()), uow, clock)
    assert refused.value.kind == "no-exporter"
    exporter = await register(uow)
    request = await services.submit_request(services.SubmitRequest("atlas", terms()), uow, clock)
    assert (request.exporter_id, request.region, request.status) == (
        exporter.id,
        "souss-massa",
        "submitted",
    )
    assert isinstance(uow.emitted[-1].event, events.FinancingRequestSubmitted)


async def test_another_organisation_cannot_amend_or_withdraw_a_request() -> None:
    uow = FakeExportersUnitOfWork()
    await register(uow)
    request = await services.submit_request(services.SubmitRequest("atlas", terms()), uow, clock)
    commits = uow.commits
    with pytest.raises(NotFound):
        await services.amend_request(
            services.AmendRequest(request.id, "intruder", {"tenor_days": 90}), uow, clock
        )
    with pytest.raises(NotFound):
        await services.withdraw_request(
            services.WithdrawRequest(request.id, "intruder"), uow, clock
        )
    assert uow.commits == commits
    amended = await services.amend_request(
        services.AmendRequest(request.id, "atlas", {"tenor_days": 90}), uow, clock
    )
    assert (amended.tenor_days, amended.version) == (90, 2)
    withdrawn = await services.withdraw_request(
        services.WithdrawRequest(request.id, "atlas"), uow, clock
    )
    assert withdrawn.status == "withdrawn"
    assert [type(e.event).__name__ for e in uow.emitted[-3:]] == [
        "FinancingRequestSubmitted",
        "FinancingRequestAmended",
        "FinancingRequestWithdrawn",
    ]


async def test_consent_needs_a_known_provider_and_is_granted_revoked_and_granted_again() -> None:
    uow = FakeExportersUnitOfWork()
    exporter = await register(uow)
    provider = uuid4()
    grant = services.GrantConsent(exporter.id, "atlas", provider)
    with pytest.raises(Invalid) as unknown:
        await services.grant_consent(grant, uow, clock)
    assert [e["field"] for e in unknown.value.extra["errors"]] == ["provider_id"]
    uow.providers.known.add(provider)
    consent, created = await services.grant_consent(grant, uow, clock)
    assert created and consent.status == "granted"
    same, created_again = await services.grant_consent(grant, uow, clock)
    assert not created_again and same.version == 1  # nothing changed, nothing emitted
    revoked = await services.revoke_consent(
        services.RevokeConsent(exporter.id, "atlas", provider),
        uow,
        clock,
    )
    assert revoked.status == "revoked"
    later = NOW + timedelta(days=30)
    regranted, created = await services.grant_consent(
        services.GrantConsent(exporter.id, "atlas", provider, later),
        uow,
        clock,
    )
    assert not created and regranted.status == "granted" and regranted.expires_at == later
    assert [type(e.event).__name__ for e in uow.emitted[-3:]] == [
        "ConsentGranted",
        "ConsentRevoked",
        "ConsentGranted",
    ]


async def test_consent_is_the_owners_and_expires_in_the_future() -> None:
    uow = FakeExportersUnitOfWork()
    exporter = await register(uow)
    provider = uuid4()
    uow.providers.known.add(provider)
    with pytest.raises(NotFound):
        await services.grant_consent(
            services.GrantConsent(exporter.id, "intruder", provider),
            uow,
            clock,
        )
    with pytest.raises(Invalid) as past:
        await services.grant_consent(
            services.GrantConsent(exporter.id, "atlas", provider, NOW - timedelta(seconds=1)),
            uow,
            clock,
        )
    assert [e["field"] for e in past.value.extra["errors"]] == ["expires_at"]
    with pytest.raises(NotFound):
        await services.revoke_consent(
            services.RevokeConsent(exporter.id, "atlas", provider),
            uow,
            clock,
        )
