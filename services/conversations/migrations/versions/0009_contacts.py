"""contacts: the person behind conversations, found by channel identity

Revision ID: 0009
Revises: 0006

Existing conversations each get a contact of their own (one per workspace, channel and
visitor id, which conversations already keep unique): named after the visitor, with the
WhatsApp or SMS number as a phone the channel verified, and a typed e-mail as a claim.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "conversations"
CHANNEL_CHECK = (
    "channel IN ('web', 'instagram', 'whatsapp', 'sms', 'messenger', 'chatgpt', 'phone')"
)


def _ts(name: str, nullable: bool = False, now: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


# The backfill's phone: a WhatsApp id (digits) or an SMS sender (+digits) shaped like E.164.
# The running service normalises with phonenumbers; here the shape is what can be checked.
_BACKFILL = (
    "UPDATE conversations.conversations SET contact_id = gen_random_uuid()",
    """
INSERT INTO conversations.contacts
    (id, workspace_id, name, phone, phone_verified_at, email, created_at, updated_at)
SELECT c.contact_id, c.workspace_id, c.visitor_name, p.phone,
       CASE WHEN p.phone IS NOT NULL THEN c.started_at END, e.email, c.created_at, c.updated_at
FROM conversations.conversations c
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN c.channel IN ('whatsapp', 'sms')
             AND ltrim(c.visitor_id, '+') ~ '^[1-9][0-9]{6,14}$'
        THEN '+' || ltrim(c.visitor_id, '+')
    END AS phone
) p
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN btrim(c.visitor_contact) ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'
        THEN split_part(btrim(c.visitor_contact), '@', 1) || '@'
             || lower(split_part(btrim(c.visitor_contact), '@', 2))
    END AS email
) e
""",
    """
INSERT INTO conversations.contact_identities
    (workspace_id, channel, external_id, contact_id, created_at)
SELECT workspace_id, channel, visitor_id, contact_id, created_at FROM conversations.conversations
""",
)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        _ts("phone_verified_at", nullable=True),
        _ts("email_verified_at", nullable=True),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.id"],
            name="fk_contacts_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "phone_verified_at IS NULL OR phone IS NOT NULL", name="ck_contacts_phone_verified"
        ),
        sa.CheckConstraint(
            "email_verified_at IS NULL OR email IS NOT NULL", name="ck_contacts_email_verified"
        ),
        schema=S,
    )
    op.create_index(
        "ix_contacts_workspace_updated",
        "contacts",
        ["workspace_id", sa.text("updated_at DESC"), "id"],
        schema=S,
    )
    op.create_index("ix_contacts_workspace_phone", "contacts", ["workspace_id", "phone"], schema=S)
    op.create_index("ix_contacts_workspace_email", "contacts", ["workspace_id", "email"], schema=S)

    op.create_table(
        "contact_identities",
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("contact_id", pg.UUID(as_uuid=True), nullable=False),
        _ts("created_at", now=True),
        sa.PrimaryKeyConstraint(
            "workspace_id", "channel", "external_id", name="pk_contact_identities"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            [f"{S}.contacts.id"],
            name="fk_contact_identities_contact_id_contacts",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(CHANNEL_CHECK, name="ck_contact_identities_channel"),
        schema=S,
    )
    op.create_index(
        "ix_contact_identities_contact_id", "contact_identities", ["contact_id"], schema=S
    )

    op.add_column(
        "conversations", sa.Column("contact_id", pg.UUID(as_uuid=True), nullable=True), schema=S
    )
    for statement in _BACKFILL:
        op.execute(statement)
    op.alter_column("conversations", "contact_id", nullable=False, schema=S)
    op.create_foreign_key(
        "fk_conversations_contact_id_contacts",
        "conversations",
        "contacts",
        ["contact_id"],
        ["id"],
        source_schema=S,
        referent_schema=S,
    )
    op.create_index("ix_conversations_contact_id", "conversations", ["contact_id"], schema=S)


def downgrade() -> None:
    op.drop_index("ix_conversations_contact_id", table_name="conversations", schema=S)
    op.drop_constraint(
        "fk_conversations_contact_id_contacts", "conversations", type_="foreignkey", schema=S
    )
    op.drop_column("conversations", "contact_id", schema=S)
    op.drop_table("contact_identities", schema=S)
    op.drop_table("contacts", schema=S)
