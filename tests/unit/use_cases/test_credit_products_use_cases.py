"""The use cases of credit_products on fakes: no database, no broker, no HTTP."""

from __future__ import annotations

from uuid import uuid4

import pytest
from credit_products.domain.product import Localized, ProductTerms
from credit_products.domain.provider import Provider
from credit_products.service_layer import services
from tasdir.contracts import events, utcnow
from tasdir.errors import Conflict, Forbidden, Invalid, NotFound
from unit.use_cases.fakes import FakeCreditProductsUnitOfWork, FakeProviders


def registered(**changes: object) -> Provider:
    fields: dict[str, object] = {
        "name": "Banque Atlas",
        "kind": "bank",
        "country": "MA",
        "regions": ("souss-massa",),
        "contact": "desk@atlas.example",
        "now": utcnow(),
    }
    fields.update(changes)
    provider, _ = Provider.register(**fields)  # type: ignore[arg-type]
    return provider


async def test_registering_stores_the_provider_and_emits_registered_once() -> None:
    uow = FakeCreditProductsUnitOfWork()
    command = services.RegisterProvider(
        name="  Banque du Détroit ",
        kind="bank",
        country="MA",
        regions=("souss-massa", "oriental", "souss-massa"),
    )
    provider = await services.register_provider(command, uow)
    assert uow.commits == 1 and uow.results == [provider]
    assert uow.providers.committed[provider.id].name == "Banque du Détroit"
    assert provider.regions == ("oriental", "souss-massa")  # a set: sorted, no duplicates
    (emitted,) = uow.emitted
    assert isinstance(emitted.event, events.ProviderRegistered)
    assert (emitted.aggregate_id, emitted.aggregate_version) == (provider.id, 1)
    assert emitted.event.regions == ("oriental", "souss-massa")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "casino"),
        ("country", "XX"),
        ("country", "ma"),
        ("regions", ("atlantis",)),
        ("name", "   "),
        ("name", "Atlas\u0000Bank"),
        ("name", "A\u202eB"),
        ("contact", "x" * 501),
    ],
)
async def test_an_invalid_registration_names_the_field_and_writes_nothing(
    field: str, value: object
) -> None:
    uow = FakeCreditProductsUnitOfWork()
    fields: dict[str, object] = {"name": "Banque Atlas", "kind": "bank", "country": "MA"}
    fields[field] = value
    with pytest.raises(Invalid) as refused:
        await services.register_provider(services.RegisterProvider(**fields), uow)  # type: ignore[arg-type]
    assert [error["field"] for error in refused.value.extra["errors"]] == [field]
    assert uow.commits == 0 and uow.providers.committed == {} and uow.emitted == []


async def test_a_revision_bumps_the_version_and_emits_updated() -> None:
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    command = services.ReviseProvider(provider.id, {"name": "Banque Atlas SA", "contact": None})
    revised = await services.revise_provider(command, uow)
    assert (revised.version, revised.name, revised.contact) == (2, "Banque Atlas SA", None)
    assert uow.providers.committed[provider.id].version == 2
    (emitted,) = uow.emitted
    assert isinstance(emitted.event, events.ProviderUpdated)
    assert emitted.aggregate_version == 2 and emitted.event.contact is None


@pytest.mark.parametrize(
    "changes",
    [{}, {"name": "Banque Atlas"}, {"regions": ("souss-massa", "souss-massa")}],
    ids=["nothing", "same-name", "same-regions"],
)
async def test_a_revision_that_changes_nothing_commits_and_emits_nothing(
    changes: dict[str, object],
) -> None:
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    same = await services.revise_provider(services.ReviseProvider(provider.id, changes), uow)
    assert same.version == 1
    assert uow.commits == 0 and uow.emitted == []


async def test_a_provider_revises_its_own_contact_and_regions_but_not_its_kind_or_country() -> None:
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    own = services.ReviseProvider(
        provider.id, {"regions": ("oriental",)}, acting_provider_id=provider.id
    )
    assert (await services.revise_provider(own, uow)).regions == ("oriental",)
    for reserved in ({"kind": "insurer"}, {"country": "FR"}):
        command = services.ReviseProvider(provider.id, reserved, acting_provider_id=provider.id)
        with pytest.raises(Forbidden) as refused:
            await services.revise_provider(command, uow)
        assert [e["field"] for e in refused.value.extra["errors"]] == list(reserved)
    assert uow.commits == 1
    assert uow.providers.committed[provider.id].kind == "bank"


async def test_another_providers_record_is_not_found_and_untouched() -> None:
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    command = services.ReviseProvider(provider.id, {"name": "Mine"}, acting_provider_id=uuid4())
    with pytest.raises(NotFound):
        await services.revise_provider(command, uow)
    with pytest.raises(NotFound):
        await services.revise_provider(services.ReviseProvider(uuid4(), {"name": "X"}), uow)
    assert uow.commits == 0 and uow.providers.committed[provider.id].name == "Banque Atlas"


async def test_an_unknown_field_is_refused() -> None:
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    with pytest.raises(Invalid):
        await services.revise_provider(services.ReviseProvider(provider.id, {"status": "x"}), uow)
    assert uow.commits == 0


def product_terms() -> ProductTerms:
    return ProductTerms(
        name=Localized(fr="Préfinancement", en="Pre-export loan"),
        description=Localized(fr="Crédit.", en="Loan."),
        instrument="pre_export_finance",
        currencies=("MAD",),
        amount_currency="MAD",
    )


async def test_a_product_needs_a_registered_provider_and_starts_as_a_private_draft() -> None:
    uow = FakeCreditProductsUnitOfWork()
    stranger = services.CreateProduct(provider_id=uuid4(), terms=product_terms())
    with pytest.raises(Conflict) as unknown:
        await services.create_product(stranger, uow)
    assert unknown.value.kind == "unknown-provider"
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    product = await services.create_product(
        services.CreateProduct(provider_id=provider.id, terms=product_terms()), uow
    )
    assert product.status == "draft" and uow.commits == 1
    assert uow.emitted == []  # drafts are nobody else's business


async def test_publishing_and_withdrawing_emit_and_only_the_owner_may() -> None:
    provider = registered()
    uow = FakeCreditProductsUnitOfWork(providers=FakeProviders(provider))
    product = await services.create_product(
        services.CreateProduct(provider_id=provider.id, terms=product_terms()), uow
    )
    with pytest.raises(NotFound):
        await services.publish_product(services.PublishProduct(product.id, uuid4()), uow)
    await services.publish_product(services.PublishProduct(product.id, provider.id), uow)
    await services.revise_product(
        services.ReviseProduct(product.id, provider.id, {"decision_days": 3}), uow
    )
    await services.publish_product(services.PublishProduct(product.id, provider.id), uow)
    await services.withdraw_product(services.WithdrawProduct(product.id, provider.id), uow)
    assert [
        (type(e.event).__name__, e.aggregate_version, e.event.product_version)  # type: ignore[attr-defined]
        for e in uow.emitted
    ] == [("ProductPublished", 1, 1), ("ProductPublished", 2, 2), ("ProductWithdrawn", 3, 2)]
    stored = uow.products.committed[product.id]
    assert [v.status for v in stored.versions] == ["superseded", "withdrawn"]
