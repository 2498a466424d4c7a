"""The human benchmark's page in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium): practice feedback, a short test answered with the keyboard, unknown keys and a paused test
ignored, a reload mid-test, and the saved accuracy, confusion matrix and figure at the end.

`.ci/run` installs Chromium and its driver; where they are missing this test is skipped, saying so.
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnist1d.apps.human.quiz import ANSWERS_FILE
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig
from tests.apps.test_human import start, url_of

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="the browser extra is not installed (pip install -e '.[browser]')"
)
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver; .ci/run does)",
)
N_QUESTIONS = 10
WRONG = {1: 7, 6: 0}  # question -> answer given; every other question is answered right
# No network at all: Chromium's background services would only try to reach the outside.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,1150"]  # fmt: skip


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(driver: webdriver.Chrome, condition, timeout: float = 20) -> None:
    WebDriverWait(driver, timeout).until(lambda d: condition(d))


def shown_question(driver: webdriver.Chrome) -> str | None:
    return driver.find_element(By.ID, "test-canvas").get_attribute("data-question")


def press(driver: webdriver.Chrome, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()


def load(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")


def test_a_short_test_in_a_real_browser(browser, tmp_path, cache_dir):
    out = tmp_path / "person"
    server = start(out, cache_dir, f"n_questions={N_QUESTIONS}", "name=browser")
    try:
        url = url_of(server)
        questions = json.loads((out / ANSWERS_FILE).read_text())["questions"]
        labels = [int(load_dataset(DatasetConfig(), cache_dir)["y_test"][i]) for i in questions]
        answers = [WRONG.get(q, label) for q, label in enumerate(labels)]

        load(browser, url)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#templates canvas")) == 10
        assert len(browser.find_elements(By.CSS_SELECTOR, "#browse canvas")) == 12
        press(browser, "3")  # a practice answer: feedback at once, right or wrong
        wait_for(browser, lambda d: "that was a" in d.find_element(By.ID, "feedback").text)
        browser.save_screenshot(str(tmp_path / "human_practice.png"))

        browser.find_element(By.ID, "tab-test").click()
        browser.find_element(By.ID, "start").click()
        for question in range(N_QUESTIONS):
            wait_for(browser, lambda d, q=question: shown_question(d) == str(q))
            if question == 2:
                press(browser, "a", "x", " ", "-")  # unknown keys are ignored
                press(browser, "p", str(answers[question]))  # paused: a digit is ignored too
                assert not_advanced(browser, out, question)
                browser.save_screenshot(str(tmp_path / "human_paused.png"))
                press(browser, "p")
            if question == 5:
                browser.refresh()  # a reload mid-test continues where it was
                load(browser, url)
                assert "answered 5 of 10" in browser.find_element(By.ID, "test-status").text
                browser.find_element(By.ID, "start").click()
                wait_for(browser, lambda d: shown_question(d) == "5")
                browser.save_screenshot(str(tmp_path / "human_test.png"))
            press(browser, str(answers[question]))
        wait_for(
            browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-finished") == "true"
        )
        wait_for(
            browser, lambda d: d.execute_script("return document.getElementById('figure').naturalWidth") > 0
        )
        assert "8 of 10 right: 80.0 %" in browser.find_element(By.ID, "score").text
        browser.save_screenshot(str(tmp_path / "human_results.png"))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    results = json.loads((out / "results.json").read_text())
    assert [a["answer"] for a in results["answers"]] == answers
    assert results["final_acc"] == pytest.approx(0.8)
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (labels, answers), 1)
    assert results["confusion_matrix"] == expected.tolist()
    assert all(a["response_time_s"] is not None and a["response_time_s"] >= 0 for a in results["answers"])
    assert (out / "human_results.png").read_bytes().startswith(b"\x89PNG")
    for name in ("human_practice", "human_test", "human_results"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000  # a real screenshot, not a blank page


def not_advanced(driver: webdriver.Chrome, out: Path, question: int) -> bool:
    """True when, a moment after the keys, the page still shows `question` and nothing more was saved."""
    try:
        wait_for(driver, lambda d: shown_question(d) != str(question), timeout=1.5)
        return False
    except TimeoutException:
        return len(json.loads((out / ANSWERS_FILE).read_text())["answers"]) == question
