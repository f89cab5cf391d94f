"""The use cases of exporters on fakes: no database, no broker, no HTTP."""

from __future__ import annotations

import pytest
from exporters.service_layer import services
from tasdir.contracts import events
from tasdir.errors import Conflict, Invalid
from unit.use_cases.fakes import FakeExportersUnitOfWork


def digits(ascii_digits: str, zero: int) -> str:
    """The same number in another script's digits (Arabic-Indic: 0x0660, fullwidth: 0xFF10)."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


def command(**changes: str) -> services.RegisterExporter:
    fields = {
        "org": "atlas-agrumes",
        "legal_name": "Atlas Agrumes SARL",
        "ice": "001234567000089",
        "region": "souss-massa",
    }
    fields.update(changes)
    return services.RegisterExporter(**fields)


async def test_registering_stores_the_exporter_and_emits_registered() -> None:
    uow = FakeExportersUnitOfWork()
    exporter = await services.register_exporter(command(), uow)
    assert uow.commits == 1 and uow.results == [exporter]
    assert uow.exporters.committed[exporter.id].org == "atlas-agrumes"
    (emitted,) = uow.emitted
    assert isinstance(emitted.event, events.ExporterRegistered)
    assert (emitted.aggregate_id, emitted.aggregate_version) == (exporter.id, 1)
    assert emitted.event.region == "souss-massa" and emitted.event.status == "active"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ice", "12345"),
        ("ice", digits("001234567000089", 0x0660)),  # Arabic-Indic digits
        ("ice", digits("001234567000089", 0xFF10)),  # fullwidth digits
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
        await services.register_exporter(command(**{field: value}), uow)
    assert [error["field"] for error in refused.value.extra["errors"]] == [field]
    assert uow.commits == 0 and uow.exporters.committed == {} and uow.emitted == []


async def test_one_profile_per_organisation_and_per_ice() -> None:
    uow = FakeExportersUnitOfWork()
    await services.register_exporter(command(), uow)
    with pytest.raises(Conflict) as same_org:
        await services.register_exporter(command(ice="001234567000090"), uow)
    assert same_org.value.kind == "duplicate"
    with pytest.raises(Conflict) as same_ice:
        await services.register_exporter(command(org="another-org"), uow)
    assert same_ice.value.kind == "duplicate-ice"
    assert uow.commits == 1 and len(uow.emitted) == 1
