"""Reasons: what each rule found, with the rule's threshold and the request's value, and the
sentence that says it in English or French.

A reason is stored as data (`code`, `status`, `params`) and rendered when it is read, in the
language the reader asks for (`Accept-Language`). `status` is `passed`, `failed`, `missing`
(the exporter's profile has no answer yet) or `bundled` (a guarantee or an insurance product
meets it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from tasdir.json_types import JsonObject, JsonValue

from matching.domain.facts import Product, Profile, Request
from matching.domain.outcome import Outcome
from matching.domain.rules import PROFILE_ANSWERS, Rule, bits

Params = JsonObject


def _codes(values: Iterable[str]) -> list[JsonValue]:
    return list(values)


def _money(amount: Decimal | None, currency: str) -> JsonObject | None:
    return None if amount is None else {"amount": str(amount), "currency": currency}


def _mad_cents(cents: int | None) -> JsonObject | None:
    return None if cents is None else {"amount": str(Decimal(cents) / 100), "currency": "MAD"}


def _params(rule: Rule, product: Product, request: Request, profile: Profile) -> Params:
    """The threshold (`limit`) and the request's or the profile's value (`value`) of a rule."""
    amount: JsonObject = {
        "amount": str(request.amount),
        "currency": request.currency,
        "mad": None if request.amount_cents is None else str(Decimal(request.amount_cents) / 100),
    }
    match rule:
        case Rule.currency:
            return {"value": request.currency, "limit": _codes(sorted(product.currencies))}
        case Rule.amount_min:
            return {"value": amount, "limit": _money(product.amount_min, product.amount_currency)}
        case Rule.amount_max:
            return {"value": amount, "limit": _money(product.amount_max, product.amount_currency)}
        case Rule.tenor_min:
            return {"value": request.tenor_days, "limit": product.tenor_min_days}
        case Rule.tenor_max:
            return {"value": request.tenor_days, "limit": product.tenor_max_days}
        case Rule.hs_chapters_include:
            allowed = product.hs_include or frozenset()
            return {
                "value": [c for c in request.hs_codes if c[:2] not in allowed]
                or list(request.hs_codes),
                "limit": _codes(sorted(allowed)),
            }
        case Rule.hs_chapters_exclude:
            barred = product.hs_exclude or frozenset()
            return {
                "value": _codes(
                    [c for c in request.hs_codes if c[:2] in barred] or request.hs_codes
                ),
                "limit": _codes(sorted(barred)),
            }
        case Rule.destinations_include:
            return {
                "value": request.destination,
                "limit": _codes(product.destinations_include or ()),
            }
        case Rule.destinations_exclude:
            return {
                "value": request.destination,
                "limit": _codes(product.destinations_exclude or ()),
            }
        case Rule.region:
            return {"value": profile.region, "limit": _codes(sorted(product.regions or ()))}
        case Rule.min_turnover:
            return {
                "value": _money(profile.annual_turnover_mad, "MAD"),
                "limit": _mad_cents(product.min_turnover_cents),
            }
        case Rule.max_turnover:
            return {
                "value": _money(profile.annual_turnover_mad, "MAD"),
                "limit": _mad_cents(product.max_turnover_cents),
            }
        case Rule.min_export_turnover:
            return {
                "value": _money(profile.export_turnover_mad, "MAD"),
                "limit": _mad_cents(product.min_export_turnover_cents),
            }
        case Rule.min_export_share:
            return {"value": profile.export_share_pct, "limit": product.min_export_share_pct}
        case Rule.min_years_exporting:
            return {"value": profile.years_exporting, "limit": product.min_years_exporting}
        case Rule.max_employees:
            return {"value": profile.employees, "limit": product.max_employees}
        case Rule.payment_terms:
            return {
                "value": request.payment_terms,
                "limit": _codes(sorted(product.payment_terms or ())),
            }
        case Rule.audited_accounts:
            return {"value": profile.audited_accounts, "limit": True}
        case Rule.min_collateral:
            share = None
            if profile.collateral_cents is not None and request.amount_cents:
                share = float(
                    round(Decimal(profile.collateral_cents) * 100 / request.amount_cents, 2)
                )
            return {
                "value": share,
                "collateral": _money(profile.collateral_available_mad, "MAD"),
                "limit": product.min_collateral_pct,
            }
        case Rule.guarantee | Rule.insurance:
            return {}
        case Rule.valid_from:
            return {"limit": _day(product.valid_from)}
        case Rule.valid_to:
            return {"limit": _day(product.valid_to)}


def _day(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def reasons(
    outcome: Outcome,
    product: Product,
    request: Request,
    profile: Profile,
    bundle_names: Mapping[str, JsonObject] | None = None,
    *,
    only_misses: bool = False,
) -> list[JsonObject]:
    """The reasons of an outcome, in rule order, as stored data. `only_misses` keeps just the
    failed and missing ones (for excluded products)."""
    out: list[JsonObject] = []
    for rule in bits(outcome.present):
        bit = 1 << rule.value
        if outcome.failed & bit:
            status = "failed"
        elif outcome.missing & bit:
            status = "missing"
        elif outcome.bundled & bit:
            status = "bundled"
        else:
            status = "passed"
        if only_misses and status not in ("failed", "missing"):
            continue
        params = _params(rule, product, request, profile)
        if status == "bundled" and bundle_names is not None and rule.name in bundle_names:
            params = {"bundle": bundle_names[rule.name]}
        out.append(
            {
                "code": rule.name,
                "passed": status in ("passed", "bundled"),
                "status": status,
                "params": params,
            }
        )
    return out


def missing_answers(outcome: Outcome, profile: Profile) -> list[str]:
    """The profile answers that would settle the missing rules ("one answer away")."""
    answers: dict[str, None] = {}
    present = {
        "annual_turnover_mad": profile.annual_turnover_mad,
        "export_turnover_mad": profile.export_turnover_mad,
        "exporting_since": profile.years_exporting,
        "employees": profile.employees,
        "audited_accounts": profile.audited_accounts,
        "collateral_available_mad": profile.collateral_available_mad,
    }
    for rule in bits(outcome.missing):
        for answer in PROFILE_ANSWERS.get(rule, ()):
            if present.get(answer) is None:
                answers[answer] = None
    return list(answers)


# ---- rendering ---------------------------------------------------------------------------------

_NBSP = "\u202f"  # the French thousands separator (narrow no-break space)


def number(value: Decimal | float | int, lang: str) -> str:
    """`25,000,000` in English, `25 000 000` in French; decimals only when there are any."""
    amount = Decimal(str(value))
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    if lang == "fr":
        text = text.replace(",", _NBSP).replace(".", ",")
    return text


def money(value: JsonValue, lang: str) -> str:
    if not isinstance(value, dict):
        return "?"
    amount, currency = value.get("amount"), value.get("currency")
    text = f"{number(Decimal(str(amount)), lang)} {currency}"
    mad = value.get("mad")
    if currency != "MAD" and mad is not None:
        text += f" ({number(Decimal(str(mad)), lang)} MAD)"
    return text


def _list(values: JsonValue) -> str:
    if isinstance(values, list):
        return ", ".join(str(v) for v in values)
    return str(values)


def _pct(value: JsonValue, lang: str) -> str:
    if not isinstance(value, int | float):
        return "?"
    return f"{number(value, lang)}{_NBSP if lang == 'fr' else ''}%"


def _plain(value: JsonValue, lang: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value, lang)
    return str(value)


ANSWER_NAMES: dict[str, dict[str, str]] = {
    "annual_turnover_mad": {"en": "annual turnover", "fr": "chiffre d'affaires annuel"},
    "export_turnover_mad": {"en": "export turnover", "fr": "chiffre d'affaires à l'export"},
    "exporting_since": {"en": "year exports began", "fr": "année de début des exportations"},
    "employees": {"en": "head count", "fr": "effectif"},
    "audited_accounts": {"en": "audited accounts", "fr": "comptes audités"},
    "collateral_available_mad": {"en": "available collateral", "fr": "garanties disponibles"},
}

_SENTENCES = json.loads((Path(__file__).parent / "reasons.json").read_text(encoding="utf-8"))
#: The sentences of each rule, `passed` and `failed`, per language, with `{value}` and `{limit}`
#: formatted by the rule's kind (money, days, percent, list, plain).
TEMPLATES: dict[str, dict[str, dict[str, str]]] = _SENTENCES["rules"]
#: The sentences of a missing answer and of a bundled rule, per language.
SHARED: dict[str, dict[str, str]] = _SENTENCES["shared"]

_MONEY = {
    Rule.amount_min,
    Rule.amount_max,
    Rule.min_turnover,
    Rule.max_turnover,
    Rule.min_export_turnover,
}
_PCT = {Rule.min_export_share, Rule.min_collateral}
_LISTS = {
    Rule.currency,
    Rule.hs_chapters_include,
    Rule.hs_chapters_exclude,
    Rule.destinations_include,
    Rule.destinations_exclude,
    Rule.region,
    Rule.payment_terms,
}


def _format(rule: Rule, value: JsonValue, lang: str) -> str:
    if value is None:
        return "?"
    if rule in _MONEY:
        return money(value, lang)
    if rule in _PCT:
        return _pct(value, lang)
    if rule in _LISTS:
        return _list(value)
    return _plain(value, lang)


def render(reason: Mapping[str, JsonValue], lang: str) -> str:
    """The sentence of a stored reason, in `lang` (`en` or `fr`)."""
    lang = "fr" if lang == "fr" else "en"
    try:
        rule = Rule[str(reason.get("code"))]
    except KeyError:
        return str(reason.get("code"))
    status = reason.get("status")
    params = reason.get("params")
    params = params if isinstance(params, dict) else {}
    texts = TEMPLATES[rule.name][lang]
    passed, failed = texts["passed"], texts["failed"]
    values = {
        "value": _format(rule, params.get("value"), lang),
        "limit": _format(rule, params.get("limit"), lang),
    }
    if status == "missing":
        answers = [a for a in ANSWER_NAMES if a in PROFILE_ANSWERS.get(rule, ())]
        answer = " / ".join(ANSWER_NAMES[a][lang] for a in answers) or rule.name
        limit = (
            ANSWER_NAMES["audited_accounts"][lang]
            if rule is Rule.audited_accounts
            else values["limit"]
        )
        return SHARED["missing"][lang].format(answer=answer, limit=limit)
    if status == "bundled":
        bundle = params.get("bundle")
        name = "?"
        if isinstance(bundle, dict):
            names = bundle.get("name")
            if isinstance(names, dict):
                name = str(names.get(lang) or names.get("en") or "?")
        return SHARED["bundled"][lang].format(what=passed.format(**values), name=name)
    return (passed if status == "passed" else failed).format(**values)


def rendered(reasons_: Sequence[Mapping[str, JsonValue]], lang: str) -> list[JsonObject]:
    """Stored reasons with their `message` in `lang`."""
    return [{**dict(r), "message": render(r, lang)} for r in reasons_]
