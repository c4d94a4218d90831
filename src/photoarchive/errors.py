"""The one exception hierarchy; the CLI and web edges turn these into messages."""


class PhotoArchiveError(Exception):
    """Base of every error the library raises on purpose."""


class ArchiveNotFoundError(PhotoArchiveError):
    """The folder is not an initialised archive."""


class ConfigError(PhotoArchiveError):
    """A settings file is unreadable or holds a bad value."""


class PhotoNotFoundError(PhotoArchiveError):
    """No photo matches the id or id prefix."""


class AmbiguousIdError(PhotoArchiveError):
    """An id prefix matches more than one photo."""


class RejectedFileError(PhotoArchiveError):
    """A file cannot be ingested; the message is the one-line reason."""


class QueryError(PhotoArchiveError):
    """A search query cannot be understood."""


class IndexUnavailableError(PhotoArchiveError):
    """The search index is missing, damaged or locked."""


class IndexOutdatedError(IndexUnavailableError):
    """The search index was written by a version of photoarchive with other fields."""


class StorageError(PhotoArchiveError):
    """The archive's files cannot be written or read (disk full, permissions, the object
    store unreachable)."""


class ObjectMissingError(StorageError):
    """An original or rendition the archive should hold is not in its store."""


class TargetExistsError(StorageError):
    """A file to be written exists already and may not be replaced."""


class ArchiveBusyError(PhotoArchiveError):
    """Another writer held the archive's writer lock for longer than we may wait."""


class CatalogMissingError(PhotoArchiveError):
    """An initialised archive's catalog is missing or empty: nothing may guess around it."""


class EditConflictError(PhotoArchiveError):
    """A photo was edited by someone else since the editor read it."""


class PruneRefusedError(PhotoArchiveError):
    """verify --prune found too many files the catalog does not own to delete them safely."""


class QueryTimeoutError(QueryError):
    """A search ran out of its time budget and was stopped."""


class ExportRefusedError(PhotoArchiveError):
    """Photos an export may not send: killed, superseded, a kill notice, not cleared."""


class ServeError(PhotoArchiveError):
    """The desk cannot listen on its address, or its worker processes cannot start."""


class SignInError(PhotoArchiveError):
    """A name and password do not match an account, or the account is locked."""


class NotAllowedError(PhotoArchiveError):
    """The signed-in account's role does not allow what was asked."""


class SelectionError(PhotoArchiveError):
    """A selection's name is not valid, or is taken by another selection."""


class SelectionNotFoundError(SelectionError):
    """No selection has that name."""


class QueueError(PhotoArchiveError):
    """The ingest queue's server cannot be reached or refused what was asked."""
