"""Debian's headless Chromium driven by selenium through Debian's chromium-driver (no browser download).

Selenium's calls block, so the async tests run them in a thread (``await asyncio.to_thread(...)``) while the
admin server keeps serving on the test's event loop. A missing chromium or chromedriver fails the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,2200")


def start_chromium(profile: Path) -> webdriver.Chrome:
    for tool in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(tool), f"{tool} is missing: run `bash .ci/bootstrap` (Debian chromium, chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


class Page:
    """The supervisor page in one browser; every method blocks (call it through asyncio.to_thread)."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def wait(self, timeout_s: float = 20.0) -> WebDriverWait[Any]:
        return WebDriverWait(self.driver, timeout_s, poll_frequency=0.05)

    def find(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def visible(self, element_id: str, timeout_s: float = 20.0) -> WebElement:
        return self.wait(timeout_s).until(ec.visibility_of_element_located((By.ID, element_id)))

    def text_in(self, element_id: str, text: str, timeout_s: float = 20.0) -> str:
        self.wait(timeout_s).until(ec.text_to_be_present_in_element((By.ID, element_id), text))
        return self.find(element_id).text

    def open(self) -> None:
        self.driver.get(self.url)

    def sign_in(self, token: str) -> None:
        self.visible("token").send_keys(token)
        self.find("sign-in").click()
        self.visible("dashboard")

    def live_rows(self) -> list[str]:
        return [row.text for row in self.driver.find_elements(By.CSS_SELECTOR, "#live tbody tr")]

    def wait_live_row(self, *words: str, timeout_s: float) -> str:
        def found(_: Any) -> str | bool:
            for text in self.live_rows():
                if all(w in text for w in words):
                    return text
            return False

        result: str = self.wait(timeout_s).until(found)
        return result

    def set_text(self, element: WebElement, text: str) -> None:
        element.clear()
        element.send_keys(text)

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
