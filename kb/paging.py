"""Pages of a listing: how many there are and where one stands, for every list kb shows."""

from __future__ import annotations

from typing import ClassVar


def page_count(total: int, per_page: int, window: int | None = None) -> int:
    """How many pages of ``per_page`` items hold ``total`` (at least one).

    ``window``: only that many items can be paged through at all.
    """
    reachable = total if window is None else min(total, window)
    return max(1, -(-reachable // per_page))


class Paged:
    """The page arithmetic of a listing that has ``page``, ``per_page`` and ``total``."""

    # The most items anyone may page through; None: all of them.
    window: ClassVar[int | None] = None
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return page_count(self.total, self.per_page, self.window)

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages
