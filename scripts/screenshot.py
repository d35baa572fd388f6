#!/usr/bin/env python3
"""Screenshot of the web page with the seed catalog, for docs/web-page.md.

Starts the real server on a free loopback port over the seed index (building
it into a temporary folder), searches, and saves the page:

    python scripts/screenshot.py --out docs/screenshot.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from recommender.build import build_index  # noqa: E402
from recommender.catalog import load_catalog  # noqa: E402
from recommender.embedding import Embedder  # noqa: E402
from tests.ops import running_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/screenshot.png")
    parser.add_argument("--query", default="a boxer fights a Russian")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("no chromium: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        build_index(load_catalog(ROOT / "seeds" / "films.jsonl"), Embedder(), tmp,
                    progress=False)
        with running_server(Path(tmp), workers=1) as (base, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 900, "height": 760})
            page.goto(base + "/")
            page.fill("#q", args.query)
            page.keyboard.press("Enter")
            page.wait_for_selector(".card")
            page.screenshot(path=args.out)
            browser.close()
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
