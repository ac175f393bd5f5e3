"""The courier status table (``mappings/couriers.yaml``): every provider, validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.aftership import AfterShipConnector
from connectors.kuaidi100 import Kuaidi100Connector
from hub.errors import ConfigError
from hub.models import CourierStatus
from hub.sdk import courier_status, courier_table, courier_tables

PROBLEMS = {s for s in CourierStatus if s.is_problem}


# ---------------------------------------------------------------- failure states are problems

FAILURES = [
    # AfterShip tags and sub-statuses
    ("aftership", "AttemptFail", None),
    ("aftership", "Exception", None),
    ("aftership", "Expired", None),
    ("aftership", "Exception", "Exception_010"),
    ("aftership", "InTransit", "Exception_011"),  # the sub-status decides
    # Kuaidi100 states: 疑难, 退签, 退回, 清关异常, 拒签 and the advanced 2xx problem sub-states
    *[("kuaidi100", code, None) for code in ("2", "4", "6", "13", "14", "201", "204", "206", "209", "401")],
    ("kuaidi100", "299", None),  # an unlisted 2xx falls back to 疑难
    # 17TRACK main statuses and sub-statuses
    ("17track", "Expired", None),
    ("17track", "DeliveryFailure", None),
    ("17track", "Exception", None),
    *[
        ("17track", main, f"{main}_{sub}")
        for main, subs in {
            "DeliveryFailure": ("Other", "NoBody", "Security", "Rejected", "InvalidAddress"),
            "Exception": (
                "Other",
                "Returning",
                "Returned",
                "NoBody",
                "Security",
                "Damage",
                "Rejected",
                "Delayed",
                "Lost",
                "Destroyed",
                "Cancel",
            ),
        }.items()
        for sub in subs
    ],
    ("17track", "InTransit", "InTransit_CustomsRequiringInformation"),
    ("17track", None, "Exception_SomethingNew"),  # an unlisted sub-status falls back to its main status
    # EasyPost tracker statuses
    ("easypost", "return_to_sender", None),
    ("easypost", "failure", None),
    ("easypost", "cancelled", None),
    ("easypost", "canceled", None),
]

ROUTINE = [
    *[
        ("aftership", tag, None)
        for tag in (
            "Pending",
            "InfoReceived",
            "InTransit",
            "OutForDelivery",
            "AvailableForPickup",
            "Delivered",
        )
    ],
    ("aftership", "Delivered", "Delivered_003"),
    *[
        ("kuaidi100", code, None)
        for code in ("0", "1", "3", "5", "7", "8", "10", "11", "12", "101", "301", "501")
    ],
    *[
        ("17track", main, None)
        for main in (
            "NotFound",
            "InfoReceived",
            "InTransit",
            "AvailableForPickup",
            "OutForDelivery",
            "Delivered",
        )
    ],
    *[
        ("17track", "InTransit", f"InTransit_{sub}")
        for sub in ("PickedUp", "Other", "Departure", "Arrival", "CustomsProcessing", "CustomsReleased")
    ],
    ("17track", "NotFound", "NotFound_InvalidCode"),
    ("17track", "InfoReceived", "InfoReceived"),
    ("17track", "Delivered", "Delivered_Other"),
    ("17track", "OutForDelivery", "OutForDelivery_Other"),
    ("17track", "AvailableForPickup", "AvailableForPickup_Other"),
    *[
        ("easypost", status, None)
        for status in (
            "unknown",
            "pre_transit",
            "in_transit",
            "out_for_delivery",
            "available_for_pickup",
            "delivered",
            "error",
        )
    ],
]


@pytest.mark.parametrize(("provider", "code", "sub"), FAILURES)
def test_failure_states_are_problems(provider: str, code: str | None, sub: str | None) -> None:
    status = courier_status(provider, code, sub)
    assert status.is_problem, f"{provider} {code}/{sub} -> {status}"


@pytest.mark.parametrize(("provider", "code", "sub"), ROUTINE)
def test_routine_states_are_not_problems(provider: str, code: str | None, sub: str | None) -> None:
    status = courier_status(provider, code, sub)
    assert not status.is_problem, f"{provider} {code}/{sub} -> {status}"


@pytest.mark.parametrize(
    ("provider", "code", "sub", "expected"),
    [
        ("17track", "Exception", "Exception_Returning", CourierStatus.returned),
        ("17track", "Exception", "Exception_Lost", CourierStatus.exception),
        ("17track", "DeliveryFailure", "DeliveryFailure_NoBody", CourierStatus.failed_attempt),
        ("17track", "Expired", "Expired_Other", CourierStatus.expired),
        ("17track", "AvailableForPickup", None, CourierStatus.available_for_pickup),
        ("easypost", "pre_transit", None, CourierStatus.info_received),
        ("easypost", "return_to_sender", None, CourierStatus.returned),
        ("easypost", "out_for_delivery", None, CourierStatus.out_for_delivery),
        ("easypost", "OUT_FOR_DELIVERY", None, CourierStatus.out_for_delivery),  # case-insensitive fallback
        ("aftership", "Exception", "Exception_011", CourierStatus.returned),
        ("kuaidi100", "14", None, CourierStatus.returned),
        ("kuaidi100", "204", None, CourierStatus.failed_attempt),
    ],
)
def test_exact_statuses(provider: str, code: str | None, sub: str | None, expected: CourierStatus) -> None:
    assert courier_status(provider, code, sub) is expected


@pytest.mark.parametrize(
    ("provider", "code", "sub"),
    [
        ("easypost", "teleported", None),
        ("17track", None, None),
        ("17track", "", "  "),
        ("aftership", "Bogus", "x"),
    ],
)
def test_unlisted_codes_are_unknown(provider: str, code: str | None, sub: str | None) -> None:
    assert courier_status(provider, code, sub) is CourierStatus.unknown


def test_every_documented_17track_and_easypost_status_is_listed() -> None:
    track17 = courier_table("17track")
    assert set(track17.main) == {
        "NotFound",
        "InfoReceived",
        "InTransit",
        "Expired",
        "AvailableForPickup",
        "OutForDelivery",
        "DeliveryFailure",
        "Delivered",
        "Exception",
    }
    assert {"Exception_Lost", "DeliveryFailure_Rejected", "Exception_Returned"} <= set(track17.sub)
    assert set(courier_table("easypost").main) >= {
        "unknown",
        "pre_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
        "available_for_pickup",
        "return_to_sender",
        "failure",
        "cancelled",
        "error",
    }


def test_every_mapped_value_is_a_courier_status() -> None:
    tables = courier_tables()
    assert {"aftership", "kuaidi100", "17track", "easypost"} <= set(tables)
    for table in tables.values():
        assert all(isinstance(s, CourierStatus) for s in [*table.main.values(), *table.sub.values()])
    assert courier_table("kuaidi100").names["13"] == "清关异常"


def test_helper_agrees_with_the_connectors() -> None:
    """The shared helper and the connectors read the same table the same way."""
    aftership = AfterShipConnector()
    for tag in courier_table("aftership").main:
        for subtag in (None, "Exception_010", "Exception_011"):
            assert aftership.status_for(tag, subtag) is courier_status("aftership", tag, subtag)
    kuaidi100 = Kuaidi100Connector()
    for code in [*courier_table("kuaidi100").main, "299", "999"]:
        assert kuaidi100.state_for(code)[0] is courier_status("kuaidi100", code)


# ---------------------------------------------------------------- a broken table is a clear error

GOOD = """\
aftership:
  tags: {Delivered: delivered, Exception: exception}
kuaidi100:
  states:
    "3": {status: delivered, name: 签收}
  companies: {zhongtong: ZTO}
17track:
  statuses: {Delivered: delivered}
easypost:
  statuses: {delivered: delivered}
"""


def write_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    (tmp_path / "couriers.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    return tmp_path / "couriers.yaml"


def test_a_good_override_file_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_table(tmp_path, monkeypatch, GOOD)
    assert courier_status("17track", "Delivered") is CourierStatus.delivered
    assert courier_status("17track", "Exception") is CourierStatus.unknown  # not in this smaller table
    AfterShipConnector()
    Kuaidi100Connector()


def test_bad_status_value_names_file_key_value_and_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_table(tmp_path, monkeypatch, GOOD.replace("{Delivered: delivered}", "{Delivered: deliverd}"))
    with pytest.raises(ConfigError) as info:
        courier_status("17track", "Delivered")
    message = str(info.value)
    assert str(path) in message
    assert "17track.statuses.Delivered" in message
    assert "'deliverd' is not a courier status" in message
    assert "valid: pending, info_received, in_transit" in message and "expired, unknown" in message


def test_the_whole_file_is_validated_when_a_connector_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken easypost section stops the AfterShip connector too: the file is wrong, not a section."""
    path = write_table(tmp_path, monkeypatch, GOOD.replace("{delivered: delivered}", "{delivered: gone}"))
    with pytest.raises(
        ConfigError, match=r"easypost\.statuses\.delivered: 'gone' is not a courier status"
    ) as info:
        AfterShipConnector()
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            GOOD.replace("{status: delivered, name: 签收}", "{status: signed, name: 签收}"),
            "kuaidi100.states.3.status",
            "'signed' is not a courier status",
        ),
        (
            GOOD.replace("{status: delivered, name: 签收}", "{name: 签收}"),
            "kuaidi100.states.3",
            "without 'status'",
        ),
        (
            GOOD.replace("{Delivered: delivered, Exception: exception}", "[Delivered]"),
            "aftership.tags",
            "a list",
        ),
        (GOOD.replace("tags:", "tag:"), "aftership.tag", "unknown table"),
        (GOOD.replace("{zhongtong: ZTO}", "{zhongtong: [ZTO]}"), "kuaidi100.companies.zhongtong", "a label"),
        (GOOD + "dhl: fast\n", "dhl", "expected a mapping of tables"),
        (GOOD.replace("{Delivered: delivered}", "{Delivered: null}"), "17track.statuses.Delivered", "None"),
        (GOOD.replace("{Delivered: delivered}", "{Delivered: yes}"), "17track.statuses.Delivered", "True"),
    ],
)
def test_malformed_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, key: str, problem: str
) -> None:
    path = write_table(tmp_path, monkeypatch, text)
    for load in (courier_tables, AfterShipConnector, Kuaidi100Connector):
        with pytest.raises(ConfigError) as info:
            load()
        message = str(info.value)
        assert str(path) in message and key in message and problem in message, message


def test_not_a_mapping_or_not_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_table(tmp_path, monkeypatch, "- aftership\n- kuaidi100\n")
    with pytest.raises(ConfigError, match="expected a mapping of courier provider sections, found a list"):
        courier_tables()
    write_table(tmp_path, monkeypatch, "aftership: {tags: {Delivered: delivered}\n")
    with pytest.raises(ConfigError, match="cannot read mapping file"):
        courier_tables()


def test_missing_file_or_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="mapping file not found"):
        courier_status("easypost", "delivered")
    write_table(tmp_path, monkeypatch, "aftership:\n  tags: {Delivered: delivered}\n")
    with pytest.raises(ConfigError, match=r"no 'easypost' section \(has: aftership\)"):
        courier_status("easypost", "delivered")


def test_an_edited_file_is_reread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_table(tmp_path, monkeypatch, GOOD)
    assert courier_status("easypost", "delivered") is CourierStatus.delivered
    path.write_text(
        GOOD.replace("{delivered: delivered}", "{delivered: exception, failure: exception}"), "utf-8"
    )
    assert courier_status("easypost", "failure") is CourierStatus.exception


def test_single_value_check_keeps_working() -> None:
    """The one-value form the connectors use for their ``table=`` overrides."""
    assert courier_status("returned", where="x") is CourierStatus.returned
    with pytest.raises(ConfigError, match=r"^here: 'back' is not a courier status \(valid: pending"):
        courier_status("back", where="here")
