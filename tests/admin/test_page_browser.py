"""The supervisor page in a real headless Chromium (Debian's chromium and chromium-driver): it loads with a
token, shows a decision placed during the test within 2 s, saves a valid limit edit that the next decision
uses, and shows the validator's message for an invalid one. A screenshot is kept in the test's tmp dir."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from screener.reasons import ReasonCode
from screener.service.tokens import Role
from tests.admin.browser import Page, start_chromium
from tests.admin.conftest import Admin

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(admin: Admin, tmp_path: Path) -> AsyncIterator[Page]:
    driver = await asyncio.to_thread(start_chromium, tmp_path / "chromium-profile")
    try:
        yield Page(driver, admin.url + "/")
    finally:
        await asyncio.to_thread(driver.quit)


async def run(func: object, *args: object, **kwargs: object) -> object:
    return await asyncio.to_thread(func, *args, **kwargs)  # type: ignore[arg-type]


async def test_page_live_decisions_and_campaign_edits(admin: Admin, page: Page, tmp_path: Path) -> None:
    await run(page.open)
    await run(page.sign_in, admin.tokens[Role.SUPERVISOR])
    assert await run(page.text_in, "caller", "supervisor-0 (supervisor)")
    await run(page.text_in, "feed-state", "live")
    await run(page.text_in, "config-version", admin.holder.current.version)

    # a decision placed now shows up within 2 s, number masked
    decision = await admin.decide("+12125550142")
    assert decision.allowed
    row = await run(page.wait_live_row, "+1212*****42", "ALLOW", "lab", timeout_s=2.0)
    assert "+12125550142" not in str(row) and "fastagi" in str(row)

    # the statistics, lists and screeners panels fill in
    await run(page.text_in, "screeners-alive", "1")
    await run(page.text_in, "campaigns", "lab")
    await run(page.text_in, "regions", "US-NY")
    await run(page.text_in, "lists", "internal")

    # an invalid edit: the validator's message, nothing written
    before = admin.config.read_text()
    cps = page.find("edit-cps")
    await run(page.set_text, cps, "-1")
    await run(page.find("edit-review").click)
    message = await run(page.text_in, "edit-error", "campaigns.lab.calls_per_second")
    assert "Refused by the validator" in str(message) and "-1 is out of range: must be at least 0" in str(message)
    assert not page.find("edit-save").is_enabled()
    assert admin.config.read_text() == before

    # a valid edit: review shows the diff, save makes it the running config, the next decision uses it
    await run(page.find("edit-reset").click)
    await run(page.find("edit-add-limit").click)
    row_inputs = page.driver.find_elements(By.CSS_SELECTOR, "#edit-frequency tbody tr input")
    max_calls, window, source = row_inputs
    await run(page.set_text, max_calls, "1")
    await run(page.set_text, window, "1h")
    await run(page.set_text, source, "set on the page")
    await run(page.find("edit-review").click)
    diff = await run(page.text_in, "edit-diff", "max_calls = 1")
    assert "+frequency = [" in str(diff) and "set on the page" in str(diff)
    assert admin.config.read_text() == before  # reviewing writes nothing
    await run(page.find("edit-save").click)
    saved = await run(page.text_in, "edit-result", "Saved")
    assert admin.holder.current.version in str(saved)
    assert admin.holder.current.campaigns["lab"].frequency[0].max_calls == 1
    first, second = await admin.decide("+12125550199"), await admin.decide("+12125550199")
    assert first.allowed and second.codes == (ReasonCode.FREQUENCY_LIMIT,)
    assert "set on the page" in second.reasons[0].detail
    await run(page.wait_live_row, "+1212*****99", "BLOCK", "frequency_limit", timeout_s=10.0)
    await run(page.text_in, "config-version", admin.holder.current.version)

    # the token is kept for the browser session: a reload stays signed in
    await run(page.driver.refresh)
    await run(page.visible, "dashboard")
    await run(page.text_in, "caller", "supervisor-0")

    shot = tmp_path / "supervisor-page.png"
    assert await run(page.driver.save_screenshot, str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    # nothing was blocked by the Content-Security-Policy and no script failed (the refused edit's 422 is the
    # only failed request)
    errors = [e for e in await run(page.console_errors) if "status of 422" not in str(e)]  # type: ignore[attr-defined]
    assert errors == []


async def test_page_refuses_a_bad_token_and_hides_the_editor_from_viewers(admin: Admin, page: Page) -> None:
    await run(page.open)
    await run(page.visible, "token")
    page.find("token").send_keys("scr_wrong")
    await run(page.find("sign-in").click)
    assert "not valid" in str(await run(page.text_in, "login-error", "not valid"))
    await run(page.sign_in, admin.tokens[Role.VIEWER])
    await run(page.text_in, "caller", "viewer-0 (viewer)")
    assert not page.find("editor").is_displayed()
    await run(page.find("sign-out").click)
    await run(page.visible, "login")
    assert page.driver.execute_script("return sessionStorage.getItem('screener.token')") is None
