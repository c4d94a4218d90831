"""Read catalogued originals again for the fields newer versions read (IPTC Extension, every
caption language, provenance), leaving what the desk supplied or edited as it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photoarchive.errors import ObjectMissingError
from photoarchive.record import PhotoRecord
from photoarchive.store import original_key

if TYPE_CHECKING:
    from photoarchive.archive import Archive

#: The fields a re-read fills: those read from files since catalog schema 5.
REREAD_FIELDS = tuple(
    PhotoRecord.field_names()[PhotoRecord.field_names().index("ingested_at") + 1 :]
)


def reread_originals(
    archive: Archive, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Read every original's metadata again and store the REREAD_FIELDS it gives; return how
    many photos changed. Files that cannot be read are left as they were (verify reports
    them). Holds the writer lock; the photos changed are flagged for the index."""
    from PIL import Image

    from photoarchive.ingest import _read_provenance, _register_heif, displayed_size, image_limits
    from photoarchive.metadata import extract_metadata

    _register_heif()
    changed = 0
    with archive.writing("re-read of the originals"):
        photos = list(archive.catalog.iter_photos())
        for done, photo in enumerate(photos, 1):
            rec = photo.record
            key = original_key(rec.sha256, photo.ext)
            try:
                with (
                    image_limits(archive.settings),
                    archive.store.open(key) as fh,
                    Image.open(fh) as im,
                ):
                    extracted = extract_metadata(im, fh)
                    # Content Credentials are read from the file, or its bytes.
                    whole: Path | bytes | None = archive.store.local_path(key)
                    if whole is None:
                        fh.seek(0)
                        whole = fh.read()
            except (
                ObjectMissingError,  # verify reports it
                OSError,
                SyntaxError,
                ValueError,
                Image.DecompressionBombError,
                Image.DecompressionBombWarning,
            ):
                continue
            fresh = PhotoRecord(
                id=rec.id,
                sha256=rec.sha256,
                original_filename=rec.original_filename,
                format=rec.format,
                width=rec.width,
                height=rec.height,
                file_size=rec.file_size,
                orientation=rec.orientation,
                **{
                    k: v
                    for k, v in extracted.merged.values.items()
                    if k in REREAD_FIELDS and k not in ("c2pa",)
                },
            )
            _read_provenance(fresh, whole, rec.format, archive.root)
            fresh.display_width, fresh.display_height = displayed_size(fresh)
            values: dict[str, Any] = {name: getattr(fresh, name) for name in REREAD_FIELDS}
            if any(values[name] != getattr(rec, name) for name in REREAD_FIELDS):
                archive.catalog.set_read_fields(rec.sha256, values)
                changed += 1
            if on_progress and (done % 200 == 0 or done == len(photos)):
                on_progress(done, len(photos))
    # The photos are flagged for the index: `reindex` (which calls this) rebuilds it.
    return changed
