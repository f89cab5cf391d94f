"""The words the API sends as values (statuses, tiers, roles, steps, score components): marked
here so that the catalogues hold them, and the pages show them translated (`_(value)`)."""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark `text` for the catalogue; it is translated where it is shown."""
    return text


LABELS: tuple[str, ...] = (
    # match sets and their audit trail
    N_("proposed"),
    N_("in_review"),
    N_("approved"),
    N_("rejected"),
    N_("opened"),
    # tiers
    N_("eligible"),
    N_("conditional"),
    # roles
    N_("exporter"),
    N_("provider"),
    N_("advisor"),
    N_("admin"),
    N_("system"),
    # referrals and their steps
    N_("sent"),
    N_("interested"),
    N_("info_requested"),
    N_("offer"),
    N_("declined"),
    N_("response"),
    N_("reply"),
    N_("offer_decision"),
    N_("accepted"),
    N_("expired"),
    # financing requests, exporters and consents
    N_("submitted"),
    N_("withdrawn"),
    N_("active"),
    N_("deactivated"),
    N_("granted"),
    N_("revoked"),
    # an exporter's size band, as a provider sees it
    N_("micro"),
    N_("small"),
    N_("medium"),
    N_("large"),
    N_("unknown"),
    # the dashboard's funnel
    N_("requests"),
    N_("matched"),
    N_("referred"),
    N_("offered"),
    N_("closed"),
    # score components
    N_("cost"),
    N_("amount_fit"),
    N_("speed"),
    N_("cover"),
    N_("strategic"),
)
