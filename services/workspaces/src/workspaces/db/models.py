"""Tables of the `workspaces` schema. Only this service reads or writes them."""

from sqlalchemy.orm import DeclarativeBase

from shared.db import inbox_table, make_metadata, outbox_table

SCHEMA = "workspaces"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
