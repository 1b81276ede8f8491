from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import LoginThrottle, User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        stmt = select(User).where(func.lower(User.email) == email.lower())
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list(self, skip: int, limit: int) -> tuple[list[User], int]:
        count = await self.session.scalar(select(func.count()).select_from(User))
        rows = await self.session.scalars(
            select(User).order_by(User.created_at, User.id).offset(skip).limit(limit)
        )
        return list(rows), int(count or 0)

    def add(self, user: User) -> None:
        self.session.add(user)

    async def delete(self, user: User) -> None:
        await self.session.delete(user)


class ThrottleRepository:
    """Counts failures in a fixed window; a key over the limit is locked for a window."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locked_until(self, keys: list[str], now: datetime) -> datetime | None:
        stmt = select(func.max(LoginThrottle.locked_until)).where(
            LoginThrottle.key.in_(keys), LoginThrottle.locked_until > now
        )
        return await self.session.scalar(stmt)

    async def record_failure(
        self,
        key: str,
        now: datetime,
        window: timedelta,
        max_failures: int,
        lock_for: timedelta | None = None,
    ) -> None:
        """One more failure; a window older than `window` starts again at 1. At or past
        `max_failures` within the window the key is locked for `lock_for` (default: the
        window) from this failure on."""
        await self.session.execute(
            text(
                """
                INSERT INTO identity.login_throttle AS t (key, failures, window_started_at)
                VALUES (:key, 1, :now)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN t.window_started_at < :cutoff THEN 1
                                    ELSE t.failures + 1 END,
                    window_started_at = CASE WHEN t.window_started_at < :cutoff
                                             THEN :now ELSE t.window_started_at END,
                    locked_until = CASE
                        WHEN t.window_started_at >= :cutoff
                             AND t.failures + 1 >= :max_failures THEN :lock_until
                        ELSE t.locked_until END
                """
            ),
            {
                "key": key,
                "now": now,
                "cutoff": now - window,
                "lock_until": now + (lock_for if lock_for is not None else window),
                "max_failures": max_failures,
            },
        )

    async def hit(self, key: str, now: datetime, window: timedelta) -> tuple[int, datetime]:
        """Count one more request under `key` in a fixed window (a window older than `window`
        starts again at 1); answers the count and when its window started."""
        row = (
            await self.session.execute(
                text(
                    """
                    INSERT INTO identity.login_throttle AS t (key, failures, window_started_at)
                    VALUES (:key, 1, :now)
                    ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN t.window_started_at < :cutoff THEN 1
                                        ELSE t.failures + 1 END,
                        window_started_at = CASE WHEN t.window_started_at < :cutoff
                                                 THEN :now ELSE t.window_started_at END
                    RETURNING failures, window_started_at
                    """
                ),
                {"key": key, "now": now, "cutoff": now - window},
            )
        ).one()
        return int(row.failures), row.window_started_at

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
