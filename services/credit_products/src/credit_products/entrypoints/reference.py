"""Read-only reference data: `GET /v1/reference/{kind}`, for every authenticated role.

Lists follow the list format (`items`, `next_cursor`, `limit`, `cursor`), ordered by code.
Names come in the language of `Accept-Language` (English, French; Arabic for regions too), and
every list says where its data comes from (`source`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Header, Response
from pydantic import BaseModel
from tasdir import reference
from tasdir.auth import current_principal
from tasdir.pagination import PageParams, PageParamsDep, paginate_sequence
from tasdir.reference import REGION_NAME_LANGS, Lang, SourceMeta, pick_language
from tasdir.routing import SettingsDep, service_router

router = service_router(
    prefix="/v1/reference",
    tags=["reference"],
    dependencies=[Depends(current_principal)],
)
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]
R = TypeVar("R")


class Named(Protocol):
    def name(self, lang: str = ...) -> str: ...


class Source(BaseModel):
    dataset: str
    version: str
    as_of: date
    source: str
    source_url: str
    notes: list[str]

    @classmethod
    def of(cls, meta: SourceMeta) -> Source:
        return cls(
            dataset=meta.dataset,
            version=meta.version,
            as_of=meta.as_of,
            source=meta.source,
            source_url=meta.source_url,
            notes=list(meta.notes),
        )


class ReferenceList(BaseModel):
    items: list[dict[str, object]]
    next_cursor: str | None
    language: str
    source: Source


def _listing(
    response: Response,
    dataset: str,
    rows: Sequence[R],
    render: Callable[[R, str], dict[str, object]],
    params: PageParams,
    accept_language: str | None,
    languages: Sequence[str] = reference.NAME_LANGS,
    key: Callable[[R], str] = lambda row: row.code,  # type: ignore[attr-defined]
) -> ReferenceList:
    lang = pick_language(accept_language, languages)  # type: ignore[arg-type]
    page = paginate_sequence(rows, params, key=key)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language"
    return ReferenceList(
        items=[render(row, lang) for row in page.items],
        next_cursor=page.next_cursor,
        language=lang,
        source=Source.of(reference.sources()[dataset]),
    )


def _names(row: Named, languages: Sequence[Lang]) -> dict[str, object]:
    return {lang: row.name(lang) for lang in languages}


@router.get("/regions", response_model=ReferenceList)
async def regions(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    return _listing(
        response,
        "regions",
        reference.regions(),
        lambda r, lang: {
            "code": r.code,
            "name": r.name(lang),
            "names": _names(r, REGION_NAME_LANGS),
            "country": r.country,
            "seat": r.seat,
        },
        params,
        accept_language,
        REGION_NAME_LANGS,
    )


@router.get("/countries", response_model=ReferenceList)
async def countries(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    return _listing(
        response,
        "countries",
        reference.countries(),
        lambda c, lang: {
            "code": c.alpha2,
            "alpha3": c.alpha3,
            "name": c.name(lang),
            "names": _names(c, reference.NAME_LANGS),
            "blocs": sorted(b.code for b in reference.blocs() if c.alpha2 in b.members),
        },
        params,
        accept_language,
        key=lambda c: c.alpha2,
    )


@router.get("/blocs", response_model=ReferenceList)
async def blocs(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    return _listing(
        response,
        "blocs",
        reference.blocs(),
        lambda b, lang: {
            "code": b.code,
            "name": b.name(lang),
            "names": _names(b, reference.NAME_LANGS),
            "members": sorted(b.members),
            "as_of": b.as_of.isoformat(),
            "source": b.source,
            "source_url": b.source_url,
            "notes": list(b.notes),
        },
        params,
        accept_language,
    )


@router.get("/world-regions", response_model=ReferenceList)
async def world_regions(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    """The UN M49 regions, sub-regions and intermediate regions a product's destinations may
    name (`africa`, `western-asia`), each with its parent and every country it covers."""
    return _listing(
        response,
        "world_regions",
        reference.world_regions(),
        lambda w, lang: {
            "code": w.code,
            "m49": w.m49,
            "name": w.name(lang),
            "names": _names(w, reference.NAME_LANGS),
            "parent": w.parent,
            "members": sorted(w.members),
        },
        params,
        accept_language,
    )


@router.get("/currencies", response_model=ReferenceList)
async def currencies(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    return _listing(
        response,
        "currencies",
        reference.currencies(),
        lambda c, lang: {
            "code": c.code,
            "name": c.name(lang),
            "names": _names(c, reference.NAME_LANGS),
            "minor_units": c.minor_units,
        },
        params,
        accept_language,
    )


@router.get("/hs-chapters", response_model=ReferenceList)
async def hs_chapters(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    sections = {section.code: section for section in reference.hs_sections()}
    return _listing(
        response,
        "hs2022",
        reference.hs_chapters(),
        lambda c, lang: {
            "code": c.code,
            "name": c.name(lang),
            "names": _names(c, reference.NAME_LANGS),
            "section": c.section,
            "section_name": sections[c.section].name(lang),
            "reserved": c.reserved,
        },
        params,
        accept_language,
    )


@router.get("/instruments", response_model=ReferenceList)
async def instruments(
    response: Response, params: PageParamsDep, accept_language: AcceptLanguage = None
) -> ReferenceList:
    return _listing(
        response,
        "instruments",
        reference.instrument_list(),
        lambda i, lang: {
            "code": i.code,
            "name": i.name(lang),
            "description": getattr(i.descriptions, lang),
            "family": i.family,
            "family_name": reference.instrument_family(i.family).name(lang),
            "requestable": i.requestable,
            "rules": ({"code": i.rules.code, "title": i.rules.title} if i.rules else None),
        },
        params,
        accept_language,
    )


class FxList(BaseModel):
    items: list[dict[str, object]]
    next_cursor: str | None
    base: str
    as_of: date
    indicative: bool
    source: str
    source_url: str
    notes: list[str]


@router.get("/fx", response_model=FxList)
async def fx(params: PageParamsDep, settings: SettingsDep) -> FxList:
    """Units of MAD per 1 unit of each currency: indicative, dated, replaceable by config."""
    table = reference.fx_table(settings.fx_table)
    page = paginate_sequence(list(table.rates.items()), params, key=lambda rate: rate[0])
    return FxList(
        items=[{"currency": code, "rate": str(rate)} for code, rate in page.items],
        next_cursor=page.next_cursor,
        base=table.base,
        as_of=table.as_of,
        indicative=table.indicative,
        source=table.source,
        source_url=table.source_url,
        notes=list(table.notes),
    )
