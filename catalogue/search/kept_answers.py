"""Answers kept until the index's next commit: a search engine's request cache (Solr's query result cache,
Elasticsearch's request cache), dropped whole on every refresh.

Each answer is kept with the reader generation it was computed on, and only while that generation is current:
the engine clears everything when its reader moves on, and an answer computed on a generation that has since
been replaced is never kept. Least recently used answers leave first, within a budget of cost units (entries, or
bytes, as the owner counts them). Thread-safe: searches run on a thread pool.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class KeptAnswers(Generic[V]):
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._generation: Hashable = None
        self._answers: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._spent = 0

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def spent(self) -> int:
        return self._spent

    def move_to(self, generation: Hashable) -> None:
        """The reader now reads `generation`: what was kept for another is dropped."""
        with self._lock:
            if generation != self._generation:
                self._generation = generation
                self._answers.clear()
                self._spent = 0

    def get(self, key: Hashable, generation: Hashable) -> V | None:
        """The answer kept under `key` for `generation`, if that is the generation kept for."""
        with self._lock:
            kept = self._answers.get(key)
            if kept is None or generation != self._generation:
                return None
            self._answers.move_to_end(key)
            return kept[0]

    def keep(self, generation: Hashable, key: Hashable, answer: V, cost: int = 1) -> bool:
        """Keep an answer computed on `generation`, unless the reader has moved on since; True if kept."""
        with self._lock:
            if generation != self._generation or cost > self.budget:
                return False
            old = self._answers.pop(key, None)
            if old is not None:
                self._spent -= old[1]
            self._answers[key] = (answer, cost)
            self._spent += cost
            while self._spent > self.budget:
                _, (_, dropped) = self._answers.popitem(last=False)
                self._spent -= dropped
            return True
