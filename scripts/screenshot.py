#!/usr/bin/env python3
"""Screenshots of the web page with the seed catalog, for the README and docs/web-page.md.

Starts the real server on a free loopback port over the seed index (building it into a
temporary folder) and saves four views into ``--out-dir``: a search (screenshot.png), a
film's view (film.png), the map with that film marked (map.png), and a search on a
phone-sized screen, 360 px wide (phone.png):

    python scripts/screenshot.py --out-dir docs
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

from recommender.catalog.films import load_catalog  # noqa: E402
from recommender.embedding.embedder import Embedder  # noqa: E402
from recommender.index.build import build_index  # noqa: E402
from tests.ops import running_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default="docs", type=Path)
    parser.add_argument("--query", default="a boxer fights a Russian")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("no chromium: apt-get install chromium", file=sys.stderr)
        return 1
    out = args.out_dir
    with tempfile.TemporaryDirectory() as tmp:
        build_index(load_catalog(ROOT / "seeds" / "films.jsonl"), Embedder(), tmp,
                    progress=False, export_onnx=True)
        with running_server(Path(tmp), workers=1) as (base, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 900, "height": 760})
            page.goto(base + "/")
            page.fill("#q", args.query)
            page.keyboard.press("Enter")
            page.wait_for_selector("#results .card .why")
            page.screenshot(path=out / "screenshot.png")
            page.goto(base + "/?film=rocky-1976")
            page.wait_for_selector("#results .card .why")
            page.screenshot(path=out / "film.png")
            page.goto(base + "/?view=map&film=rocky-1976")
            page.wait_for_function("mapState.highlight.size > 0")
            page.screenshot(path=out / "map.png")
            phone = browser.new_page(viewport={"width": 360, "height": 740})
            phone.goto(base + "/?q=" + args.query.replace(" ", "+"))
            phone.wait_for_selector("#results .card .why")
            phone.screenshot(path=out / "phone.png")
            browser.close()
    print(f"written to {out}: screenshot.png, film.png, map.png, phone.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
