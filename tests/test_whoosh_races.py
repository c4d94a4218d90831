"""Whoosh searched while another process's writer merges the index under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from photoarchive import init_archive, open_archive
from photoarchive.search.whoosh_engine import WhooshEngine
from tests.hostile import good_jpeg


def test_a_segment_removed_under_a_searcher_is_searched_again_on_the_index_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    arc, _ = init_archive(root, search_engine="whoosh")
    with arc:
        photo = tmp_path / "p.jpg"
        photo.write_bytes(good_jpeg())
        arc.ingest([photo])
    reader = open_archive(root, readonly=True)
    engine = reader.index
    assert isinstance(engine, WhooshEngine)
    assert reader.search("*:*").total == 1  # this thread's searcher is open
    # Another process's writer commits: the searcher is out of date, and its first read of
    # a column whose segment the writer merged away finds no file (Whoosh: a None reader).
    with open_archive(root) as writer:
        second = tmp_path / "q.jpg"
        second.write_bytes(good_jpeg((200, 10, 10)))
        writer.ingest([second])
    real = WhooshEngine._search
    calls: list[int] = []

    def merged_away(self: WhooshEngine, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("'NoneType' object is not subscriptable")
        return real(self, *args)

    monkeypatch.setattr(WhooshEngine, "_search", merged_away)
    assert reader.search("*:*", sort="ingested").total == 2
    assert len(calls) == 2
    # On an index that did not change, the same error is not hidden.
    calls.clear()
    with pytest.raises(TypeError):
        reader.search("*:*", sort="ingested")
    reader.close()
