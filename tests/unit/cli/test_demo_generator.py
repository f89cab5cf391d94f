"""The demo data set (`tasdir_cli.demo.generator`): the same seed gives the same bytes, in this
process and in another one with another hash seed; it spans the regions, instruments, sectors
and sizes the demo needs; and every body in it is one the APIs accept."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from uuid import uuid4

import pytest
from credit_products.entrypoints.product_schemas import ProductCreate
from exporters.domain.exporter import DerivationRules, Derived, Profile
from exporters.domain.financing_request import Terms
from exporters.entrypoints.schemas import ExporterCreate, FinancingRequestCreate
from tasdir.reference import region_codes, request_targets
from tasdir.reference.instruments import instruments
from tasdir_cli.demo import DEFAULT_SEED, generate
from tasdir_cli.demo.generator import GUIDE, SECTORS, STORIES, DemoData, region_order

TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate()


def _derived(body: dict[str, object]) -> Derived:
    profile = Profile(**ExporterCreate.model_validate(body).fields()).validated(TODAY)  # type: ignore[arg-type]
    return Derived.of(profile, DerivationRules())


def test_the_same_seed_gives_the_same_bytes() -> None:
    first, second = generate(DEFAULT_SEED).to_json(), generate(DEFAULT_SEED).to_json()
    assert first == second
    assert first.encode() == second.encode()
    assert generate(DEFAULT_SEED + 1).to_json() != first


def test_the_same_seed_gives_the_same_bytes_in_another_process_with_another_hash_seed() -> None:
    """`tasdir demo data` in two interpreters whose string hashes differ: no set or dict order
    the hash seed decides leaks into the data set."""
    digests = set()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "tasdir_cli", "demo", "data", "--seed", "7"],
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "TASDIR_ENVIRONMENT": "development"},
            capture_output=True,
            timeout=120,
            check=True,
        )
        digests.add(hashlib.sha256(done.stdout).hexdigest())
    assert digests == {hashlib.sha256((generate(7).to_json() + "\n").encode()).hexdigest()}


def instrument_codes() -> set[str]:
    return {i.code for i in instruments()}


def test_the_data_set_has_the_sizes_the_issue_asks_for(data: DemoData) -> None:
    kinds = Counter(p.body["kind"] for p in data.providers)
    assert len(data.providers) == 12
    assert kinds["bank"] >= 6
    assert kinds["guarantor"] == 1  # the public guarantee scheme
    assert kinds["insurer"] == 2
    assert kinds["eca"] == 1
    assert len(data.products) == 60
    assert len(data.exporters) == 200
    assert len(data.requests) == 300


def test_it_spans_every_region_the_instruments_the_sectors_and_the_sizes(data: DemoData) -> None:
    assert {e.region for e in data.exporters} == set(region_codes())
    assert set(region_order()) == set(region_codes())
    assert {p.body["instrument"] for p in data.products} == instrument_codes()
    asked = {r.body["instrument"] for r in data.requests}
    assert len(asked & instrument_codes()) >= 8
    assert asked <= set(request_targets())
    assert {e.sector for e in data.exporters} == set(SECTORS)
    assert {e.size for e in data.exporters} == {"micro", "small", "medium", "large"}
    assert {r.story for r in data.requests} == set(STORIES)


def test_many_exporters_are_mono_market_on_one_european_market(data: DemoData) -> None:
    """As the exporters service derives it (80 % of the declared shares on one destination)."""
    mono = [e for e in data.exporters if _derived(e.body).is_mono_market]
    assert len(mono) >= 20
    assert [e.key for e in mono] == [e.key for e in data.exporters if e.is_mono_market]
    european = Counter(max(_markets(e).items(), key=lambda m: m[1])[0] for e in mono)
    assert sum(n for m, n in european.items() if m in {"FR", "ES", "NL", "DE", "IT", "PT"}) >= 20


def _markets(exporter: object) -> dict[str, float]:
    shares: dict[str, float] = {}
    for line in exporter.body["exports"]:  # type: ignore[attr-defined]
        shares[line["destination"]] = shares.get(line["destination"], 0) + float(line["share_pct"])
    return shares


def test_every_body_is_one_the_apis_accept(data: DemoData) -> None:
    """The bodies pass the API models and the domain rules, so that seeding meets no 422."""
    for product in data.products:
        body = dict(product.body)
        body["partner_provider_ids"] = [str(uuid4()) for _ in product.partners]
        ProductCreate.model_validate(body).terms().validated()
        assert product.provider in {p.key for p in data.providers}
    for exporter in data.exporters:
        assert _derived(exporter.body) is not None
    for request in data.requests:
        terms = FinancingRequestCreate.model_validate(request.body).terms()
        Terms(**terms).validated(TODAY)  # type: ignore[arg-type]
        assert request.exporter in {e.key for e in data.exporters}


def test_names_ices_and_organisations_are_unique_and_keys_are_stable(data: DemoData) -> None:
    for values in (
        [e.key for e in data.exporters],
        [e.body["ice"] for e in data.exporters],
        [e.body["legal_name"] for e in data.exporters],
        [p.body["name"] for p in data.providers],
        [p.body["name"]["fr"] for p in data.products],
        [r.key for r in data.requests],
    ):
        assert len(values) == len(set(values))
    assert data.exporters[0] == GUIDE
    assert not any(r.exporter == GUIDE.key for r in data.requests)


def test_each_story_carries_what_its_steps_need(data: DemoData) -> None:
    for request in data.requests:
        story = request.story
        if story == "rejected":
            assert request.note
        if story in ("question", "answered", "offer", "accepted", "offer_declined"):
            assert request.question
        if story in ("answered", "offer", "accepted", "offer_declined"):
            assert request.reply
        if story in ("offer", "accepted", "offer_declined"):
            assert request.offer is not None
        if story == "declined":
            assert request.decline is not None
        if story in ("matched", "in_review", "rejected", "withdrawn"):
            assert request.approve == 0
        else:
            assert request.approve in (1, 2)


def test_a_sample_keeps_one_request_of_each_story_and_their_exporters(data: DemoData) -> None:
    sample = data.sample()
    assert sorted(r.story for r in sample.requests) == sorted(STORIES)
    assert {r.exporter for r in sample.requests} | {GUIDE.key} == {e.key for e in sample.exporters}
    assert sample.products == data.products
