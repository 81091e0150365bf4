"""Takes the README's screenshots from a running sentrail (after `sentrail demo`), in Debian's
Chromium:  python -m bench.screenshots [http://127.0.0.1:8000]"""

import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from bench.browser import CHROMIUM, CHROMIUM_ARGS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main(url: str) -> None:
    failed = httpx.get(f"{url}/api/v1/orders", params={"status": "failed", "service": "catalog"})
    order = failed.json()["orders"][0]["order_id"]
    release = httpx.get(f"{url}/api/v1/releases").json()["releases"][0]["version"]
    pages = {
        "overview": "/",
        "journey": f"/orders/{order}",
        "release": f"/releases/{release}",
        "orders": "/orders?status=stalled",
        "services": "/services",
    }
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        for name, path in pages.items():
            page.goto(url + path)
            page.screenshot(path=str(DOCS / f"{name}.png"))
            print(f"docs/{name}.png: {path}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
