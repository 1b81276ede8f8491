"""The way back: every reply (owner's or agent's) to the visitor's own channel, once.

One sender per provider behind `base.Sender`; `service.Delivery` claims a reply, calls the
sender outside any transaction and records what came of it.
"""
