#!/usr/bin/env python3
"""Screenshots of the web page and the dashboard on a real catalog, the Netflix titles, as
a new user meets them: at desktop width (1000 px) and on a phone (375 px).

Builds ../shared/datasets/netflix_titles.csv as the README shows (ids from ``show_id``)
into a temporary folder, serves it with an event store, plays a short session of a few
viewers (searches, films opened from each list, likes) and saves, for each width,
``netflix-{search,film,home,dashboard,map}-{desktop,phone}.png`` into ``--out-dir``:

    python scripts/screenshot_netflix.py --out-dir docs/screenshots
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchlib import NETFLIX, ROOT
from playwright.sync_api import Page, sync_playwright

from recommender.cli.main import main as cli
from tests.ops import call, running_server

WIDTHS = {"desktop": (1000, 900), "phone": (375, 800)}
SEARCH = "a heist in Spain"


def build(out: Path) -> None:
    code = cli(["build", "--catalog", str(NETFLIX), "--out", str(out), "--quiet",
                "--id-col", "show_id", "--title-col", "Movie", "--text-col", "description",
                "--year-col", "release_year", "--genres-col", "genre", "--language", "en",
                "--on-invalid", "skip"])
    if code != 0:
        sys.exit(f"the build failed ({code})")


def traffic(base: str) -> None:
    """A few viewers: each searches, opens a film from the answer (a click naming it) and
    likes one, so the dashboard has impressions and clicks on several surfaces."""
    for i, q in enumerate(["a heist in Spain", "zombie apocalypse survivors",
                           "stand-up comedy special", "a shark attacks swimmers",
                           "documentary about climate change", "teenagers fall in love"]):
        user = f"viewer-{i}"
        answer = call(base + f"/search?q={q.replace(' ', '%20')}&k=10&user={user}")[1]
        film = answer["results"][i % 3]["id"]
        call(base + "/events", "POST", {"user": user, "film": {"id": film}, "type": "click",
                                        "recommendation_id": answer["recommendation_id"]})
        call(base + "/events", "POST", {"user": user, "film": {"id": film}, "type": "like"})
        similar = call(base + f"/films/{film}/similar?k=10&user={user}")[1]
        if i % 2:
            call(base + "/events", "POST", {
                "user": user, "film": {"id": similar["results"][0]["id"]}, "type": "click",
                "recommendation_id": similar["recommendation_id"]})
        recs = call(base + f"/users/{user}/recommendations?k=10")[1]
        if i % 3 == 0:
            call(base + "/events", "POST", {
                "user": user, "film": {"id": recs["results"][1]["id"]}, "type": "click",
                "recommendation_id": recs["recommendation_id"]})
    time.sleep(2)  # impressions are written off the request path


def shoot(page: Page, base: str, out: Path, width: str) -> None:
    page.goto(base + "/?q=" + SEARCH.replace(" ", "+"))
    page.wait_for_selector("#results .card .why")
    page.screenshot(path=out / f"netflix-search-{width}.png")
    page.locator("#results .card a[data-film]").first.click()
    page.wait_for_selector("#film:not([hidden])")
    page.wait_for_selector("#results .card")
    page.screenshot(path=out / f"netflix-film-{width}.png")
    page.locator("#results .card button[data-event=like]").first.click()
    page.goto(base + "/")
    page.wait_for_selector(".home-section.row .card")
    page.screenshot(path=out / f"netflix-home-{width}.png")
    page.goto(base + "/dashboard")
    page.wait_for_selector("#surfaces tr")
    page.screenshot(path=out / f"netflix-dashboard-{width}.png", full_page=True)
    page.goto(base + "/?view=map")
    page.wait_for_function("mapState.points.length > 0")
    page.screenshot(path=out / f"netflix-map-{width}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default=ROOT / "docs" / "screenshots", type=Path)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium or not NETFLIX.exists():
        print("needs chromium (apt-get install chromium) and " + str(NETFLIX), file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "netflix"
        build(index)
        env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{Path(tmp) / 'events.sqlite3'}"}
        with running_server(index, workers=1, env=env) as (base, _), sync_playwright() as p:
            traffic(base)
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking"])
            for width, (w, h) in WIDTHS.items():
                context = browser.new_context(viewport={"width": w, "height": h})
                page = context.new_page()
                page.set_default_timeout(60_000)
                shoot(page, base, args.out_dir, width)
                context.close()
            browser.close()
    print(f"written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
