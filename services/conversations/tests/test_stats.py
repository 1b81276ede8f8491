"""`GET /conversations/stats`: breakdowns, first response and time saved in local days."""

from datetime import UTC, datetime, timedelta

from shared.testing import wait_until

API = "/api/v1"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


async def test_stats_count_by_channel_status_tag_in_the_workspace_timezone(
    client, new_owner, publish, inbound, query, rows_when, stored
) -> None:
    owner = await new_owner(timezone="Asia/Tokyo")  # UTC+9, no daylight saving
    h = owner.headers

    async def record(**fields):
        response = await client.post(f"{API}/conversations/", json=fields, headers=h)
        assert response.status_code == 201, response.text
        return response.json()

    async def answer(conversation_id, role, at):
        await stored(conversation_id, role, "reply", at)

    # 2026-01-09 23:00 in Tokyo: the day before the range, although it is the 9th in UTC too.
    await record(channel="phone", started_at=utc(9, 14).isoformat(), time_saved_seconds=1000)
    # 2026-01-10 00:30 in Tokyo, still the 9th in UTC: inside the range.
    await record(
        channel="phone",
        started_at=utc(9, 15, 30).isoformat(),
        tags=["vip", "callback"],
        time_saved_seconds=60,
    )
    # 2026-01-11 05:00 in Tokyo.
    await record(
        channel="phone", started_at=utc(10, 20).isoformat(), tags=["vip"], time_saved_seconds=600
    )
    for visitor, at in (("v1", utc(11, 0)), ("v2", utc(12, 0))):
        await publish(
            inbound(
                channel="chatgpt", workspace_id=owner.workspace_id, visitor_id=visitor, sent_at=at
            )
        )
    chats = await wait_until(
        lambda: rows_when(
            query(
                "SELECT id, visitor_id FROM conversations.conversations "
                "WHERE workspace_id = :ws AND channel = 'chatgpt' ORDER BY visitor_id",
                ws=owner.workspace_id,
            ),
            lambda rows: len(rows) == 2,
        )
    )
    v1, v2 = (str(row.id) for row in chats)
    await answer(v1, "agent", utc(11, 0) + timedelta(seconds=90))
    await answer(v1, "owner", utc(11, 0) + timedelta(seconds=300))
    await answer(v2, "agent", utc(12, 0) + timedelta(seconds=30))
    resolved = await client.patch(
        f"{API}/conversations/{v1}", json={"status": "resolved"}, headers=h
    )
    assert resolved.status_code == 200

    response = await client.get(
        f"{API}/conversations/stats", params={"start": "2026-01-10", "end": "2026-01-12"}, headers=h
    )
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["timezone"] == "Asia/Tokyo"
    assert stats["conversations"] == {
        "total": 4,
        "by_channel": {"phone": 2, "chatgpt": 2},
        "by_status": {"open": 3, "resolved": 1},
        "by_tag": {"vip": 2, "callback": 1},
    }
    assert stats["messages"] == {
        "total": 5,
        "by_channel": {"chatgpt": 5},
        "by_status": {"resolved": 3, "open": 2},
        "by_tag": {},
        "by_role": {"visitor": 2, "agent": 2, "owner": 1},
    }
    assert stats["first_response"] == {
        "answered": 2,
        "average_seconds": 60.0,
        "median_seconds": 60.0,
    }
    # What the owner recorded, by local start day. Storing an agent-role message adds
    # nothing by itself: the agent's turn counts its replies (tests/agent).
    assert stats["time_saved"] == {
        "total_seconds": 660,
        "per_day": [
            {"date": "2026-01-10", "seconds": 60},
            {"date": "2026-01-11", "seconds": 600},
            {"date": "2026-01-12", "seconds": 0},
        ],
    }


async def test_stats_default_to_the_last_thirty_local_days(client, new_owner) -> None:
    owner = await new_owner(timezone="America/Santiago")
    response = await client.get(f"{API}/conversations/stats", headers=owner.headers)
    assert response.status_code == 200
    stats = response.json()
    assert len(stats["time_saved"]["per_day"]) == 30
    assert stats["conversations"]["total"] == 0
    assert stats["first_response"]["average_seconds"] is None


async def test_stats_refuse_an_inverted_or_too_long_range(client, new_owner) -> None:
    owner = await new_owner()
    for params in (
        {"start": "2026-02-01", "end": "2026-01-01"},
        {"start": "2024-01-01", "end": "2026-01-01"},
        # Near the calendar's ends the default start or the day after `end` would not exist.
        {"end": "0001-01-10"},
        {"start": "0001-01-01", "end": "0001-01-02"},
        {"end": "9999-12-31"},
    ):
        response = await client.get(
            f"{API}/conversations/stats", params=params, headers=owner.headers
        )
        assert response.status_code == 422
        assert response.json()["detail"]


async def test_stats_of_the_first_days_on_record_start_no_earlier(client, new_owner) -> None:
    owner = await new_owner()
    response = await client.get(
        f"{API}/conversations/stats", params={"end": "1970-01-05"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["start"] == "1970-01-01"


async def test_stats_of_another_owner_are_never_mixed_in(client, new_owner) -> None:
    owner, other = await new_owner(), await new_owner()
    await client.post(f"{API}/conversations/", json={"channel": "phone"}, headers=other.headers)
    stats = (await client.get(f"{API}/conversations/stats", headers=owner.headers)).json()
    assert stats["conversations"]["total"] == 0


async def test_conversation_filters_at_the_calendars_ends_answer_without_error(
    client, new_owner
) -> None:
    owner = await new_owner()
    for params in (
        {"end": "0001-01-01T00:00:00+05:00"},
        {"start": "0001-01-01T00:00:00+14:00"},
        {"start": "9999-12-31T23:59:59-12:00"},
    ):
        response = await client.get(f"{API}/conversations/", params=params, headers=owner.headers)
        assert response.status_code in (200, 422), (params, response.text)
