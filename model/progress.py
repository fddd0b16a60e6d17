"""A progress line while a long step runs, so no command is silent for more than 10 s: the one
ticker the measurements (model/), the coverage and the mutation campaigns (tb/) share."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def ticking(log: Callable[[str], None], what: str, every_s: float = 8.0) -> Iterator[None]:
    """`log("  ... WHAT: N s")` every `every_s` seconds until the block ends."""
    done, t0 = threading.Event(), time.monotonic()

    def beat() -> None:
        while not done.wait(every_s):
            log(f"  ... {what}: {time.monotonic() - t0:.0f} s")

    th = threading.Thread(target=beat, daemon=True)
    th.start()
    try:
        yield
    finally:
        done.set()
        th.join()
