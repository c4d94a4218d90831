"""The desk's thesaurus: groups of equivalent terms (kyiv = kiev = київ = киев), read from
the archive's thesaurus.toml and applied to queries, so an edit takes effect on the next
search, with no reindex."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from photoarchive.errors import ConfigError
from photoarchive.letters import CYRILLIC
from photoarchive.search.analysis import NAME
from photoarchive.search.folding import fold
from photoarchive.search.languages import english_stem, english_stems

THESAURUS_FILE = "thesaurus.toml"
#: Terms in one group, and groups in a thesaurus, at most (a file pasted by mistake).
MAX_GROUP = 50
MAX_GROUPS = 20_000


def starter_text() -> str:
    """Return the starter thesaurus written into a new archive."""
    return (
        resources.files("photoarchive.search").joinpath("thesaurus_starter.toml").read_text("utf-8")
    )


def lookup_keys(word: str) -> set[str]:
    """Return the keys a word is looked up by (and a thesaurus term filed under): folded
    and lowercased, and for Latin words their stem. Cheap, since every search reads the
    thesaurus of a command line's archive anew."""
    lower = fold(word).lower()
    if CYRILLIC.search(lower):
        return {lower}
    return {lower, english_stem(lower)}


class Thesaurus(NamedTuple):
    """Groups of equivalent terms, each term as written (lowercase), found by key."""

    groups: tuple[tuple[str, ...], ...] = ()
    #: lookup key of a one-word term → the groups holding it
    by_key: dict[str, tuple[int, ...]] = {}  # noqa: RUF012 - never changed once made
    #: the words of a term of several words, folded and lowercased → its groups
    by_words: dict[tuple[str, ...], tuple[int, ...]] = {}  # noqa: RUF012

    def equivalents(self, keys: set[str]) -> list[str]:
        """Return the terms of the groups a word with these lookup keys is in, as written
        (the word itself among them)."""
        found = sorted({g for k in keys for g in self.by_key.get(k, ())})
        # A word in several groups stands for at most one group's worth of terms.
        return list(dict.fromkeys(t for g in found for t in self.groups[g]))[:MAX_GROUP]

    def phrase_equivalents(self, words: list[str]) -> list[str]:
        """Return the terms of the groups holding the phrase `words` as one term."""
        key = tuple(fold(" ".join(words)).lower().split())
        found = self.by_words.get(key, ())
        return list(dict.fromkeys(t for g in found for t in self.groups[g]))


def parse_thesaurus(text: str, where: str = THESAURUS_FILE) -> Thesaurus:
    """Read a thesaurus: sections of lines "a = b = c"; raise ConfigError naming the
    problem (and its line)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    groups: list[tuple[str, ...]] = []
    for section, lines in data.items():
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise ConfigError(
                f"{where}, line {_line_of(text, section)}: '{section}' must be a list of "
                'lines such as "kyiv = kiev = київ"'
            )
        for line in lines:
            terms = [" ".join(t.split()).lower() for t in line.split("=")]
            terms = [t for t in terms if t]
            if len(terms) < 2:
                raise ConfigError(
                    f"{where}, line {_line_of(text, line)}: '{line}' needs two terms or "
                    "more, joined by ="
                )
            if len(terms) > MAX_GROUP:
                raise ConfigError(
                    f"{where}, line {_line_of(text, line)}: more than {MAX_GROUP} terms in one line"
                )
            groups.append(tuple(dict.fromkeys(terms)))
    if len(groups) > MAX_GROUPS:
        raise ConfigError(f"{where}: more than {MAX_GROUPS:,} lines")
    by_key: dict[str, list[int]] = {}
    by_words: dict[tuple[str, ...], list[int]] = {}
    latin: list[tuple[str, int]] = []
    for number, group in enumerate(groups):
        for term in group:
            words = NAME.findall(fold(term))
            if len(words) == 1:
                by_key.setdefault(words[0], []).append(number)
                if CYRILLIC.search(words[0]) is None:
                    latin.append((words[0], number))
            elif words:
                by_words.setdefault(tuple(words), []).append(number)
    # Stemmed in one call: the thesaurus is read by every search a command line makes.
    for (word, number), stem in zip(latin, english_stems([w for w, _ in latin]), strict=True):
        if stem != word:
            by_key.setdefault(stem, []).append(number)
    return Thesaurus(
        tuple(groups),
        {k: tuple(dict.fromkeys(v)) for k, v in by_key.items()},
        {k: tuple(dict.fromkeys(v)) for k, v in by_words.items()},
    )


# The thesaurus of each file read, with the file's size and time of change.
_READ: dict[Path, tuple[tuple[int, int], Thesaurus]] = {}


def load_thesaurus(path: Path) -> Thesaurus:
    """Return the thesaurus in `path`, read again whenever the file changes; the starter
    thesaurus if there is no such file (an archive made before there was one)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return _starter()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _READ.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    found = parse_thesaurus(text, str(path))
    _READ[path] = (stamp, found)
    return found


_STARTER: list[Thesaurus] = []


def _starter() -> Thesaurus:
    if not _STARTER:
        _STARTER.append(parse_thesaurus(starter_text(), "the starter thesaurus"))
    return _STARTER[0]


def _line_of(text: str, needle: str) -> int:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1
