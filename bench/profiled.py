"""Run one service under pyinstrument and write its profile when it stops.

    python bench/profiled.py <service> <output prefix>

Sampling starts at SIGUSR1 (the harness sends it once the service is ready, so imports and
startup stay out of the profile) and the profile is written at exit: a text tree, a flat
self-time list and the raw session. uvicorn re-raises SIGTERM once it has shut down; a no-op
handler installed first lets the process reach the end and write the files.
"""

from __future__ import annotations

import runpy
import signal
import sys
from pathlib import Path

from pyinstrument import Profiler


def main() -> None:
    service, prefix = sys.argv[1], Path(sys.argv[2])
    profiler = Profiler(interval=0.001, async_mode="disabled")

    def start(*_: object) -> None:
        if not profiler.is_running:
            profiler.start()

    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGUSR1, start)
    try:
        sys.argv = [service]
        runpy.run_module(service, run_name="__main__", alter_sys=True)
    finally:
        if profiler.is_running:
            profiler.stop()
        if profiler.last_session is not None:
            profiler.last_session.save(str(prefix.with_suffix(".pyisession")))
            options = {"filter_threshold": 0.005}
            prefix.with_suffix(".txt").write_text(
                profiler.output_text(show_all=True, processor_options=options)
            )
            prefix.with_suffix(".flat.txt").write_text(
                profiler.output_text(show_all=True, flat=True, processor_options=options)
            )


if __name__ == "__main__":
    main()
