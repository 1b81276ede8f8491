"""Live streams (Server-Sent Events) for visitors and owners.

The database is the source of truth: every change carries its workspace's change number
(`live_seq`, stamped at commit, migration 0004) and a stream always reads "what changed after
the last number I sent". Postgres NOTIFY, heard by one listener connection per process
(`listener.py`), only wakes the streams (`hub.py`) that should read now instead of at their
next poll; a lost notification delays an event, it never drops one.
"""
