"""Half-open time intervals ``[start, end)`` and operations on sets of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty or negative interval {self.start} – {self.end}")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals as a sorted list of disjoint, non-touching intervals."""
    merged: list[Interval] = []
    for iv in sorted(intervals):
        if merged and iv.start <= merged[-1].end:
            last = merged[-1]
            if iv.end > last.end:
                merged[-1] = Interval(last.start, iv.end)
        else:
            merged.append(iv)
    return merged


def subtract(base: Iterable[Interval], cut: Iterable[Interval]) -> list[Interval]:
    """Parts of ``base`` not covered by ``cut``, sorted and merged."""
    cuts = merge(cut)
    result: list[Interval] = []
    for iv in merge(base):
        pieces = [iv]
        for c in cuts:
            if c.start >= iv.end:
                break
            next_pieces: list[Interval] = []
            for p in pieces:
                if not p.overlaps(c):
                    next_pieces.append(p)
                    continue
                if p.start < c.start:
                    next_pieces.append(Interval(p.start, c.start))
                if c.end < p.end:
                    next_pieces.append(Interval(c.end, p.end))
            pieces = next_pieces
        result.extend(pieces)
    return result


def any_overlap(a: Iterable[Interval], b: Iterable[Interval]) -> bool:
    bs = list(b)
    return any(x.overlaps(y) for x in a for y in bs)
