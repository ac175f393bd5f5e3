"""The conformance suite every registered source connector runs through.

A connector's test module is one line plus its harness::

    class TestMastodon(SourceConformance):
        harness = MastodonHarness

Connectors that receive webhooks add :class:`WebhookConformance`::

    class TestTwilio(SourceConformance, WebhookConformance):
        harness = TwilioHarness

The harness (see :class:`Harness`) starts the real server or the provider's
simulator, knows a good and a bad configuration, can make new items appear at
the source, and knows a cursor that lies in the future.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from hub.connector import (
    Batch,
    Capability,
    Cursor,
    ReadContext,
    SourceConnector,
    WebhookRequest,
    secret_values,
)
from hub.errors import AuthError, CheckFailed, ParseError, SignatureInvalid
from hub.registry import available, get_connector


class Harness:
    """What a connector's conformance test provides. Subclass and fill in."""

    connector: ClassVar[str]

    def start(self) -> None:
        """Start the server or simulator (fail loudly if it cannot start)."""

    def stop(self) -> None:
        """Stop it and clean up."""

    def good_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def bad_credentials_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def seed(self, count: int) -> None:
        """Make ``count`` new items available at the source."""
        raise NotImplementedError

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        """A cursor beyond anything the source holds (given the current one)."""
        raise NotImplementedError

    def signed_webhook(self, config: Any, *, valid: bool) -> WebhookRequest:
        """A webhook delivery with a valid or a forged signature (webhook connectors only)."""
        raise NotImplementedError


def read_all(connector: SourceConnector, config: Any, cursor: Cursor) -> tuple[list[Batch], Cursor]:
    """Run a read to the end; return its batches and the cursor after them."""
    batches = list(connector.read(config, dict(cursor), ReadContext(instance="conformance")))
    after = dict(cursor)
    for batch in batches:
        after[batch.partition] = batch.cursor
    return batches, after


class SourceConformance:
    """Named checks generated for one connector (set ``harness`` in the subclass)."""

    harness: ClassVar[type[Harness]]

    @pytest.fixture
    def h(self) -> Iterator[Harness]:
        harness = self.harness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()

    @pytest.fixture
    def connector(self) -> SourceConnector:
        return get_connector(self.harness.connector)

    def test_is_registered(self) -> None:
        assert self.harness.connector in available()

    def test_config_spec_validates_and_marks_secrets(self, h: Harness, connector: SourceConnector) -> None:
        config = connector.configure(h.good_config())
        secrets = secret_values(config)
        assert secrets, "a live connector's config must hold its credentials as SecretStr"
        text = repr(config) + str(config) + config.model_dump_json()
        assert not any(s in text for s in secrets)
        assert any(isinstance(getattr(config, f), SecretStr) for f in type(config).model_fields)
        with pytest.raises(ValidationError):
            connector.configure({**h.good_config(), "no_such_option": 1})

    def test_check_passes_with_good_credentials(self, h: Harness, connector: SourceConnector) -> None:
        connector.check(connector.configure(h.good_config()))

    def test_check_fails_cleanly_on_bad_credentials(
        self, h: Harness, connector: SourceConnector, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        config = connector.configure(h.bad_credentials_config())
        with pytest.raises((CheckFailed, AuthError)) as info:
            connector.check(config)
        text = str(info.value)
        assert text.strip(), "the failure must say why"
        for secret in secret_values(config):
            assert secret not in text
            assert secret not in caplog.text

    def test_read_is_resumable_from_its_cursor(
        self, h: Harness, connector: SourceConnector, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        config = connector.configure(h.good_config())
        h.seed(3)
        batches, cursor = read_all(connector, config, {})
        first = [item for b in batches for item in b.items]
        assert len(first) >= 3
        assert len({i.native_id for i in first}) == len(first), "no duplicates within one read"
        again, cursor2 = read_all(connector, config, cursor)
        assert [i for b in again for i in b.items] == [], "re-read from saved cursor"
        h.seed(2)
        more, _ = read_all(connector, config, cursor2)
        new_ids = {i.native_id for b in more for i in b.items}
        assert len(new_ids) == 2 and not (new_ids & {i.native_id for i in first})
        for secret in secret_values(config):
            assert secret not in caplog.text

    def test_far_future_cursor_returns_nothing(self, h: Harness, connector: SourceConnector) -> None:
        config = connector.configure(h.good_config())
        h.seed(2)
        _, cursor = read_all(connector, config, {})
        batches, _ = read_all(connector, config, h.far_future_cursor(cursor))
        assert [i for b in batches for i in b.items] == []

    def test_parse_is_total_on_what_read_returns(self, h: Harness, connector: SourceConnector) -> None:
        config = connector.configure(h.good_config())
        h.seed(3)
        batches, _ = read_all(connector, config, {})
        for item in (i for b in batches for i in b.items):
            assert item.connector == connector.name
            try:
                msg = connector.parse(item)
            except ParseError:
                continue
            assert msg.native_id == item.native_id

    def test_declared_capabilities_are_tested(self, connector: SourceConnector) -> None:
        assert Capability.POLL in connector.capabilities
        assert (Capability.WEBHOOK in connector.capabilities) == isinstance(self, WebhookConformance), (
            "a connector declaring webhooks must run WebhookConformance too, and only then"
        )


class WebhookConformance:
    """Extra checks for connectors that receive pushed deliveries (mix in after SourceConformance)."""

    def test_webhook_signature_is_verified(self, h: Harness, connector: SourceConnector) -> None:
        config = connector.configure(h.good_config())
        items = connector.webhook(config, h.signed_webhook(config, valid=True))
        assert items and all(i.connector == connector.name for i in items)
        with pytest.raises(SignatureInvalid):
            connector.webhook(config, h.signed_webhook(config, valid=False))
