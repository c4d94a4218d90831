"""The catalog's tables: SQLite's ordered migrations, and the same tables on PostgreSQL."""

from __future__ import annotations

from photoarchive.record import PhotoRecord

_RECORD_COLUMNS = PhotoRecord.field_names()


def _column_type(name: str) -> str:
    if name in ("width", "height", "file_size", "orientation", "display_width", "display_height"):
        return "INTEGER"
    return "REAL" if name.startswith("gps_") else "TEXT"


# The record's fields when the catalog was first made: migration 0 creates these, later
# migrations add the rest (a new catalog runs them all, as an old one does).
_FIRST_COLUMNS = _RECORD_COLUMNS[: _RECORD_COLUMNS.index("ingested_at") + 1]
_PHOTO_COLUMNS = ",\n        ".join(
    f"{c} {_column_type(c)}" for c in _FIRST_COLUMNS if c != "sha256"
)
_EXTENSION_COLUMNS = _RECORD_COLUMNS[_RECORD_COLUMNS.index("ingested_at") + 1 :]

# Ordered migrations: entry N brings the schema from version N to N+1.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE photos (
        sha256 TEXT PRIMARY KEY,
        {_PHOTO_COLUMNS},
        ext TEXT NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        needs_index INTEGER NOT NULL DEFAULT 1
    );
    CREATE UNIQUE INDEX photos_id ON photos (id);
    CREATE INDEX photos_needs_index ON photos (needs_index) WHERE needs_index = 1;
    CREATE TABLE sources (
        sha256 TEXT NOT NULL REFERENCES photos (sha256) ON DELETE CASCADE,
        field TEXT NOT NULL,
        family TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (sha256, field, family)
    );
    """,
    """
    ALTER TABLE photos ADD COLUMN picture_id TEXT;
    ALTER TABLE photos ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE photos ADD COLUMN pixel_digest TEXT;
    ALTER TABLE photos ADD COLUMN dhash TEXT;
    UPDATE photos SET picture_id = sha256;
    CREATE INDEX photos_picture ON photos (picture_id, version);
    CREATE INDEX photos_reference ON photos (transmission_reference)
        WHERE transmission_reference IS NOT NULL;
    CREATE INDEX photos_pixels ON photos (pixel_digest) WHERE pixel_digest IS NOT NULL;
    CREATE TABLE pictures (
        picture_id TEXT PRIMARY KEY,
        current_sha256 TEXT NOT NULL,
        killed_at TEXT,
        kill_reason TEXT
    );
    INSERT INTO pictures (picture_id, current_sha256) SELECT sha256, sha256 FROM photos;
    CREATE TABLE edits (
        number INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES photos (sha256),
        at TEXT NOT NULL,
        editor TEXT NOT NULL,
        field TEXT NOT NULL,
        old TEXT,
        new TEXT
    );
    CREATE INDEX edits_photo ON edits (sha256, number);
    """,
    # The archive's identity: its search index carries it, so an index copied from another
    # archive (or left from before) is recognised instead of trusted.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('archive_id', lower(hex(randomblob(16))));
    """,
    # Picture identity by the rules of identity.py: notices kept per photo, the names a
    # notice may use for a photo, kills waiting for their picture, and the desk's kills.
    # Existing pictures are linked again by the rules (Catalog.relink, run by the archive).
    """
    ALTER TABLE photos ADD COLUMN supplier TEXT;
    ALTER TABLE photos ADD COLUMN notice TEXT;
    ALTER TABLE photos ADD COLUMN notice_reason TEXT;
    ALTER TABLE pictures ADD COLUMN killed_by TEXT;
    CREATE TABLE refs (
        ref TEXT NOT NULL,
        sha256 TEXT NOT NULL REFERENCES photos (sha256) ON DELETE CASCADE,
        PRIMARY KEY (ref, sha256)
    );
    CREATE INDEX refs_photo ON refs (sha256);
    CREATE TABLE standing_kills (
        number INTEGER PRIMARY KEY,
        ref TEXT NOT NULL,
        supplier TEXT NOT NULL,
        notice_sha256 TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX standing_kills_ref ON standing_kills (ref);
    CREATE TABLE picture_events (
        number INTEGER PRIMARY KEY,
        picture_id TEXT NOT NULL,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT,
        notice_sha256 TEXT
    );
    CREATE INDEX picture_events_picture ON picture_events (picture_id, number);
    INSERT INTO meta (key, value) VALUES ('relink', 'pending');
    """,
    # IPTC Extension, PLUS, caption languages and provenance (C2PA, digital source type).
    # Photos catalogued before have them empty until `reindex --reread` reads their files.
    "\n".join(f"ALTER TABLE photos ADD COLUMN {c} {_column_type(c)};" for c in _EXTENSION_COLUMNS)
    + "\nCREATE INDEX photos_source_type ON photos (digital_source_type)"
    " WHERE digital_source_type IS NOT NULL;"
    # The index has new fields: it is rebuilt when the archive is first opened to write.
    "\nINSERT INTO meta (key, value) VALUES ('rebuild_index', 'pending');",
    # The index holds terms made by photoarchive's own analysis, the same for every search
    # engine: the old one is rebuilt when the archive is first opened to write.
    "INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuild_index', 'pending');",
    # The analysis folds accents and reads Ukrainian and Russian: rebuilt the same way.
    "INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuild_index', 'pending');",
    # The desk as a team: accounts, shared selections, and the audit log of changes that
    # have no history of their own (accounts, selections, the rights policy).
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL,
        password TEXT NOT NULL,
        created_at TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT
    );
    CREATE TABLE selections (
        selection_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE selection_photos (
        selection_id INTEGER NOT NULL REFERENCES selections (selection_id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL REFERENCES photos (sha256),
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (selection_id, sha256)
    );
    CREATE TABLE audit (
        number INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        field TEXT,
        old TEXT,
        new TEXT
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX edits_at ON edits (at);
    CREATE INDEX picture_events_at ON picture_events (at);
    """,
)


def _postgresql_type(name: str) -> str:
    # SQLite's INTEGER is 64-bit and its REAL double precision: so are these.
    return {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}[_column_type(name)]


def postgresql_schema(version: int) -> str:
    """Return the DDL making the catalog's tables on PostgreSQL as SQLite's schema `version`
    has them (a server catalog starts at today's schema and records that version).

    `rowid` is a column here (SQLite has it implicitly): the order photos were catalogued
    in, which picture identity and selections read.
    """
    columns = ",\n    ".join(f"{c} {_postgresql_type(c)}" for c in _RECORD_COLUMNS if c != "sha256")
    return f"""
CREATE TABLE photos (
    rowid bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    sha256 text PRIMARY KEY,
    {columns},
    ext text NOT NULL,
    warnings text NOT NULL DEFAULT '[]',
    needs_index bigint NOT NULL DEFAULT 1,
    picture_id text,
    version bigint NOT NULL DEFAULT 1,
    pixel_digest text,
    dhash text,
    supplier text,
    notice text,
    notice_reason text
);
CREATE UNIQUE INDEX photos_id ON photos (id);
CREATE INDEX photos_needs_index ON photos (needs_index) WHERE needs_index = 1;
CREATE INDEX photos_picture ON photos (picture_id, version);
CREATE INDEX photos_reference ON photos (transmission_reference)
    WHERE transmission_reference IS NOT NULL;
CREATE INDEX photos_pixels ON photos (pixel_digest) WHERE pixel_digest IS NOT NULL;
CREATE INDEX photos_source_type ON photos (digital_source_type)
    WHERE digital_source_type IS NOT NULL;
CREATE INDEX photos_ingested ON photos (ingested_at);
CREATE TABLE sources (
    sha256 text NOT NULL REFERENCES photos (sha256) ON DELETE CASCADE,
    field text NOT NULL,
    family text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (sha256, field, family)
);
CREATE TABLE pictures (
    picture_id text PRIMARY KEY,
    current_sha256 text NOT NULL,
    killed_at text,
    kill_reason text,
    killed_by text
);
CREATE TABLE edits (
    number bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sha256 text NOT NULL REFERENCES photos (sha256),
    at text NOT NULL,
    editor text NOT NULL,
    field text NOT NULL,
    old text,
    new text
);
CREATE INDEX edits_photo ON edits (sha256, number);
CREATE INDEX edits_at ON edits (at);
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO meta (key, value) VALUES
    ('archive_id', replace(gen_random_uuid()::text, '-', '')),
    ('schema_version', '{version}');
CREATE TABLE refs (
    ref text NOT NULL,
    sha256 text NOT NULL REFERENCES photos (sha256) ON DELETE CASCADE,
    PRIMARY KEY (ref, sha256)
);
CREATE INDEX refs_photo ON refs (sha256);
CREATE TABLE standing_kills (
    number bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ref text NOT NULL,
    supplier text NOT NULL,
    notice_sha256 text NOT NULL,
    at text NOT NULL,
    reason text NOT NULL
);
CREATE INDEX standing_kills_ref ON standing_kills (ref);
CREATE TABLE picture_events (
    number bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    picture_id text NOT NULL,
    at text NOT NULL,
    by text NOT NULL,
    action text NOT NULL,
    reason text,
    notice_sha256 text
);
CREATE INDEX picture_events_picture ON picture_events (picture_id, number);
CREATE INDEX picture_events_at ON picture_events (at);
CREATE TABLE users (
    name citext PRIMARY KEY,
    role text NOT NULL,
    password text NOT NULL,
    created_at text NOT NULL,
    failures bigint NOT NULL DEFAULT 0,
    locked_until text
);
CREATE TABLE selections (
    selection_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name citext NOT NULL UNIQUE,
    created_by text NOT NULL,
    created_at text NOT NULL
);
CREATE TABLE selection_photos (
    rowid bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
    selection_id bigint NOT NULL REFERENCES selections (selection_id) ON DELETE CASCADE,
    sha256 text NOT NULL REFERENCES photos (sha256),
    added_by text NOT NULL,
    added_at text NOT NULL,
    PRIMARY KEY (selection_id, sha256)
);
CREATE TABLE audit (
    number bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at text NOT NULL,
    by text NOT NULL,
    action text NOT NULL,
    target text,
    field text,
    old text,
    new text
);
CREATE INDEX audit_at ON audit (at);
"""
