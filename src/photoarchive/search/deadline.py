"""The time budget every search runs under, whichever engine runs it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

from photoarchive.errors import QueryTimeoutError

# The clock is read once per this many documents or lexicon terms: often enough to stop
# within milliseconds of the deadline, rarely enough to cost nothing measurable.
CHECK_EVERY = 64


class Deadline(NamedTuple):
    """The moment (time.monotonic) a search must have finished by, and its budget."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """Return the deadline `seconds` from now."""
        return cls(seconds, time.monotonic() + seconds)

    def check(self) -> None:
        """Raise QueryTimeoutError if the deadline has passed."""
        if time.monotonic() >= self.at:
            raise QueryTimeoutError(
                f"the search took longer than {self.seconds:g} s and was stopped: narrow it "
                "with more words, a field (credit:, city:) or a date range"
            )


# The deadline of the search running in this thread (each desk worker thread has its
# own): engines call back into code of ours that cannot be handed it as an argument.
_deadline: ContextVar[Deadline | None] = ContextVar("photoarchive_deadline", default=None)


@contextmanager
def time_budget(deadline: Deadline | None) -> Iterator[None]:
    """Run the block's index work under `deadline` (None: no limit)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time() -> None:
    """Raise QueryTimeoutError if the running search's deadline has passed."""
    deadline = _deadline.get()
    if deadline is not None:
        deadline.check()
