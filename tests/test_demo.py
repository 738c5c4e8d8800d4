"""``cinediff demo``: the requests it accepts, the files it writes, and the page in a real browser.

The browser tests (``-m browser``; ``.ci/run`` runs them when Debian's chromium and chromedriver
are there) start the app on a free port with a tiny trained model, drive headless chromium with
selenium, and check what a user sees: a playing ``<video>``, the downloads, the Compare tab, and a
one-line message for bad input after which the server still serves. ``CINEDIFF_DEMO_MODEL``
runs them on another model (the README's screenshot: the shipped default) and
``CINEDIFF_DEMO_SCREENSHOT`` saves the page after a generation there.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_pipeline import tiny_run

from cinediff.demo.app import Request, Studio, build_app, shipped_video_models
from cinediff.training.export import export_model
from cinediff.training.trainer import train

PROMPT = "a red circle moving left"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return export_model(train(tiny_run(root / "run", 3, 16, 4, "train.sample_every=0")), root / "export")


def test_requests_are_checked_field_by_field():
    ok = Request("default", PROMPT, seed=3.0, steps="4", guidance=" 2.5", sampler="", noise_prior=" ",
                 noise_alpha="").checked()
    assert (ok.seed, ok.steps, ok.guidance, ok.sampler, ok.noise_prior, ok.noise_alpha) == (3, 4, 2.5, None, None, None)
    assert isinstance(ok.seed, int) and isinstance(ok.steps, int)
    for bad, message in ((dict(prompt="  "), "prompt"), (dict(model=""), "choose a model"),
                         (dict(steps=0), "steps must be"), (dict(steps="many"), "steps must be a number"), (dict(seed=1.5), "seed must be a whole"),
                         (dict(seed=-1), "seed"), (dict(sampler="ddpm"), "sampler must be one of"),
                         (dict(noise_prior="pink"), "noise prior must be"), (dict(noise_alpha=-1.0), "α must be")):
        fields = {"model": "default", "prompt": PROMPT} | bad
        with pytest.raises(ValueError, match=message):
            Request(**fields).checked()


def test_studio_writes_the_video_its_sidecar_and_reports_every_step(model_dir, tmp_path):
    studio = Studio(tmp_path / "out", device="cpu")
    seen = []
    mp4, sidecar = studio.generate(Request(str(model_dir), PROMPT, seed=7, steps=3, sampler="euler",
                                           noise_prior="mixed"), lambda f, text: seen.append((f, text)))
    assert [f for f, _ in seen] == pytest.approx([1 / 3, 2 / 3, 1.0]) and seen[-1][1].startswith("step 3/3")
    meta = json.loads(sidecar.read_text())
    assert mp4.is_file() and mp4.with_suffix(".gif").is_file() and mp4.parent == tmp_path / "out"
    assert meta["seed"] == 7 and meta["prompt"] == meta["read_as"] == PROMPT and meta["generation"]["noise_prior"] == "mixed"
    assert meta["shape"] == [3, 4, 16, 16] and meta["generation"]["steps"] == 3
    again, _ = studio.generate(Request(str(model_dir), PROMPT, seed=7, steps=3, sampler="euler", noise_prior="mixed"))
    from cinediff.io import read_video

    assert (read_video(again) == read_video(mp4)).all()  # same seed, same video; the model stayed loaded
    assert list(studio.loaded) == [str(model_dir)] and again != mp4


def test_the_app_builds_with_both_tabs_and_queues_one_request_at_a_time(model_dir, tmp_path):
    app = build_app(Studio(tmp_path, device="cpu"), [str(model_dir), "default"])
    config = app.get_config_file()
    labels = {c["props"].get("label") for c in config["components"]}
    assert {"Generate", "Compare"} <= labels and {"prompt", "seed", "video", "video A", "video B"} <= labels
    assert app._queue.default_concurrency_limit == 1 and app.analytics_enabled is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert shipped_video_models() == ["default"]


def test_demo_cli_refuses_bad_options_in_one_line(tmp_path):
    for args, message in ((["--port", "0"], "--port"), (["--model", str(tmp_path / "none")], "neither a shipped")):
        run = subprocess.run([sys.executable, "-m", "cinediff.cli.main", "demo", *args], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode != 0 and message in run.stderr and "Traceback" not in run.stderr


# ---- in a real browser -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    from cinediff.demo.app import launch

    model = os.environ.get("CINEDIFF_DEMO_MODEL", str(model_dir))
    port = free_port()
    app = launch(model, port=port, out_dir=str(tmp_path_factory.mktemp("demo-out")), device="cpu", block=False)
    yield f"http://127.0.0.1:{port}", model
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # no driver download
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(browser, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#generate"))


def fill(browser, elem_id: str, value: str):
    """Type ``value`` into the textbox / number box inside ``#elem_id``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element(By.CSS_SELECTOR, f"#{elem_id} textarea, #{elem_id} input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(value)


def click(browser, elem_id: str):
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, f"#{elem_id}").click()


def playing_video(browser, elem_id: str, timeout: float = 240) -> dict:
    """Wait for the ``<video>`` in ``#elem_id`` to load, play it, return its duration and the
    playback positions seen over half a second."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    video = WebDriverWait(browser, timeout).until(
        lambda d: next((v for v in d.find_elements(By.CSS_SELECTOR, f"#{elem_id} video")
                        if d.execute_script("return arguments[0].readyState >= 2 && arguments[0].duration > 0", v)),
                       False))
    browser.execute_script("arguments[0].loop = true; arguments[0].muted = true; arguments[0].play()", video)
    positions = []
    for _ in range(6):
        positions.append(browser.execute_script("return arguments[0].currentTime", video))
        time.sleep(0.1)
    return {"duration": browser.execute_script("return arguments[0].duration", video), "positions": positions,
            "src": video.get_attribute("src")}


@pytest.mark.browser
def test_generate_in_the_browser_plays_the_video_and_offers_mp4_and_json(server, browser):
    from selenium.webdriver.common.by import By

    url, model = server
    open_page(browser, url)
    fill(browser, "prompt", "a blue square growing")
    fill(browser, "seed", "5")
    if model != os.environ.get("CINEDIFF_DEMO_MODEL"):
        fill(browser, "steps", "3")  # the tiny test model; a real one keeps its own steps
    click(browser, "generate")
    played = playing_video(browser, "video")
    assert played["duration"] > 0 and len(set(played["positions"])) > 1  # playback advances
    links = [a.get_attribute("href") or "" for a in browser.find_elements(By.CSS_SELECTOR, "#files a")]
    names = {Path(link.split("?")[0]).suffix for link in links}
    assert {".mp4", ".json"} <= names
    status = browser.find_element(By.CSS_SELECTOR, "#status").text
    assert "seed 5" in status
    if os.environ.get("CINEDIFF_DEMO_SCREENSHOT"):
        browser.save_screenshot(os.environ["CINEDIFF_DEMO_SCREENSHOT"])


@pytest.mark.browser
def test_bad_input_is_one_line_in_the_page_and_the_server_goes_on(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    open_page(browser, url)
    fill(browser, "prompt", "   ")
    click(browser, "generate")
    toast = WebDriverWait(browser, 60).until(
        lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, ".toast-body, [data-testid='toast-body']")
                        if "prompt" in e.text), False))
    assert "non-empty" in toast.text and "Traceback" not in browser.page_source
    fill(browser, "prompt", PROMPT)
    fill(browser, "steps", "2")
    click(browser, "generate")
    assert playing_video(browser, "video")["duration"] > 0  # the same server still serves


@pytest.mark.browser
def test_compare_tab_shows_two_noise_priors_side_by_side(server, browser):
    from selenium.webdriver.common.by import By

    url, _ = server
    open_page(browser, url)
    next(b for b in browser.find_elements(By.CSS_SELECTOR, "button[role='tab']") if b.text == "Compare").click()
    fill(browser, "c_prompt", PROMPT)
    click(browser, "compare")
    a, b = playing_video(browser, "video_A"), playing_video(browser, "video_B")
    assert a["duration"] > 0 and b["duration"] > 0 and a["src"] != b["src"]
    status = browser.find_element(By.CSS_SELECTOR, "#c_status").text
    assert "A:" in status and "B:" in status


def test_ci_runs_the_browser_tests_when_chromium_is_there():
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "chromium-driver" in ci and "-m browser" in ci
