"""Whoosh's codec for writing, made to look up once per segment which length columns exist."""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader


class LengthColumnsOnce(W3PerDocReader):  # type: ignore[misc]
    """Per-document reader that remembers which fields have a length column.

    While writing postings Whoosh asks for the document's field length once per posting,
    and for fields without lengths (IDs, dates) the plain reader looks for the column's
    file each time: a tenth of a rebuild spent in the file system.
    """

    def has_column(self, fieldname: str) -> bool:
        known: dict[str, bool] = self.__dict__.setdefault("_has_column", {})
        if fieldname not in known:
            known[fieldname] = bool(super().has_column(fieldname))
        return known[fieldname]


class WriterCodec(W3Codec):  # type: ignore[misc]
    """Whoosh's own codec, with the remembering reader for the writer's postings pass.

    New segments record the plain codec, so the index on disk is ordinary Whoosh and is
    read without this module.
    """

    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return LengthColumnsOnce(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> Any:
        return W3Codec().new_segment(storage, indexname)
