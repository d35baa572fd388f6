"""Fixtures of the system tests that cost minutes: the container images, built once."""

from __future__ import annotations

import pytest

from tests.system import images


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The service's image (`make image`), built once a session; a skip says why not."""
    return images.service_image(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="session")
def postgres_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    return images.postgres_image(tmp_path_factory.mktemp("postgres-image"))
