"""viewer.html and index.html: embedded data decoded in Python, then the page driven in Debian's chromium."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import shutil
import time

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.prediction.batch import predict_batch
from isla_nnunet.prediction.pipeline import MASK, PROBABILITY, VIEWER, PredictionSettings, predict_case
from isla_nnunet.prediction.qc import lps_array
from isla_nnunet.prediction.viewer import lesion_slices
from isla_nnunet.simulation import simulate_case, write_native_case

from .helpers import BallModel, model_set

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _embedded(page: str) -> dict:
    payload = re.search(r'<script id="case-data" type="application/json">(.*?)</script>', page, re.S)[1]
    data = json.loads(payload)
    shape = tuple(data["shape"])
    data["arrays"] = {name: np.frombuffer(gzip.decompress(base64.b64decode(text)), np.uint8).reshape(shape)
                      for name, text in data["volumes"].items()}
    return data


@pytest.fixture(scope="module")
def soop_like(tmp_path_factory):
    """A SOOP-like simulated scan (256 x 256 x 26, 6 mm slices) predicted with the ball stand-in."""
    folder = tmp_path_factory.mktemp("viewer")
    case = simulate_case(3, "soop-like", pattern="single", volume_ml=30.0)
    files = write_native_case(case, folder / "in", "soop")
    spec = CaseSpec("soop", str(files["dwi"]), adc=str(files["adc"]), brain=str(files["brainmask"]), role="test")
    result = predict_case(spec, model_set(BallModel()), folder / "out", PredictionSettings(viewer=True))
    return result


def test_page_is_self_contained_compact_and_holds_the_case(soop_like):
    page_path = soop_like.outdir / VIEWER
    page = page_path.read_text(encoding="utf-8")
    assert page_path.stat().st_size < 3_000_000
    assert not re.search(r'(src|href)\s*=|<link|https?://|@import', page)
    data = _embedded(page)
    mask = sitk.ReadImage(str(soop_like.outdir / MASK))
    probability = sitk.ReadImage(str(soop_like.outdir / PROBABILITY))
    np.testing.assert_array_equal(data["arrays"]["mask"], lps_array(mask))
    assert np.abs(data["arrays"]["probability"] / 255.0 - lps_array(probability)).max() <= 0.5 / 255 + 1e-6
    assert data["voxel_ml"] == pytest.approx(np.prod(mask.GetSpacing()) / 1000)
    (lesion,) = data["lesions"]
    assert lesion["slices"] == lesion_slices(mask)[1]
    assert lesion["volume_ml"] == pytest.approx(soop_like.report["lesion"]["total_volume_ml"])
    # The lesion's centroid slice holds lesion voxels in each view.
    z, y, x = lesion["slices"]
    shown = data["arrays"]["mask"]
    assert shown[z].any() and shown[:, y].any() and shown[..., x].any()


@pytest.fixture(scope="module")
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if shutil.which(p) is None]
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    if missing:
        pytest.skip(f"{' and '.join(missing)} missing: install Debian's chromium and chromium-driver (.ci/run does)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, path):
    browser.get(path.resolve().as_uri())
    deadline = time.time() + 30
    while browser.execute_script("return document.body.dataset.ready") != "1":
        assert time.time() < deadline, "the viewer did not finish decoding its data"
        time.sleep(0.1)


def _canvas_pixels(browser, plane: str) -> np.ndarray:
    import matplotlib.image
    from selenium.webdriver.common.by import By

    png = browser.find_element(By.ID, f"view-{plane}").screenshot_as_png
    return (matplotlib.image.imread(io.BytesIO(png))[..., :3] * 255).round().astype(int)


def _red(pixels: np.ndarray) -> int:
    return int(((pixels[..., 0] > 230) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)).sum())


def test_viewer_in_a_real_browser(browser, soop_like):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(browser, soop_like.outdir / VIEWER)
    data = _embedded((soop_like.outdir / VIEWER).read_text())
    element = browser.find_element
    # At the default threshold the page counts the written mask.
    assert element(By.ID, "volume").text == f"{soop_like.report['lesion']['total_volume_ml']:.2f}"
    assert _red(_canvas_pixels(browser, "axial")) > 20

    # Threshold slider: 20 steps of 0.01 to the right; the volume follows probability > 0.70.
    slider = element(By.ID, "threshold")
    slider.click()
    browser.execute_script("arguments[0].value = 0.5; arguments[0].dispatchEvent(new Event('input'))", slider)
    slider.send_keys(*[Keys.ARROW_RIGHT] * 20)
    assert element(By.ID, "threshold-value").text == "0.70"
    expected = int((data["arrays"]["probability"] > 0.70 * 255).sum())
    assert int(element(By.ID, "count").text) == expected
    assert 0 < expected < data["arrays"]["mask"].sum()

    # Outline off: no red left; probability on: coloured (not grey) pixels appear.
    element(By.ID, "show-outline").click()
    assert _red(_canvas_pixels(browser, "axial")) == 0
    grey = _canvas_pixels(browser, "axial")
    assert (np.ptp(grey, axis=-1) > 30).sum() == 0
    element(By.ID, "show-probability").click()
    coloured = _canvas_pixels(browser, "axial")
    assert (np.ptp(coloured, axis=-1) > 30).sum() > 50
    element(By.ID, "background-adc").click()
    assert np.abs(_canvas_pixels(browser, "axial") - coloured).sum() > 0

    # A lesion-table row moves the three views to the lesion's centroid.
    for plane in ("axial", "coronal", "sagittal"):
        browser.execute_script(f"document.getElementById('slice-{plane}').value = 0")
    element(By.CSS_SELECTOR, "#lesions tbody tr[data-lesion='1']").click()
    slices = [int(element(By.ID, f"slice-{plane}").get_attribute("value"))
              for plane in ("axial", "coronal", "sagittal")]
    assert slices == data["lesions"][0]["slices"]
    assert "selected" in element(By.CSS_SELECTOR, "#lesions tbody tr").get_attribute("class")


def test_batch_index_links_each_viewer(browser, native_case, tmp_path):
    from selenium.webdriver.common.by import By

    specs = [CaseSpec(name, str(native_case["dwi"]), adc=str(native_case["adc"]), brain=str(native_case["brainmask"]),
                      role="test") for name in ("first", "second")]
    specs.append(CaseSpec("broken", str(tmp_path / "missing_dwi.nii.gz"), adc=str(native_case["adc"]), role="test"))
    predict_batch(specs, model_set(BallModel()), tmp_path / "out", PredictionSettings(viewer=True), progress=False)
    browser.get((tmp_path / "out" / "index.html").resolve().as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "#cases tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["predicted", "predicted", "failed"]
    assert "failed" in rows[2].get_attribute("class") and not rows[2].find_elements(By.TAG_NAME, "a")
    rows[1].find_element(By.TAG_NAME, "a").click()
    deadline = time.time() + 30
    while browser.execute_script("return document.body.dataset.ready") != "1":
        assert time.time() < deadline
        time.sleep(0.1)
    assert browser.current_url.endswith("/second/viewer.html")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("second")
