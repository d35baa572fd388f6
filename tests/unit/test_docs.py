"""The documentation can't drift from the code: the configuration page is generated,
the route tables name exactly what the OpenAPI document serves, the site builds with
no broken link, and the README stays a README."""

import re
import sys

from recommender.api.openapi import build_openapi
from recommender.cli.reference import CONFIGURATION_PAGE, configuration_markdown, field_docs
from recommender.config import Settings
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import performance_page

ROUTE = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^` ?]*)[^`]*`")


def _routes(page: str, heading: str) -> set[tuple[str, str]]:
    """(method, path) of each row of the route table under ``heading``."""
    section = page.split(heading, 1)[1].split("\n#", 1)[0]
    return {(m, re.sub(r"\{[^}]+\}", "{}", p))
            for m, p in (ROUTE.match(line).groups() for line in section.splitlines()
                         if ROUTE.match(line))}


def _served() -> set[tuple[str, str]]:
    doc = build_openapi(Settings())
    return {(m.upper(), re.sub(r"\{[^}]+\}", "{}", p))
            for p, ops in doc["paths"].items() for m in ops}


def test_the_configuration_page_is_the_generated_one():
    committed = (ROOT / CONFIGURATION_PAGE).read_text(encoding="utf-8")
    assert committed == configuration_markdown(), \
        "docs/configuration.md is stale: run `python -m recommender.cli.reference`"


def test_every_setting_is_documented():
    import dataclasses

    undocumented = {f.name for f in dataclasses.fields(Settings)} - set(field_docs())
    assert not undocumented, f"give these settings a docstring in config.py: {undocumented}"
    page = (ROOT / CONFIGURATION_PAGE).read_text(encoding="utf-8")
    assert "`RECOMMENDER_REQUEST_BUDGET_SECONDS`" in page
    assert "| `RECOMMENDER_SEARCH_MODE` |" in page and "`semantic` \\| `lexical`" in page


def test_the_api_reference_names_every_served_route_and_no_other():
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert _routes(page, "## Routes") == _served()


def test_every_route_of_the_contract_is_served():
    page = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    contract = _routes(page, "## HTTP API")
    assert len(contract) >= 7
    assert contract <= _served(), f"in the contract but not served: {contract - _served()}"


def test_the_readme_is_short_and_self_contained():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 12_000
    assert "../shared" not in readme  # a user of the repository doesn't have it
    links = re.findall(r"\]\(((?!https?:)[^)#]+)", readme) + \
        re.findall(r'<img src="((?!https?:)[^"]+)"', readme)
    assert "docs/map.png" in links
    for link in links:
        assert (ROOT / link).exists(), f"README links to {link}, which isn't there"


def test_the_performance_page_takes_the_tables_a_benchmark_printed():
    page = ("intro\n<!-- bench:build (regenerated) -->\nold table\n<!-- /bench:build -->\n"
            "prose\n<!-- bench:query -->\nkept\n<!-- /bench:query -->\n")
    output = "loading...\n| a | b |\n|---|---|\n| 1 | 2 |\nwritten to x.json\n| c |\n|---|\n"
    rendered = performance_page.render(page, {"build": output}, "Measured today.")
    assert "old table" not in rendered and "| 1 | 2 |" in rendered and "| c |" in rendered
    assert "loading" not in rendered and "written to" not in rendered
    assert "Measured today." in rendered and "prose" in rendered
    assert "kept" in rendered  # no output for that benchmark: its block stays
    committed = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert set(performance_page.BLOCK.findall(committed)) >= {
        "build", "query", "scale", "peers", "embed", "lean", "events"}


def test_the_readmes_headline_figures_are_read_off_the_performance_pages():
    """Issue 37: the README's build time was another machine's. Its figures are rendered
    from docs/performance.md and docs/scaling.md (which the benchmarks regenerate), with
    the commit and the CPU, and the figure of a CPU without AVX-512 BF16 beside them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    scaling = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    block = performance_page.HEADLINE.search(readme).group(0)
    assert block == performance_page.headline(page, scaling), \
        "the README's headline is stale: run python scripts/performance_page.py"
    assert "at commit `" in block and "no AVX-512 BF16" in block
