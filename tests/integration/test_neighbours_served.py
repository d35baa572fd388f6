"""A served index gets its table; the setting turns it off."""

import dataclasses

from recommender.api import http_io
from recommender.api.app import create_app
from recommender.distribution.live import LiveIndex
from tests.conftest import answer


def test_a_served_index_gets_its_table_and_the_setting_turns_it_off(settings, engine):
    served = create_app(settings)
    client, plain = served.test_client(), create_app(settings,
                                                     live=LiveIndex.serving(engine)).test_client()
    for film in engine.index.films:
        for url in (f"/films/{film.id}/similar?k=3", f"/films/{film.id}/similar?k=2&offset=1"):
            assert answer(client.get(url).get_json()) == answer(plain.get(url).get_json())
    live = http_io.services(served).live
    if live.holder.table_thread is not None:  # made after the swap, where none was saved yet
        live.holder.table_thread.join(timeout=60)
    assert live.engine().neighbours is not None
    off = create_app(dataclasses.replace(settings, similar_table_max_films=0))
    assert http_io.services(off).live.engine().neighbours is None
    url = "/films/rocky-1976/similar"
    assert answer(off.test_client().get(url).get_json()) == answer(client.get(url).get_json())
