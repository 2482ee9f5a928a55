"""Draw docs/images/viewer.png: a simulated SOOP-like scan through `isla predict --viewer` in headless chromium.

The scan is simulated (no real data in the repository); the model is the shipped one. Needs Debian's
chromium and chromium-driver and selenium (``pip install -e .[dev]``).

Usage::

    python scripts/render_viewer_picture.py --workdir /tmp/viewer_picture
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from isla_nnunet.simulation import simulate_case, write_native_case

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "viewer.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    files = write_native_case(simulate_case(11, "soop-like", pattern="mixed", volume_ml=40.0),
                              args.workdir / "scan", "sim11", overwrite=True)
    subprocess.run([sys.executable, "-m", "isla_nnunet", "predict", "--dwi", str(files["dwi"]), "--adc",
                    str(files["adc"]), "-o", str(args.workdir / "prediction"), "--viewer", "--overwrite"], check=True)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1180,760"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get((args.workdir / "prediction" / "viewer.html").resolve().as_uri())
        while driver.execute_script("return document.body.dataset.ready") != "1":
            time.sleep(0.1)
        driver.find_element(By.ID, "show-probability").click()
        driver.find_element(By.CSS_SELECTOR, "#lesions tbody tr[data-lesion='1']").click()
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(OUT))
    finally:
        driver.quit()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
