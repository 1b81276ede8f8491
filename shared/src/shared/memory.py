"""The collector kept off the heap a service builds at startup (see `freeze_startup_heap`)."""

from __future__ import annotations

import gc

# Young-generation threshold: allocations (minus frees) of container objects between two
# collections of the youngest generation. Python's default, 700, ran the collector about
# 90 times a second in a busy service; each run is cheap, but they add up.
GEN0_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Move everything alive after startup out of the collector's reach.

    A service imports hundreds of thousands of objects that live as long as the process
    (modules, the app, its routes and pydantic schemas, SQLAlchemy's metadata). Python's full
    collection walks all of them: 100-270 ms per run in the workspaces service under load,
    every run stopping every request in flight, which was the long tail of the owner API
    (p99 more than 10 x p50). Frozen, they are never walked again; a full collection then
    walks only what requests and messages allocated since. Reference cycles among frozen
    objects are never freed, which is the point: they were meant to live for good.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
