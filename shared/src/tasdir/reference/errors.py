"""Errors raised by the reference data.

Every error about a code a user typed subclasses `ValueError`, so a pydantic validator that calls
a lookup turns it into a 422 without extra wiring.
"""

from __future__ import annotations


class ReferenceDataError(Exception):
    """A reference file (packaged or configured) is missing or malformed: a deployment bug."""


class InvalidReferenceCode(ValueError):
    """A code that the reference data rejects. `kind` says what the code was meant to be."""

    problem_type = "invalid-reference-code"

    def __init__(self, kind: str, code: object, reason: str | None = None) -> None:
        self.kind = kind
        self.code = code
        self.reason = reason
        message = f"{kind} {code!r} is not valid"
        super().__init__(f"{message}: {reason}" if reason else message)


class UnknownReferenceCode(InvalidReferenceCode):
    """A well-formed code that the reference data does not know."""

    problem_type = "unknown-reference-code"

    def __init__(self, kind: str, code: object, reason: str | None = None) -> None:
        super().__init__(kind, code, reason or f"unknown {kind}")


class InvalidHsCode(InvalidReferenceCode):
    """An HS code that is malformed, or whose chapter does not exist or is reserved."""

    problem_type = "invalid-hs-code"

    def __init__(self, code: object, reason: str) -> None:
        super().__init__("hs_code", code, reason)


class InstrumentNotRequestable(InvalidReferenceCode):
    """An instrument (or family) that a request may not name: it is only ever bundled."""

    problem_type = "instrument-not-requestable"

    def __init__(self, code: str) -> None:
        super().__init__("instrument_request", code, "only offered as a bundle, never requested")


class FxRateUnavailable(InvalidReferenceCode):
    """A valid currency that the active FX table has no rate for."""

    problem_type = "fx-rate-unavailable"

    def __init__(self, currency: str, as_of: object) -> None:
        super().__init__("currency", currency, f"no reference FX rate in the table of {as_of}")
