"""The web page in headless Chromium (Debian's chromium and chromium-driver) driven by Selenium: ask a question, see
the answer with its sources and each claim marked as the checker labelled it, move the lambda slider and see the
answer change, compare a sweep; writes a screenshot (to a temporary file; DERA_SCREENSHOT=docs/serve.png regenerates the README's)."""
import json
import os
import pathlib
import shutil
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUESTION = "How high is Mount Kilimanjaro?"


def browser_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing (scripts/setup --browser)")
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup --browser)")
    return chromium, driver


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1100,1500", "--hide-scrollbars"):
        options.add_argument(flag)
    # The driver is given, so Selenium Manager never looks for (or downloads) one.
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_page_load_timeout(60)
    yield session
    session.quit()


def api_ask(server, lambda_):
    body = json.dumps({"question": QUESTION, "k": 3, "max_tokens": 96, "lambda": lambda_, "db": server["store"]})
    request = urllib.request.Request(server["url"] + "/v1/ask", data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)


def test_ask_slide_and_sweep(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 300)
    browser.get(server["url"] + "/")
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#store option"))

    def answered(lambda_text):
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-answered-lambda") == lambda_text)
        return browser.find_element(By.ID, "answer").text

    # Type a question and ask at the slider's starting lambda, 0.5.
    browser.find_element(By.ID, "question").send_keys(QUESTION)
    browser.find_element(By.ID, "ask").click()
    first = answered("0.5")
    assert first.strip()
    citations = browser.find_elements(By.CSS_SELECTOR, "#citations li")
    assert citations and "Mount Kilimanjaro" in citations[0].text
    # Each claim is marked with the label the checker gave it (the same request through the API).
    expected = [c["label"] for c in api_ask(server, 0.5)["check"]["claims"]]
    marked = [s.get_attribute("data-label") for s in browser.find_elements(By.CSS_SELECTOR, "#answer .claim")]
    assert marked == expected and marked
    for span in browser.find_elements(By.CSS_SELECTOR, "#answer .claim.unsupported"):
        assert span.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"

    # Move the slider to its far end (lambda 2): the page asks again and the answer changes.
    slider = browser.find_element(By.ID, "lambda")
    slider.send_keys(Keys.END)
    second = answered("2")
    assert browser.find_element(By.ID, "lambda-value").text == "2.0"
    assert "lambda 2.00" in browser.find_element(By.ID, "answer-lambda").text
    assert second != first, "lambda 0.5 and 2 gave the same answer"

    # A sweep: one card per lambda and both curves.
    browser.find_element(By.ID, "sweep").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#sweep-results .card")) == 5)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sweep-chart polyline")) == 2

    # auto: the candidates decoded together, the chosen one marked, the slider disabled meanwhile.
    browser.find_element(By.ID, "auto").click()
    answered("auto")
    rows = browser.find_elements(By.CSS_SELECTOR, "#candidates tbody tr")
    assert len(rows) == 3 and len(browser.find_elements(By.CSS_SELECTOR, "#candidates tr.chosen")) == 1
    assert not slider.is_enabled()
    browser.find_element(By.ID, "auto").click()
    answered("2")

    # Back to 0.5 for the picture: an answer with its claims marked, the sources and the sweep.
    slider.send_keys(Keys.HOME)
    for _ in range(5):
        slider.send_keys(Keys.ARROW_RIGHT)
    assert answered("0.5") == first
    browser.execute_script("window.scrollTo(0, 0)")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1100, min(max(height + 40, 900), 2400))
    # Into the test's temporary folder, so a test run leaves the checkout clean; DERA_SCREENSHOT names the README's.
    shot = pathlib.Path(os.environ.get("DERA_SCREENSHOT") or tmp_path / "serve.png")
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
