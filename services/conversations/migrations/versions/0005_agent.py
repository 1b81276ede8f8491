"""agent: settings, projections, turns, handoff

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "conversations"


def _ts(name: str, nullable: bool = False, now: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


def upgrade() -> None:
    op.add_column(
        "workspaces", sa.Column("name", sa.String(200), nullable=False, server_default=""), schema=S
    )
    op.add_column(
        "workspaces",
        sa.Column("tone", sa.String(20), nullable=False, server_default="friendly"),
        schema=S,
    )
    for column in (
        sa.Column("agent_paused", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("handoff_reason", sa.String(200), nullable=True),
        _ts("handed_off_at", nullable=True),
        sa.Column("agent_replies", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("agent_booking", pg.JSONB(), nullable=True),
        sa.Column("resolved_by", sa.String(20), nullable=True),
        _ts("resolved_at", nullable=True),
    ):
        op.add_column("conversations", column, schema=S)

    op.create_table(
        "workspace_services",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        _ts("source_updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_workspace_services"),
        schema=S,
    )
    op.create_index(
        "ix_workspace_services_workspace_id", "workspace_services", ["workspace_id"], schema=S
    )
    op.create_table(
        "connector_states",
        sa.Column("connector_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("source_updated_at"),
        sa.PrimaryKeyConstraint("connector_id", name="pk_connector_states"),
        schema=S,
    )
    op.create_index(
        "ix_connector_states_workspace_id", "connector_states", ["workspace_id"], schema=S
    )
    op.create_table(
        "agent_settings",
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("greeting", sa.String(500), nullable=True),
        sa.Column("minutes_per_reply", sa.Integer(), nullable=False, server_default=sa.text("2")),
        sa.Column("channels", pg.ARRAY(sa.String(20)), nullable=True),
        _ts("updated_at", now=True),
        sa.CheckConstraint(
            "minutes_per_reply >= 0 AND minutes_per_reply <= 120", name="ck_agent_settings_minutes"
        ),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_agent_settings"),
        schema=S,
    )
    op.create_table(
        "agent_conversations",
        sa.Column("conversation_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("history", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("memory", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "answered_ids",
            pg.ARRAY(pg.UUID(as_uuid=True)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        _ts("lease_until", nullable=True),
        _ts("updated_at", now=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{S}.conversations.id"],
            name="fk_agent_conversations_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_agent_conversations"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("agent_conversations", schema=S)
    op.drop_table("agent_settings", schema=S)
    op.drop_table("connector_states", schema=S)
    op.drop_table("workspace_services", schema=S)
    for name in (
        "resolved_at",
        "resolved_by",
        "agent_booking",
        "agent_replies",
        "handed_off_at",
        "handoff_reason",
        "agent_paused",
    ):
        op.drop_column("conversations", name, schema=S)
    op.drop_column("workspaces", "tone", schema=S)
    op.drop_column("workspaces", "name", schema=S)
