"""The names the desk answers to: its Host header allow list, which defeats DNS rebinding."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from photoarchive.errors import ConfigError

#: What the desk answers to however it was started: every spelling of this machine's
#: loopback address (127.0.0.0/8, ::1, localhost), on any port.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Addresses that mean "every interface": no client names the desk by them.
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "*"})
_PORT = re.compile(r"[0-9]{1,5}")
# A DNS name or an IPv4 literal: letters, digits, hyphens and underscores between dots.
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*")


def split_host(value: str) -> tuple[str, int | None] | None:
    """Return the canonical name and the port (None if absent) of a Host header value or
    an allow-list entry, or None if it is not one.

    Names are lower-cased without a trailing dot; IP literals are written the standard way
    (`[::0001]` is `::1`). IPv6 literals are bracketed (`[::1]:8080`); a bare one
    (`::1`) is taken only without a port.
    """
    text = value.strip().lower()
    port: str | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
        if ":" not in name:  # brackets hold IPv6 only
            return None
    elif text.count(":") == 1:
        name, port = text.split(":")
    else:
        name = text  # a name, an IPv4 literal or a bare IPv6 literal
    if port is not None and (not _PORT.fullmatch(port) or not 0 < int(port) < 65536):
        return None
    if name.endswith("."):  # the fully qualified spelling, "localhost."
        name = name[:-1]
    try:
        name = str(ipaddress.ip_address(name))
    except ValueError:
        if ":" in name or not _NAME.fullmatch(name):
            return None
    return name, None if port is None else int(port)


def is_loopback(name: str) -> bool:
    """True for a canonical name (see split_host) that means this machine's loopback."""
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped is not None and mapped.is_loopback)


class HostAllowList:
    """The Host header values the desk serves: loopback names always, and the names given.

    A name given without a port is accepted with any port (or none); with a port, only
    with that one. A browser led to the desk by a hostile DNS name (DNS rebinding) sends
    that name, and is refused.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._any_port: set[str] = set()
        self._ports: set[tuple[str, int]] = set()
        self._shown: list[str] = []
        for entry in names:
            parsed = split_host(entry)
            if parsed is None:
                raise ConfigError(f"'{entry}' is not a host name for the desk to answer to")
            name, port = parsed
            if not is_loopback(name) and entry.strip() not in self._shown:
                self._shown.append(entry.strip())
            if port is None:
                self._any_port.add(name)
            else:
                self._ports.add((name, port))

    def names(self) -> list[str]:
        """Return the names accepted besides the loopback ones, as given."""
        return list(self._shown)

    def allows(self, host: str | None) -> bool:
        """True if a request with this Host header may be served."""
        if not host:
            return False
        parsed = split_host(host)
        if parsed is None:
            return False
        name, port = parsed
        if is_loopback(name) or name in self._any_port:
            return True
        return port is not None and (name, port) in self._ports


def desk_names(listen: str, allowed: Iterable[str] = ()) -> list[str]:
    """Return the names a desk listening on `listen` answers to besides the loopback ones:
    that address (unless it means every interface) and the `allowed` names (a reverse
    proxy's public name)."""
    own = split_host(listen)
    if listen.strip().lower() in _ANY_ADDRESS or own is None or is_loopback(own[0]):
        return list(allowed)  # loopback names are always accepted
    return [listen, *allowed]
