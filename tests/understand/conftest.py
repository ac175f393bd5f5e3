"""Helpers for the hub.understand tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.models import Channel, ComplaintMessage


def make_message(text: str = "", channel: Channel = Channel.email, **fields: Any) -> ComplaintMessage:
    return ComplaintMessage(
        connector=fields.pop("connector", channel.value),
        native_id=fields.pop("native_id", "n-1"),
        channel=channel,
        occurred_at=datetime(2026, 10, 1, 8, 0, tzinfo=UTC),
        text=text,
        **fields,
    )


@pytest.fixture
def msg_factory():
    return make_message
