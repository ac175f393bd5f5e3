"""The live X connector against the X API v2 simulator, which is checked against the official OpenAPI spec."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import ValidationError
from sqlalchemy import Engine, text

import connectors.x as x
from connectors.x import XConfig, XConnector
from hub.config import HubConfig
from hub.connector import Batch, ReadContext
from hub.db import make_engine
from hub.errors import AuthError, CheckFailed, ConnectorError, PaginationLoop, TransientError
from hub.polling import poll_instance
from tests.simulators.base import Reply
from tests.simulators.x import SHOP, XSimulator

TOKEN = "AAAAAAAAAAAAAAAAAAAAALiveSecretBearer%2Fq8Zt"
SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "x-api-v2.json"
OPERATIONS = {"getUsersMentions": "Get2UsersIdMentionsResponse", "getUsersById": "Get2UsersIdResponse"}


# -- the official spec ----------------------------------------------------------------------


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text(encoding="utf-8"))


@cache
def _validator(schema_name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    # the $refs ("#/components/schemas/...") resolve against this root, which carries the components
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _spec()["components"]}
    return jsonschema.Draft202012Validator(root)


def spec_violations(operation: str, status: int, body: Any) -> list[str]:
    """Where a response of ``operation`` departs from the spec (problems also by their ``type``)."""
    schema = OPERATIONS[operation] if status == 200 else "Problem"
    found = [
        f"{schema}: {e.message} at {list(e.absolute_path)}" for e in _validator(schema).iter_errors(body)
    ]
    mapping = _spec()["components"]["schemas"]["Problem"]["discriminator"]["mapping"]
    problems = [body] if status != 200 else (body.get("errors") or [])
    for problem in problems:
        target = mapping.get(problem.get("type"), "")
        if target:
            name = target.rsplit("/", 1)[1]
            found += [f"{name}: {e.message}" for e in _validator(name).iter_errors(problem)]
    return found


def _spec_usable() -> bool:
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return False
    return SPEC.exists()


@pytest.fixture
def spec_available() -> None:
    if not SPEC.exists():
        pytest.skip(f"the X OpenAPI spec is not at {SPEC} (it lives in ../shared/specs beside the checkout)")
    pytest.importorskip("jsonschema", reason="jsonschema validates simulator responses against the spec")


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[XSimulator]:
    """The simulator; when the spec is at hand, every response it builds is validated against it."""
    violations: list[str] = []
    with XSimulator(token=TOKEN) as s:
        assert isinstance(s, XSimulator)
        if _spec_usable():
            s.on_response = lambda op, status, body: violations.extend(
                spec_violations(op, status, body) if op in OPERATIONS else []
            )
        yield s
    assert violations == [], "the simulator answered outside the official spec"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(x, "sleep", waits.append)
    return waits


def config(sim: XSimulator, **overrides: Any) -> XConfig:
    settings = {"base_url": sim.url, "bearer_token": sim.token, "user_id": SHOP["id"], "timeout": 5}
    return XConfig.model_validate({**settings, **overrides})


def read(sim: XSimulator, cursor: str = "", *, max_items: int | None = None, **cfg: Any) -> list[Batch]:
    ctx = ReadContext(instance="xacct", max_items=max_items)
    return list(XConnector().read(config(sim, **cfg), {"": cursor} if cursor else {}, ctx))


def ids(batches: list[Batch]) -> list[str]:
    return [item.native_id for b in batches for item in b.items]


def mention_requests(sim: XSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/mentions")]


# -- reading --------------------------------------------------------------------------------


def test_follows_next_tokens_and_yields_oldest_first(sim: XSimulator, sleeps: list[float]) -> None:
    seeded = [sim.add_mention(lang="zh" if n % 2 else "en", username=f"cust{n % 4}") for n in range(23)]
    batches = read(sim, max_results=5)
    assert ids(batches) == [t["id"] for t in seeded], "every mention once, oldest first"
    assert [len(b.items) for b in batches] == [5, 5, 5, 5, 3]
    assert [b.cursor for b in batches] == [seeded[i]["id"] for i in (4, 9, 14, 19, 22)]
    asked = mention_requests(sim)
    assert len(asked) == 5 and asked[0].param("pagination_token") is None
    tokens = [r.param("pagination_token") for r in asked[1:]]
    assert len(set(tokens)) == 4 and all(tokens)
    for r in asked:
        assert r.param("since_id") is None and r.param("max_results") == "5"
        assert r.param("expansions") == "author_id,referenced_tweets.id"
        assert r.param("tweet.fields") == x.TWEET_FIELDS and r.param("user.fields") == "username,name"
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
    assert sleeps == []


def test_items_are_what_split_capture_makes_of_the_page(sim: XSimulator) -> None:
    root = sim.add_mention("订单 W2 还没到", lang="zh", username="mei", name="Mei Lin")
    shop = sim.add_tweet("@mei sorry, checking now", username=SHOP["username"], reply_to=root)
    follow = sim.add_mention(
        "still nothing, see https://t.co/Ab12", username="mei", name="Mei Lin", reply_to=shop
    )
    (batch,) = read(sim)
    assert ids([batch]) == [root["id"], follow["id"]]
    page = requests.get(
        f"{sim.url}/2/users/{SHOP['id']}/mentions",
        params=mention_requests(sim)[0].query,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).content
    connector = XConnector()
    expected = connector.split_capture(
        page, instance="xacct", received_at=batch.items[0].received_at, source=batch.items[0].source
    )
    assert sorted(expected, key=lambda i: int(i.native_id)) == batch.items
    message = connector.parse(batch.items[1])
    assert message.reply_to_key == f"x:{shop['id']}" and f"x:{root['id']}" in message.parent_keys
    assert message.customer_name == "Mei Lin" and "https://shop.example/help/Ab12" in message.text
    assert batch.items[1].occurred_at and batch.items[1].occurred_at.tzinfo is not None


def test_cursor_is_the_numerically_largest_id(sim: XSimulator) -> None:
    early = sim.add_mention("an old complaint", at=datetime(2010, 11, 5, tzinfo=UTC))
    late = sim.add_mention("a new complaint", at=datetime(2026, 9, 1, tzinfo=UTC))
    assert len(early["id"]) < len(late["id"]) and early["id"] > late["id"], "string order would be wrong"
    batches = read(sim)
    assert ids(batches) == [early["id"], late["id"]] and batches[-1].cursor == late["id"]
    assert read(sim, late["id"]) == []


def test_new_mentions_between_polls_and_during_a_read(sim: XSimulator) -> None:
    for _ in range(7):
        sim.add_mention()
    first = read(sim, max_results=5)
    cursor = first[-1].cursor
    assert len(ids(first)) == 7 and read(sim, cursor) == []
    assert mention_requests(sim)[-1].param("since_id") == cursor

    late = [sim.add_mention(lang="zh") for _ in range(6)]
    arriving: list[dict[str, Any]] = []

    def arrive(request: Any) -> None:  # a mention lands while the connector follows next_token
        if request.path.endswith("/mentions") and not arriving:
            arriving.append(sim.add_mention("arrived mid-read"))

    sim.after_request = arrive
    second = read(sim, cursor, max_results=5)
    assert ids(second) == [t["id"] for t in late], "pages after the first go older: the newcomer waits"
    third = read(sim, second[-1].cursor, max_results=5)
    assert ids(third) == [arriving[0]["id"]]


def test_max_items_keeps_the_oldest_and_their_cursor(sim: XSimulator) -> None:
    seeded = [sim.add_mention() for _ in range(12)]
    batches = read(sim, max_items=7, max_results=5)
    assert ids(batches) == [t["id"] for t in seeded[:7]] and batches[-1].cursor == seeded[6]["id"]
    assert ids(read(sim, batches[-1].cursor)) == [t["id"] for t in seeded[7:]]


def test_pages_without_data(sim: XSimulator) -> None:
    assert read(sim) == [] and len(sim.requests) == 1
    seeded = [sim.add_mention() for _ in range(7)]
    sim.trailing_empty_page = True  # X hands a next_token whose page holds nothing
    batches = read(sim, max_results=5)
    assert ids(batches) == [t["id"] for t in seeded]
    assert len(mention_requests(sim)) == 1 + 3


def test_partial_errors_keep_the_tweets(sim: XSimulator, caplog: pytest.LogCaptureFixture) -> None:
    gone = sim.add_mention("this one gets deleted", username="ann")
    reply = sim.add_mention("why did you delete my question?", username="ann", reply_to=gone)
    sim.delete_tweet(gone)
    with caplog.at_level(logging.WARNING):
        batches = read(sim)
    assert ids(batches) == [reply["id"]]
    assert "partial errors" in caplog.text and "Not Found Error" in caplog.text
    message = XConnector().parse(batches[0].items[0])
    assert message.reply_to_key == f"x:{gone['id']}"


def test_errors_only_answer_is_an_error(sim: XSimulator) -> None:
    with pytest.raises(ConnectorError, match="Could not find user"):
        read(sim, user_id="12345")


def test_429_waits_for_reset_header_and_retry_after(sim: XSimulator, sleeps: list[float]) -> None:
    mention = sim.add_mention()
    sim.fail_next(sim.throttled(reset_in=40), sim.throttled(retry_after=9))
    assert ids(read(sim)) == [mention["id"]]
    assert 38 <= sleeps[0] <= 40, "x-rate-limit-reset is epoch seconds"
    assert sleeps[1] == 9 and len(mention_requests(sim)) == 3


def test_server_errors_are_retried(sim: XSimulator, sleeps: list[float]) -> None:
    mention = sim.add_mention()
    sim.fail_next(sim.server_error(503), sim.server_error(500))
    assert ids(read(sim)) == [mention["id"]] and len(sleeps) == 2


def test_bad_token_is_an_auth_error_never_retried(sim: XSimulator, sleeps: list[float]) -> None:
    with pytest.raises(AuthError) as info:
        read(sim, bearer_token="AAAAwrong-Bearer-77")
    assert "401" in str(info.value) and "Unauthorized" in str(info.value)
    assert "AAAAwrong-Bearer-77" not in str(info.value)
    assert len(sim.requests) == 1 and sleeps == []


def test_repeated_next_token_is_a_pagination_loop(sim: XSimulator) -> None:
    tweet = sim.add_mention()
    page = {
        "data": [{"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}],
        "meta": {
            "result_count": 1,
            "newest_id": tweet["id"],
            "oldest_id": tweet["id"],
            "next_token": "7140dloop",
        },
    }
    sim.fail_next(Reply.json(page), Reply.json(page))
    with pytest.raises(PaginationLoop):
        read(sim)
    assert [r.param("pagination_token") for r in mention_requests(sim)] == [None, "7140dloop"]


def test_malformed_pages_are_transient(sim: XSimulator) -> None:
    sim.fail_next(Reply(200, b"<html>over capacity</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError, match="not JSON"):
        read(sim)
    sim.fail_next(Reply.json([1, 2]))
    with pytest.raises(TransientError, match="JSON object"):
        read(sim)
    sim.fail_next(Reply.json({"data": [{"text": "no id"}], "meta": {"result_count": 1}}))
    with pytest.raises(TransientError, match="malformed page"):
        read(sim)


def test_a_corrupt_cursor_is_reported(sim: XSimulator) -> None:
    with pytest.raises(ConnectorError, match="not a tweet id"):
        read(sim, "abc")


# -- the simulator follows the spec ---------------------------------------------------------


def test_simulator_responses_follow_the_spec(sim: XSimulator, spec_available: None) -> None:
    root = sim.add_mention("订单 W2-8861 还没到", lang="zh", username="mei")
    for n in range(6):
        sim.add_mention(username=f"c{n}", reply_to=root if n % 2 else None)
    deleted = sim.add_mention("gone soon")
    sim.add_mention("replying to a deleted tweet", reply_to=deleted)
    sim.delete_tweet(deleted)
    base = f"{sim.url}/2/users/{SHOP['id']}"
    fields = {"expansions": x.EXPANSIONS, "tweet.fields": x.TWEET_FIELDS, "user.fields": x.USER_FIELDS}
    seen: list[tuple[str, int, Any]] = []

    def get(url: str, operation: str, params: dict[str, Any] | None = None, token: str = TOKEN) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        answer = requests.get(url, params=params, headers=headers, timeout=5)
        body = answer.json()
        assert spec_violations(operation, answer.status_code, body) == [], (answer.status_code, body)
        assert "x-rate-limit-reset" in answer.headers and int(answer.headers["x-rate-limit-reset"]) > 1e9
        seen.append((operation, answer.status_code, body))
        return body

    first = get(f"{base}/mentions", "getUsersMentions", {"max_results": 5, **fields})
    assert first["meta"]["result_count"] == 5 and first["includes"]["users"]
    second = get(
        f"{base}/mentions", "getUsersMentions", {"pagination_token": first["meta"]["next_token"], **fields}
    )
    assert second["meta"]["previous_token"] and "next_token" not in second["meta"]
    assert any(
        e["type"].endswith("resource-not-found") for e in first.get("errors", []) + second.get("errors", [])
    )
    empty = get(f"{base}/mentions", "getUsersMentions", {"since_id": first["meta"]["newest_id"]})
    assert empty == {"meta": {"result_count": 0}}, "no data key when there are no results"
    bad = get(f"{base}/mentions", "getUsersMentions", {"max_results": 1})
    assert bad["type"].endswith("invalid-request") and "max_results" in bad["errors"][0]["parameters"]
    assert get(f"{base}/mentions", "getUsersMentions", {"max_results": 101})["title"] == "Invalid Request"
    assert (
        get(f"{base}/mentions", "getUsersMentions", {"tweet.fields": "created_at,bogus"})["title"]
        == "Invalid Request"
    )
    assert get(f"{base}/mentions", "getUsersMentions", {"since_id": "12ab"})["title"] == "Invalid Request"
    unauthorized = get(f"{base}/mentions", "getUsersMentions", token="nope")
    assert unauthorized == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert get(base, "getUsersById", {"user.fields": "username,name"})["data"]["username"] == "TheShop"
    assert get(f"{sim.url}/2/users/12345", "getUsersById")["errors"][0]["resource_type"] == "user"
    sim.fail_next(sim.throttled(), sim.server_error())
    assert get(f"{base}/mentions", "getUsersMentions")["status"] == 429
    assert get(f"{base}/mentions", "getUsersMentions")["status"] == 503
    assert len(seen) == 12
    # and the check itself has teeth
    assert spec_violations("getUsersMentions", 200, {"data": [], "meta": {"result_count": 0}})
    assert spec_violations("getUsersMentions", 200, {"data": [{"id": "12x", "text": "t"}]})
    assert spec_violations("getUsersMentions", 401, {"detail": "Unauthorized"})
    assert spec_violations(
        "getUsersById", 200, {"errors": [{"type": _NOT_FOUND, "title": "Not Found Error"}]}
    )


_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


def test_the_connectors_requests_follow_the_spec(
    sim: XSimulator, spec_available: None, sleeps: list[float]
) -> None:
    for _ in range(8):
        sim.add_mention()
    batches = read(sim, max_results=5)
    read(sim, batches[-1].cursor)
    XConnector().check(config(sim))
    operations = {
        op["operationId"]: op
        for methods in _spec()["paths"].values()
        for op in methods.values()
        if "operationId" in op
    }
    parameters = _spec()["components"]["parameters"]

    def declared(operation: str) -> dict[str, Any]:
        out = {}
        for p in operations[operation]["parameters"]:
            p = parameters[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
            out[p["name"]] = p
        return out

    for request in sim.requests:
        operation = "getUsersMentions" if request.path.endswith("/mentions") else "getUsersById"
        spec_params = declared(operation)
        for name, values in request.query.items():
            assert name in spec_params and len(values) == 1, name
            schema = spec_params[name]["schema"]
            if schema.get("type") == "array":  # explode: false, comma separated
                allowed = set(schema["items"]["enum"])
                assert set(values[0].split(",")) <= allowed, name
            elif schema.get("type") == "integer":
                assert schema["minimum"] <= int(values[0]) <= schema["maximum"]
        if "since_id" in request.query:
            assert request.param("since_id") == batches[-1].cursor


# -- check and config -------------------------------------------------------------------------


def test_check(sim: XSimulator, caplog: pytest.LogCaptureFixture, sleeps: list[float]) -> None:
    caplog.set_level(logging.DEBUG)
    connector = XConnector()
    connector.check(config(sim))
    with pytest.raises(CheckFailed) as info:
        connector.check(config(sim, bearer_token="AAAAbad-Bearer-31"))
    assert str(info.value).startswith("bearer token refused by 127.0.0.1:") and info.value.hint
    assert "AAAAbad-Bearer-31" not in str(info.value) + caplog.text
    with pytest.raises(CheckFailed, match="no X account with id 12345"):
        connector.check(config(sim, user_id="12345"))
    with pytest.raises(CheckFailed, match="did not accept"):
        connector.check(config(sim, base_url="http://127.0.0.1:9", timeout=1))


def test_config_rejects_bad_values(sim: XSimulator) -> None:
    for bad in ({"max_results": 4}, {"max_results": 101}, {"user_id": "@TheShop"}, {"bearer_token": ""}):
        with pytest.raises(ValidationError):
            config(sim, **bad)
    assert XConfig.model_validate({"bearer_token": "t", "user_id": "1"}).base_url == "https://api.x.com"


# -- polling through the core ---------------------------------------------------------------


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in ("raw_item", "message", "case")
        }


def test_poll_instance_into_sqlite_twice_adds_nothing(
    sim: XSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    root = sim.add_mention("order A-1042 arrived broken, I want a refund", username="dana", name="Dana K")
    shop = sim.add_tweet(
        "@dana sorry! please DM us the order number", username=SHOP["username"], reply_to=root
    )
    sim.add_mention("I sent it, still nothing", username="dana", name="Dana K", reply_to=shop)
    for n in range(9):
        sim.add_mention(lang="zh" if n % 2 else "en", username=f"cust{n}", name=f"Customer {n}")
    sim.fail_next(sim.throttled(reset_in=5))
    hub = HubConfig.model_validate(
        {
            "connectors": [
                {
                    "name": "xacct",
                    "type": "x",
                    "config": {
                        "base_url": sim.url,
                        "bearer_token": TOKEN,
                        "user_id": SHOP["id"],
                        "max_results": 5,
                        "timeout": 5,
                    },
                }
            ]
        }
    )
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    try:
        first = poll_instance(engine, hub, hub.connectors[0])
        assert first.ok, first.error
        assert first.stats.messages == 11 and first.batches == 3
        stored = counts(engine)
        assert stored["raw_item"] == 11 and stored["message"] == 11 and 1 <= stored["case"] < 11
        newest = max(int(i) for i in sim.mentions[SHOP["id"]])
        with engine.connect() as c:
            assert c.execute(text("SELECT value FROM cursor WHERE instance = 'xacct'")).scalar_one() == str(
                newest
            )

        again = poll_instance(engine, hub, hub.connectors[0])
        assert again.ok and again.stats.seen == 0 and again.batches == 0
        assert counts(engine) == stored

        sim.tokens.clear()  # the token is revoked: unhealthy with the reason, never the token
        broken = poll_instance(engine, hub, hub.connectors[0])
        assert not broken.ok and broken.error and broken.error.startswith("configuration:")
        with engine.connect() as c:
            assert c.execute(text("SELECT healthy FROM connector_health")).scalar_one() == 0
    finally:
        engine.dispose()
    assert len(sleeps) == 1 and 3 <= sleeps[0] <= 5
    assert TOKEN not in caplog.text
