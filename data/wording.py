"""How counts read in messages, shared by the data layer's and the command line's summaries."""
from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """A count and its noun in the right number: `1 review`, `2,000 reviews`."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
