"""Every packaged reference file loads and names its source, date and version."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

import pytest
from tasdir import reference
from tasdir.reference._files import DATA_FILES


def _packaged_names() -> set[str]:
    folder = resources.files("tasdir.reference").joinpath("data")
    return {entry.name for entry in folder.iterdir() if entry.name.endswith(".json")}


def test_every_file_in_the_data_folder_is_a_known_dataset() -> None:
    assert _packaged_names() == set(DATA_FILES)


@pytest.mark.parametrize("name", DATA_FILES)
def test_each_file_carries_its_source_date_and_version(name: str) -> None:
    text = resources.files("tasdir.reference").joinpath("data", name).read_text("utf-8")
    meta = json.loads(text)["meta"]

    assert meta["source"].strip()
    assert meta["source_url"].startswith("https://")
    assert date.fromisoformat(meta["as_of"]) <= date.today()
    assert meta["version"].count(".") == 2
    assert all(isinstance(note, str) and note for note in meta["notes"])


def test_sources_reports_every_dataset_with_the_loaded_pycountry_version() -> None:
    sources = reference.sources()

    assert set(sources) == {
        "regions",
        "countries",
        "blocs",
        "world_regions",
        "currencies",
        "hs2022",
        "instruments",
        "fx_mad",
    }
    assert "+pycountry." in sources["countries"].version
    assert all(meta.source and meta.as_of for meta in sources.values())


def test_every_dataset_loads_through_the_api(fresh_reference: None) -> None:
    assert reference.regions()
    assert reference.countries()
    assert reference.blocs()
    assert reference.currencies()
    assert reference.hs_sections()
    assert reference.hs_chapters()
    assert reference.instrument_list()
    assert reference.instrument_families()
    assert reference.fx_table().rates


def test_every_block_records_its_own_source_and_date() -> None:
    for bloc in reference.blocs():
        assert bloc.source and bloc.source_url.startswith("https://"), bloc.code
        assert bloc.as_of <= date.today(), bloc.code
