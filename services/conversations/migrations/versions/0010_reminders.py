"""reminders: settings per workspace, the bookings conversations knows, durable jobs

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0010"
down_revision = "0009"
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
    op.create_table(
        "reminder_settings",
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "offsets_minutes",
            pg.ARRAY(sa.Integer()),
            server_default=sa.text("'{1440,120}'"),
            nullable=False,
        ),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("texts", pg.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("whatsapp_template", pg.JSONB(), nullable=True),
        _ts("updated_at", now=True),
        sa.CheckConstraint(
            "cardinality(offsets_minutes) BETWEEN 1 AND 3",
            name="ck_reminder_settings_offsets_count",
        ),
        sa.CheckConstraint(
            "(quiet_start IS NULL) = (quiet_end IS NULL)",
            name="ck_reminder_settings_quiet_hours_complete",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.id"],
            name="fk_reminder_settings_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_reminder_settings"),
        schema=S,
    )
    op.create_table(
        "reminder_bookings",
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("booking_id", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=True),
        sa.Column("conversation_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("contact_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("service", sa.String(200), nullable=True),
        _ts("start_at", nullable=True),
        sa.Column("visitor_name", sa.String(200), nullable=True),
        sa.Column("visitor_email", sa.String(320), nullable=True),
        _ts("visitor_confirmed_at", nullable=True),
        _ts("source_updated_at"),
        _ts("created_at", now=True),
        sa.CheckConstraint(
            "status IN ('confirmed', 'cancelled')", name="ck_reminder_bookings_status"
        ),
        sa.CheckConstraint(
            "status = 'cancelled' OR start_at IS NOT NULL",
            name="ck_reminder_bookings_start_known",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "booking_id", name="pk_reminder_bookings"),
        schema=S,
    )
    op.create_index(
        "ix_reminder_bookings_conversation_id",
        "reminder_bookings",
        ["conversation_id"],
        schema=S,
    )
    op.create_index(
        "ix_reminder_bookings_workspace_confirmed",
        "reminder_bookings",
        ["workspace_id", "visitor_confirmed_at"],
        schema=S,
        postgresql_where=sa.text("visitor_confirmed_at IS NOT NULL"),
    )
    op.create_table(
        "reminder_jobs",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("booking_id", sa.String(300), nullable=False),
        sa.Column("conversation_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        _ts("due_at"),
        sa.Column("status", sa.String(20), server_default="scheduled", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("message_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _ts("claimed_until", nullable=True),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.CheckConstraint("kind IN ('reminder', 'confirmation')", name="ck_reminder_jobs_kind"),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'failed', 'skipped', 'cancelled')",
            name="ck_reminder_jobs_status",
        ),
        sa.CheckConstraint("offset_minutes >= 0", name="ck_reminder_jobs_offset_not_negative"),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_jobs"),
        sa.UniqueConstraint(
            "workspace_id",
            "booking_id",
            "kind",
            "offset_minutes",
            name="uq_reminder_jobs_workspace_id_booking_id_kind_offset_minutes",
        ),
        schema=S,
    )
    op.create_index(
        "ix_reminder_jobs_due",
        "reminder_jobs",
        ["due_at"],
        schema=S,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index(
        "ix_reminder_jobs_workspace_due", "reminder_jobs", ["workspace_id", "due_at"], schema=S
    )


def downgrade() -> None:
    op.drop_table("reminder_jobs", schema=S)
    op.drop_table("reminder_bookings", schema=S)
    op.drop_table("reminder_settings", schema=S)
