"""The page in a real browser: headless Chromium (Debian's) driven by Playwright,
against the real server on loopback."""

import shutil

import pytest

from tests.ops import running_server

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed: pip install -e '.[dev]'")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium here: `make test` installs "
                       "Debian's chromium where it can (root and apt-get); the browser tests "
                       "are skipped without it"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def base(seed_index_dir):
    with running_server(seed_index_dir, workers=1) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, base):
    context = browser.new_context(base_url=base, viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _titles(page):
    page.wait_for_selector(".card h2")
    return page.locator(".card h2").all_inner_texts()


def test_type_a_description_and_see_the_film_first(page):
    page.goto("/")
    page.fill("#q", "a boxer fights a Russian")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Understood as a description")
    assert _titles(page)[0] == "Rocky IV (1985)"
    assert "q=a+boxer+fights+a+Russian" in page.url  # shareable
    assert page.locator(".card .score").first.inner_text().startswith("score ")


def test_a_title_is_understood_as_a_title(page):
    page.goto("/?q=Triumfens%20timer")
    page.wait_for_selector("text=Understood as the title")
    assert "Chariots of Fire (1981)" in page.inner_text("#status")
    assert "Chariots of Fire (1981)" not in _titles(page)


def test_open_a_film_and_see_its_similar_films(page):
    page.goto("/?q=karate")
    _titles(page)
    page.locator(".card a").first.click()
    page.wait_for_selector("#film:not([hidden])")
    assert page.inner_text("#film-title") == "The Karate Kid"
    assert "mr. Miyagi" in page.inner_text("#film-synopsis")
    assert "film=the-karate-kid-1984" in page.url
    similar = _titles(page)
    assert len(similar) == 7 and "The Karate Kid (1984)" not in similar
    page.go_back()  # the back button returns to the search
    page.wait_for_selector("text=Understood as a description")


def test_an_unknown_title_shows_the_suggestion(page):
    page.goto("/")
    page.fill("#q", "Rocky 6")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Did you mean")
    link = page.locator("#status a", has_text="Rocky (1976)")
    assert link.count() == 1
    link.click()
    page.wait_for_selector("#film:not([hidden])")
    assert page.inner_text("#film-title") == "Rocky"


def test_keyboard_only(page):
    page.goto("/")
    # the search box has focus on load (keys typed before that would be lost)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    page.keyboard.type("poker")
    page.keyboard.press("Enter")
    assert _titles(page)[0] == "Lucky You (2007)"
    page.focus("#q")
    for _ in range(3):  # search button, filters, first card
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#film:not([hidden])")
    assert page.inner_text("#film-title") == "Lucky You"


def test_filters_are_in_the_address(page):
    page.goto("/?q=bokser&year_min=1980&year_max=1989&mode=semantic")
    years = [t.rsplit("(", 1)[1][:4] for t in _titles(page)]
    assert years and all("1980" <= y <= "1989" for y in years)
    assert page.input_value("#mode") == "semantic"


def test_errors_show_the_api_message(page):
    page.goto("/?film=no-such-film")
    page.wait_for_selector("#status.error")
    assert "No film with id 'no-such-film'" in page.inner_text("#status")
    page.goto("/?q=xyzzy&year_min=2050")
    page.wait_for_selector(".empty")
    assert "No films match" in page.inner_text("#results")


def test_readable_on_a_phone(browser, base):
    context = browser.new_context(base_url=base, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto("/?q=karate")
    page.wait_for_selector(".card")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    context.close()


def test_no_request_leaves_the_machine(browser, base):
    context = browser.new_context(base_url=base)
    page = context.new_page()
    hosts = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    page.goto("/?q=karate")
    page.wait_for_selector(".card")
    assert hosts == {base.split("/")[2]}
    context.close()


def test_with_read_keys_the_page_asks_for_one_and_then_works(browser, seed_index_dir):
    """The page is open; the API behind it isn't: a viewer gives a key once."""
    with running_server(seed_index_dir, workers=1,
                        env={"RECOMMENDER_API_KEYS": "viewer-key"}) as (url, _):
        context = browser.new_context(base_url=url, viewport={"width": 1000, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto("/")
            assert page.locator("#key-form").is_hidden()  # nothing asked yet
            page.fill("#q", "poker")
            page.keyboard.press("Enter")
            page.wait_for_selector("#key-form:not([hidden])")
            page.fill("#api-key", "viewer-key")
            page.click("#key-form button")
            assert _titles(page)[0] == "Lucky You (2007)"
            assert page.locator("#key-form").is_hidden()
            page.goto("/?q=boxer")  # kept in the browser for the next visit
            assert _titles(page)
        finally:
            context.close()
