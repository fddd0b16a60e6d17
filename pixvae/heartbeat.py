"""No command is silent for more than 10 s (issue 24): while a command runs, a watcher thread prints
a line whenever nothing was written to stdout or stderr for EVERY_S seconds, saying how long it has
been quiet and the phase it last announced (a Verilator build, a measurement, a report's plots).
Progress bars write as they move, so a moving bar keeps it quiet; a bar or a phase that stalls
does not. Output a subprocess writes straight to the terminal is not seen: a line may come while
a simulator prints."""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

EVERY_S = 8.0  # under the 10 s the issue allows, with room for a loaded machine's scheduling
# A line that announces a phase: "[pixvae] sim: Verilator build ...", "report: drawing ...",
# "evaluate: dead_row"; not a library's warning or a progress bar.
PHASE = re.compile(r"^(\[pixvae\] )?[a-z][\w-]*: \S")


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_write = self.last_line_at = time.monotonic()
        self.phase = ""

    def saw(self, text: str, own: bool) -> None:
        with self.lock:
            self.last_write = time.monotonic()
            if own:
                return
            # A progress bar redraws with \r: its latest state is the text after the last \r.
            lines = [ln.rsplit("\r", 1)[-1].strip() for ln in text.splitlines()]
            lines = [ln for ln in lines if ln]
            if lines:
                self.last_line_at = self.last_write
            phases = [ln for ln in lines if PHASE.match(ln)]
            if phases:
                self.phase = phases[-1]


class _Tap:
    """A text stream that records when it was last written to, otherwise the stream it wraps."""

    def __init__(self, stream: TextIO, state: _State) -> None:
        self._stream, self._state = stream, state

    def write(self, s: Any) -> int:
        n = self._stream.write(s)
        if isinstance(s, str) and s:
            self._state.saw(s, False)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _line(state: _State, now: float) -> str:
    at = state.phase.removeprefix("[pixvae] ")
    if len(at) > 90:
        at = at[:87] + "..."
    return f"[pixvae] still working, {now - state.last_line_at:.0f} s without output" + (f"; in {at}" if at else "")


@contextlib.contextmanager
def heartbeat(every: float = EVERY_S) -> Iterator[None]:
    """Run the body with stdout and stderr tapped, printing a line after `every` seconds of silence."""
    if isinstance(sys.stdout, _Tap):  # a command inside a command (a group's): one watcher is enough
        yield
        return
    state = _State()
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tap(out, state), _Tap(err, state)  # type: ignore[assignment]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(min(1.0, every / 4)):
            now = time.monotonic()
            with state.lock:
                quiet = now - state.last_write >= every
            if quiet:
                line = _line(state, now)
                try:
                    out.write(line + "\n")
                    out.flush()
                except (OSError, ValueError):  # a closed pipe or stream: nobody to tell
                    return
                state.saw(line, True)

    thread = threading.Thread(target=watch, name="pixvae-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
        if isinstance(sys.stdout, _Tap):
            sys.stdout = out
        if isinstance(sys.stderr, _Tap):
            sys.stderr = err
