"""The command line: click parses, calls the library, formats; errors become one-line messages."""

import functools
import os
import sys
import types


def _without_asyncio_for_whoosh() -> None:
    """Let Whoosh's one cached property come from functools rather than the cached_property
    package, which imports asyncio (about 60 ms of every command's start) to support async
    properties that Whoosh does not have.

    Only the command line does this, in its own process and only if nothing has imported the
    package yet; the library leaves other programs' imports alone.
    """
    if "cached_property" not in sys.modules:
        shim = types.ModuleType("cached_property")
        shim.cached_property = functools.cached_property  # type: ignore[attr-defined]
        sys.modules["cached_property"] = shim


def _lazy_urllib_request_for_whoosh() -> None:
    """Put off importing urllib.request, which Whoosh's compatibility module imports for a
    download helper (urlretrieve) search never calls, and which brings http.client, email
    and ssl with it (about 12 ms of every command's start): a stand-in module gives Whoosh
    an urlretrieve that imports the real module when called, and imports it for anything
    else asked of it."""
    if "urllib.request" in sys.modules:
        return
    import importlib
    import urllib

    stand_in = types.ModuleType("urllib.request")

    def real() -> types.ModuleType:
        if sys.modules.get("urllib.request") is stand_in:
            del sys.modules["urllib.request"]
        module = importlib.import_module("urllib.request")
        urllib.request = module  # type: ignore[attr-defined]
        return module

    def urlretrieve(*args: object, **kwargs: object) -> object:
        return real().urlretrieve(*args, **kwargs)

    def __getattr__(name: str) -> object:
        if name.startswith("__"):  # the import system asking whether it is a package
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.urlretrieve = urlretrieve  # type: ignore[attr-defined]
    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["urllib.request"] = stand_in
    urllib.request = stand_in  # type: ignore[attr-defined]


_without_asyncio_for_whoosh()
_lazy_urllib_request_for_whoosh()

__all__ = ["main", "run"]


def run() -> None:
    """The `photoarchive` command: `search ... --json` takes the quick path (without
    click); everything else, and anything unusual, goes to the click group."""
    from photoarchive.cli.quick import quick_search

    status = quick_search(sys.argv[1:])
    if status is not None:
        # Done, the archive closed and the output flushed: the interpreter's teardown of
        # every module (15-50 ms here) would only delay the script waiting for the result.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    from photoarchive.cli.app import main

    main()


def __getattr__(name: str) -> object:
    # The click group is imported when asked for (tests, `photoarchive.cli.main`), not
    # by the quick path.
    if name == "main":
        from photoarchive.cli.app import main

        return main
    raise AttributeError(name)
