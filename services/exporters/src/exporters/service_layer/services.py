"""Use cases of exporters: load, ask the aggregate, hand the result to the unit of work.

They take plain commands and a unit of work, never an HTTP type, so the unit tests run them on
fakes without a database. Ownership is checked here: an exporter acts on its own `org`'s
profile, requests and consents, and anything else is "not found".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from tasdir.contracts import utcnow
from tasdir.domain import Violations
from tasdir.errors import Conflict, NotFound

from exporters.domain.consent import Consent
from exporters.domain.exporter import DerivationRules, Exporter, Profile
from exporters.domain.financing_request import FinancingRequest, Terms
from exporters.service_layer.uow import ExportersUnitOfWorkPort

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RegisterExporter:
    org: str
    profile: Profile


@dataclass(frozen=True)
class ReviseExporter:
    exporter_id: UUID
    org: str
    # Only the fields the caller sent; an optional field may be None to clear it.
    changes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DeactivateExporter:
    exporter_id: UUID
    # The acting exporter's org; None when an admin acts.
    org: str | None


@dataclass(frozen=True)
class SubmitRequest:
    org: str
    terms: Terms


@dataclass(frozen=True)
class AmendRequest:
    request_id: UUID
    org: str
    changes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class WithdrawRequest:
    request_id: UUID
    org: str


@dataclass(frozen=True)
class GrantConsent:
    exporter_id: UUID
    org: str
    provider_id: UUID
    expires_at: datetime | None = None


@dataclass(frozen=True)
class RevokeConsent:
    exporter_id: UUID
    org: str
    provider_id: UUID


async def register_exporter(
    command: RegisterExporter,
    uow: ExportersUnitOfWorkPort,
    rules: DerivationRules,
    clock: Clock = utcnow,
) -> Exporter:
    exporter, registered = Exporter.register(
        org=command.org, profile=command.profile, rules=rules, now=clock()
    )
    # The database's unique keys settle a race between two registrations (a 409 as well);
    # these checks give the usual case its precise answer.
    if await uow.exporters.by_org(command.org) is not None:
        raise Conflict("this organisation already has an exporter profile", kind="duplicate")
    await _ice_free(uow, exporter.ice)
    uow.exporters.add(exporter)
    uow.emit(exporter, registered)
    await uow.commit(exporter)
    return exporter


async def _ice_free(uow: ExportersUnitOfWorkPort, ice: str, owner: UUID | None = None) -> None:
    holder = await uow.exporters.by_ice(ice)
    if holder is not None and holder.id != owner:
        raise Conflict("an exporter with this ICE is already registered", kind="duplicate-ice")


async def _own_exporter(
    uow: ExportersUnitOfWorkPort, exporter_id: UUID, org: str | None
) -> Exporter:
    exporter = await uow.exporters.get_for_update(exporter_id)
    if exporter is None or (org is not None and exporter.org != org):
        raise NotFound("no such exporter")
    return exporter


async def revise_exporter(
    command: ReviseExporter,
    uow: ExportersUnitOfWorkPort,
    rules: DerivationRules,
    clock: Clock = utcnow,
) -> Exporter:
    exporter = await _own_exporter(uow, command.exporter_id, command.org)
    updated = exporter.revise(command.changes, rules=rules, now=clock())
    if updated is None:
        return exporter
    await _ice_free(uow, exporter.ice, owner=exporter.id)
    uow.exporters.save(exporter)
    uow.emit(exporter, updated)
    await uow.commit(exporter)
    return exporter


async def deactivate_exporter(
    command: DeactivateExporter, uow: ExportersUnitOfWorkPort, clock: Clock = utcnow
) -> Exporter:
    exporter = await _own_exporter(uow, command.exporter_id, command.org)
    deactivated = exporter.deactivate(clock())
    if deactivated is None:
        return exporter
    uow.exporters.save(exporter)
    uow.emit(exporter, deactivated)
    await uow.commit(exporter)
    return exporter


async def submit_request(
    command: SubmitRequest, uow: ExportersUnitOfWorkPort, clock: Clock = utcnow
) -> FinancingRequest:
    exporter = await uow.exporters.by_org(command.org)
    if exporter is None:
        raise Conflict(
            "register the exporter profile before asking for financing", kind="no-exporter"
        )
    if not exporter.active:
        raise Conflict(
            "a deactivated exporter cannot ask for financing", kind="exporter-deactivated"
        )
    request, submitted = FinancingRequest.submit(
        exporter_id=exporter.id,
        org=exporter.org,
        region=exporter.region,
        terms=command.terms,
        now=clock(),
    )
    uow.requests.add(request)
    uow.emit(request, submitted)
    await uow.commit(request)
    return request


async def _own_request(
    uow: ExportersUnitOfWorkPort, request_id: UUID, org: str
) -> FinancingRequest:
    request = await uow.requests.get_for_update(request_id)
    if request is None or request.org != org:
        raise NotFound("no such financing request")
    return request


async def amend_request(
    command: AmendRequest, uow: ExportersUnitOfWorkPort, clock: Clock = utcnow
) -> FinancingRequest:
    request = await _own_request(uow, command.request_id, command.org)
    amended = request.amend(command.changes, now=clock())
    if amended is None:
        return request
    uow.requests.save(request)
    uow.emit(request, amended)
    await uow.commit(request)
    return request


async def withdraw_request(
    command: WithdrawRequest, uow: ExportersUnitOfWorkPort, clock: Clock = utcnow
) -> FinancingRequest:
    request = await _own_request(uow, command.request_id, command.org)
    withdrawn = request.withdraw(now=clock())
    uow.requests.save(request)
    uow.emit(request, withdrawn)
    await uow.commit(request)
    return request


async def grant_consent(
    command: GrantConsent, uow: ExportersUnitOfWorkPort, clock: Clock = utcnow
) -> tuple[Consent, bool]:
    """The consent, and whether it is new (201) rather than granted again (200)."""
    exporter = await _own_exporter(uow, command.exporter_id, command.org)
    if not exporter.active:
        raise Conflict("a deactivated exporter cannot consent", kind="exporter-deactivated")
    unknown = Violations(kind="unknown-provider")
    unknown.check(
        await uow.providers.is_known(command.provider_id),
        "provider_id",
        "no active provider with this id",
    )
    unknown.raise_if_any()
    now = clock()
    consent = await uow.consents.of(exporter.id, command.provider_id)
    if consent is None:
        consent, granted = Consent.grant_new(
            exporter_id=exporter.id,
            org=exporter.org,
            provider_id=command.provider_id,
            expires_at=command.expires_at,
            now=now,
        )
        uow.consents.add(consent)
        uow.emit(consent, granted)
        await uow.commit(consent)
        return consent, True
    again = consent.grant_again(expires_at=command.expires_at, now=now)
    if again is not None:
        uow.consents.save(consent)
        uow.emit(consent, again)
        await uow.commit(consent)
    return consent, False


async def revoke_consent(
    command: RevokeConsent, uow: ExportersUnitOfWorkPort, clock: Clock = utcnow
) -> Consent:
    exporter = await _own_exporter(uow, command.exporter_id, command.org)
    consent = await uow.consents.of(exporter.id, command.provider_id)
    if consent is None:
        raise NotFound("no consent to this provider")
    revoked = consent.revoke(now=clock())
    uow.consents.save(consent)
    uow.emit(consent, revoked)
    await uow.commit(consent)
    return consent
