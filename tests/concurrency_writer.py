"""Writer process for test_concurrency: publishes runs back to back for `seconds`.

Run `i` publishes rows_for(i) recommendation rows (a few thousand) and records that count in
its params, so a reader can check every run it sees is whole. Prints the run ids it published.
"""
from __future__ import annotations

import sys
import time

import pandas as pd

from data import runs


def rows_for(i: int) -> int:
    return 2000 + (i * 397) % 3000


def main(home: str, seconds: float) -> None:
    end, i = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n = rows_for(i)
        run = runs.start("recsys", "writer", {"rows": n, "i": i}, home=home)
        frame = pd.DataFrame({"user_id": [f"u{k // 10}" for k in range(n)], "item_id": [str(k) for k in range(n)],
                              "rank": [k % 10 + 1 for k in range(n)], "score": [1.0] * n, "reason": ["test"] * n})
        runs.publish(run.run_id, {"recommendations": frame}, home=home)
        print(run.run_id, n, flush=True)
        i += 1


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
