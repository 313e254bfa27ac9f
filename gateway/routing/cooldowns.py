"""Which routes are resting, until when, and why.

The gateway keeps its own cooldowns rather than LiteLLM's: LiteLLM never cools down a model
group with one deployment (every candidate here is one), does not cool down on connection
errors, and takes `Retry-After: 0` to mean "no cooldown". Keys are deployment ids
(`groq/llama-3.3-70b-versatile`) or `provider:<name>` for failures that hit a whole account
(a bad key).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Cooldown:
    until: float
    reason: str

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)


class CooldownTracker:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, Cooldown] = {}
        # Told of every cooldown this process starts (gateway/shared/ passes them on to the
        # other instances).
        self.listener: Callable[[str, Cooldown], None] | None = None

    def now(self) -> float:
        return self._clock()

    def cool_down(self, key: str, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        cooldown = Cooldown(self._clock() + seconds, reason)
        if self.apply(key, cooldown) and self.listener is not None:
            self.listener(key, cooldown)

    def apply(self, key: str, cooldown: Cooldown) -> bool:
        """Rest `key` until `cooldown.until` unless it already rests longer; True if so."""
        current = self._entries.get(key)
        if cooldown.until <= self._clock() or (current and current.until >= cooldown.until):
            return False
        self._entries[key] = cooldown
        return True

    def active(self, keys: Iterable[str]) -> Cooldown | None:
        """The longest still-running cooldown among `keys`, if any."""
        now = self._clock()
        found: Cooldown | None = None
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry.until <= now:
                del self._entries[key]
            elif found is None or entry.until > found.until:
                found = entry
        return found

    def snapshot(self) -> dict[str, Cooldown]:
        now = self._clock()
        return {key: c for key, c in self._entries.items() if c.until > now}

    def clear(self, key: str | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
