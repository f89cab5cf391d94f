"""The instrument taxonomy and what a request covers."""

from __future__ import annotations

import pytest
from tasdir import reference

DESIGN_FAMILIES = {
    "pre_shipment": {"pre_export_finance"},
    "post_shipment": {
        "post_shipment_finance",
        "receivables_discounting",
        "export_factoring",
        "forfaiting",
        "documentary_collection_finance",
        "supply_chain_finance",
    },
    "payment_security": {"lc_confirmation"},
    "bonding": {"bank_guarantee"},
    "risk_cover": {"export_credit_insurance"},
    "prospection": {"prospection_insurance"},
    "credit_enhancement": {"export_credit_guarantee"},
}
DESIGN_RULES = {
    "lc_confirmation": "UCP 600",
    "documentary_collection_finance": "URC 522",
    "bank_guarantee": "URDG 758",
    "forfaiting": "URF 800",
    "export_factoring": "GRIF",
}


def test_families_and_instruments_are_those_of_the_design() -> None:
    families = {f.code: set(f.instruments) for f in reference.instrument_families()}
    assert families == DESIGN_FAMILIES
    for family, members in DESIGN_FAMILIES.items():
        for code in members:
            assert reference.family_of(code) == family


def test_each_instrument_names_the_rules_it_follows() -> None:
    for item in reference.instrument_list():
        expected = DESIGN_RULES.get(item.code)
        assert (item.rules.code if item.rules else None) == expected, item.code


def test_names_and_descriptions_exist_in_english_and_french() -> None:
    lc = reference.instrument("lc_confirmation")
    assert lc.name("fr") == "Confirmation de crédit documentaire"
    texts = [(i.names, i.descriptions) for i in reference.instrument_list()]
    texts += [(f.names, f.descriptions) for f in reference.instrument_families()]
    for names, descriptions in texts:
        assert names.en and names.fr
        assert descriptions.en and descriptions.fr
        assert descriptions.en != descriptions.fr


@pytest.mark.parametrize(
    ("family", "members"),
    [(f, m) for f, m in sorted(DESIGN_FAMILIES.items()) if f != "credit_enhancement"],
)
def test_a_family_request_covers_its_instruments(family: str, members: set[str]) -> None:
    assert reference.expand_instrument_request(family) == members


def test_an_instrument_request_covers_only_itself() -> None:
    assert reference.expand_instrument_request("forfaiting") == {"forfaiting"}


def test_any_covers_every_requestable_instrument_but_not_the_guarantee() -> None:
    covered = reference.expand_instrument_request("any")
    every = set().union(*DESIGN_FAMILIES.values())
    assert covered == every - {"export_credit_guarantee"}
    assert covered == reference.requestable_instruments()


def test_the_export_credit_guarantee_is_never_requested() -> None:
    assert not reference.instrument("export_credit_guarantee").requestable
    for code in ("export_credit_guarantee", "credit_enhancement"):
        with pytest.raises(reference.InstrumentNotRequestable):
            reference.expand_instrument_request(code)
    assert "export_credit_guarantee" not in reference.request_targets()
    assert "credit_enhancement" not in reference.request_targets()
    assert {"any", "post_shipment", "forfaiting"} <= reference.request_targets()


def test_an_unknown_request_is_rejected() -> None:
    with pytest.raises(reference.UnknownReferenceCode) as caught:
        reference.expand_instrument_request("letter_of_credit")
    assert caught.value.kind == "instrument_request"
    with pytest.raises(reference.UnknownReferenceCode):
        reference.instrument("post_shipment")
    with pytest.raises(reference.UnknownReferenceCode):
        reference.family_of("any")
