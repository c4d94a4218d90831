"""Which of an index's rights keys pass a verdict filter, judged once for each rights policy,
use and stretch of time in which no verdict can change."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from datetime import date, datetime

from photoarchive.policy import RightsPolicy
from photoarchive.rights import RightsFacts, judge_facts

#: Judgements kept (a desk asks a few uses and verdict sets of one policy).
_KEPT = 64


class PassingKeys:
    """Remembers the rights keys whose verdict is wanted.

    A verdict depends on the moment only through the day in the policy's time zone (licence
    dates) and the embargo and expiry moments of the facts; between two of those moments on
    one day every verdict stays as it was. A search on the desk or by searchd judged every
    distinct set of facts in the index again (5 ms of a cleared search at a million photos).
    """

    def __init__(self) -> None:
        self._kept: dict[
            tuple[object, ...], tuple[RightsPolicy, list[datetime], int, frozenset[str]]
        ] = {}
        self._lock = threading.Lock()

    def passing(
        self,
        keys: Iterable[str],
        policy: RightsPolicy,
        use: str,
        wanted: frozenset[str],
        at: datetime,
    ) -> frozenset[str] | None:
        """The keys whose verdict for `use` at `at` is in `wanted`; None if a key's facts
        were read in another time zone than the policy's."""
        keys = tuple(keys)
        day: date = at.astimezone(policy.timezone).date()
        # The policy object by identity (kept beside the judgement, so that the id stays
        # its own): the archive reads a changed rights.toml into a new one.
        key = (keys, id(policy), use, wanted, day)
        with self._lock:
            found = self._kept.get(key)
        if found is not None:
            judged_by, moments, place, passing = found
            if judged_by is policy and bisect.bisect_right(moments, at) == place:
                return passing
        zone = str(policy.timezone)
        facts = [RightsFacts.from_status_key(k) for k in keys]
        if any(f.zone != zone for f in facts):
            return None
        passing = frozenset(
            k
            for k, f in zip(keys, facts, strict=True)
            if judge_facts(f, policy, use, at).status in wanted
        )
        moments = sorted(
            {
                datetime.fromisoformat(text)
                for f in facts
                for text in (f.embargo_until, f.expires_after)
                if text
            }
        )
        with self._lock:
            if len(self._kept) >= _KEPT:
                self._kept.clear()
            self._kept[key] = (policy, moments, bisect.bisect_right(moments, at), passing)
        return passing
