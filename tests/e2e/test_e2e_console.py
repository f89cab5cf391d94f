"""The console in a real browser: Playwright drives Debian's Chromium (`/usr/bin/chromium`, or
`TASDIR_CHROMIUM`) against the embedded system as `make run` composes it, with a sample of the
demo data (the whole data set takes a minute to load; the sample a few seconds). An advisor
signs in, opens the queue, opens a set and approves two of its matches; a crafted URL shows no
set of another region; the dashboard draws the region's funnel; then the demo's exporter
grants a consent to a bank on its consents page. axe-core finds no serious or critical
accessibility violation on any page; each step's screenshot is kept under
`test-artifacts/console/`.

Playwright never downloads a browser here. Without Chromium the test skips, except under
`CI=true`, where it fails: `.ci/run` installs Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect
from support.streams import uvicorn_serving
from support.tokens import bearer
from tasdir.settings import Settings
from tasdir_cli.demo import generate
from tasdir_cli.demo.generator import DemoData
from tasdir_cli.demo.startup import seed_now
from tasdir_cli.embedded import CONSOLE_PATH, EmbeddedSystem, build_app

SETTINGS = Settings(environment="development")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
SEVERE = ("serious", "critical")
EXTRA_REQUESTS = 6
# A request, and its set, waiting for the advisor.
WAITING = ("matched", "proposed", "in_review")


def chromium() -> str:
    """Debian's Chromium; a skip without it, or a failure under CI, which must have it."""
    found = os.environ.get("TASDIR_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    message = "no Chromium: `apt-get install -y chromium` (or set TASDIR_CHROMIUM)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    # Playwright only ever launches the Chromium given: it downloads nothing.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    async with async_playwright() as playwright:
        # As root (CI) Chromium's sandbox cannot start.
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


def sample() -> DemoData:
    """The demo's sample (one request of each story), and a few more requests waiting for
    their advisor, so that one of them has two matches or more."""
    data = generate()
    chosen = data.sample()
    extra = tuple(
        r for r in data.requests if r.story in ("matched", "in_review") and r not in chosen.requests
    )[:EXTRA_REQUESTS]
    keys = {r.exporter for r in extra} - {e.key for e in chosen.exporters}
    return replace(
        chosen,
        requests=chosen.requests + extra,
        exporters=chosen.exporters + tuple(e for e in data.exporters if e.key in keys),
    )


async def _seed(system: EmbeddedSystem) -> None:
    await seed_now(system, sample())


async def _sets(base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A set waiting for its advisor, with two matches or more, of a request still open; and a
    set of another region (that advisor must not see it), as the admin sees them."""
    admin = bearer(SETTINGS, "admin", sub="console-test")
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=admin) as client:
        sets = await client.get("/v1/match-sets", params={"limit": 100})
        requests = await client.get("/v1/financing-requests", params={"limit": 100})
    assert sets.status_code == requests.status_code == 200, (sets.text, requests.text)
    waiting = {r["id"] for r in requests.json()["items"] if r["status"] in WAITING}
    every = sets.json()["items"]
    found = [
        s
        for s in every
        if len(s["matches"]) >= 2 and s["request_id"] in waiting and s["status"] in WAITING
    ]
    assert found, "the demo sample has no open request with a set of two matches to review"
    elsewhere = [s for s in every if s["region"] != found[0]["region"]]
    return dict(found[0]), dict(elsewhere[0])


class Journey:
    """Each step: a screenshot, and axe-core's check of the page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.axe = Axe()
        self.count = 0

    async def step(self, name: str) -> None:
        self.count += 1
        await self.page.screenshot(path=ARTIFACTS / f"{self.count:02d}-{name}.png", full_page=True)
        results = await self.axe.run(self.page)
        severe = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in results.response["violations"]
            if v.get("impact") in SEVERE
        ]
        assert severe == [], f"{name}: {severe}"


@pytest.mark.timeout(120)
async def test_an_advisor_signs_in_opens_a_set_and_approves_two_matches(
    browser: Browser, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app = build_app(tmp_path / "data", SETTINGS, seeders=[_seed], demo=True)
    async with uvicorn_serving(app) as base:
        target, elsewhere = await _sets(base)
        region, request_id = target["region"], target["request_id"]
        page = await browser.new_page(locale="en-GB")
        journey = Journey(page)

        await page.goto(f"{base}{CONSOLE_PATH}/")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await journey.step("sign-in")
        await page.get_by_label(f"the regional office of {region}").check()
        await page.get_by_role("button", name="Sign in").click()

        await expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        status = target["status"]
        await page.get_by_label("Status").select_option(status)
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(f"{base}{CONSOLE_PATH}/queue?region=&status={status}")
        await journey.step("queue")

        await page.get_by_role("link", name=request_id[:8]).click()
        await expect(page.get_by_role("heading", name="Match set of request")).to_be_visible()
        await expect(page.get_by_text("in review").first).to_be_visible()
        await journey.step("match-set")

        boxes = page.locator('input[name="product_id"]')
        await boxes.nth(0).check()
        await boxes.nth(1).check()
        await page.get_by_role("button", name="Approve the ticked matches").click()
        await expect(page.get_by_role("status")).to_contain_text("Approved")
        await expect(page.locator(".match .status-approved")).to_have_count(2)
        await journey.step("approved")

        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            reviewed = await client.get(
                f"/v1/match-sets/{request_id}", headers=bearer(SETTINGS, "admin", sub="check")
            )
        approvals = [e for e in reviewed.json()["audit"] if e["action"] == "approved"]
        assert [len(e["product_ids"]) for e in approvals] == [2]
        assert approvals[0]["actor"] == f"demo-advisor-{region}"

        # A crafted URL shows no other region's set: the API's 404, as a page.
        other = await page.goto(f"{base}{CONSOLE_PATH}/match-sets/{elsewhere['request_id']}")
        assert other is not None and other.status == 404
        await expect(page.get_by_role("alert")).to_contain_text("no match set for this request")
        await journey.step("other-region")

        await page.get_by_role("link", name="Dashboard").click()
        await expect(page.get_by_role("img", name="From request to closed deal")).to_be_visible()
        await journey.step("dashboard")

        # The exporter grants a consent to a bank: its consents page, then the form.
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_label("mono-market").check()
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name="Consents").click()
        await page.get_by_role("button", name="Grant").click()
        await expect(page.get_by_role("status")).to_contain_text("The consent is granted")
        await expect(page.get_by_role("button", name="Revoke")).to_have_count(1)
        await journey.step("exporter-consents")
        await page.close()
