"""A Kuaidi100 (快递100) simulator: ``POST /poll/query.do`` and signed subscription pushes.

Follows kuaidi100-api/python-demo ``code/synquery.py`` and the
api.kuaidi100.com documentation (see PROVIDERS.md): form ``customer``,
``param`` (JSON ``com``, ``num``, ``phone``, ``resultv2``, ``order``), ``sign`` =
uppercase MD5(param + key + customer). Answers are HTTP 200 either way: a trace
``{"message": "ok", "nu", "ischeck", "condition", "com", "status": "200",
"state", "data": [...]}`` (newest first unless ``order: asc``), or an error
``{"result": false, "returnCode", "message"}``: 503 bad signature, 601 unknown
customer / key expired, 400 incomplete data or unknown company, 500 no trace
yet. :meth:`Kuaidi100Simulator.push_body` builds a signed push
(``param=<json>&sign=<uppercase MD5(param + salt)>``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["CUSTOMER", "KEY", "SALT", "Kuaidi100Simulator", "Shipment"]

CUSTOMER = "8A5C1D0F3B7E2A9C4D6E8F0A1B3C5D7E"
KEY = "kd100-key-Wq7rT2"
SALT = "kd100-salt-9x3Lm"

#: state → status words Kuaidi100 puts on a trace entry with resultv2=1
_STATUS_WORDS = {"0": "在途", "1": "揽收", "2": "疑难", "3": "签收", "5": "派件", "14": "拒签"}


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"result": False, "returnCode": code, "message": message}


@dataclass
class Shipment:
    com: str
    num: str
    state: str = "0"
    trace: list[dict[str, str]] = field(default_factory=list)  # oldest first


class Kuaidi100Simulator(Simulator):
    """One Kuaidi100 enterprise account and the shipments its couriers report."""

    def __init__(self, customer: str = CUSTOMER, key: str = KEY, salt: str = SALT) -> None:
        super().__init__()
        self.customer = customer
        self.key = key
        self.salt = salt
        self.shipments: dict[str, Shipment] = {}
        #: China time of the next scan (one minute apart)
        self.clock = datetime(2026, 8, 15, 9, 0, 0)

    # -- seeding ---------------------------------------------------------------------------
    def add_shipment(self, com: str, num: str) -> Shipment:
        with self.lock:
            return self.shipments.setdefault(num, Shipment(com, num))

    def add_checkpoint(
        self, number: str, state: str, context: str, *, com: str = "zhongtong", at: datetime | None = None
    ) -> dict[str, str]:
        """A courier scan on ``number`` (created if new) moving it to ``state``."""
        with self.lock:
            shipment = self.add_shipment(com, number)
            if at is None:
                self.clock += timedelta(minutes=1)
                at = self.clock
            stamp = at.strftime("%Y-%m-%d %H:%M:%S")
            entry = {
                "time": stamp,
                "context": context,
                "ftime": stamp,
                "areaCode": "CN310000000000",
                "areaName": "上海",
                "status": _STATUS_WORDS.get(state, "在途"),
                "location": "",
                "areaCenter": "121.472644,31.231706",
                "areaPinYin": "shang hai shi",
                "statusCode": state,
            }
            shipment.trace.append(entry)
            shipment.state = state
            return entry

    def result(self, num: str, *, order: str = "desc") -> dict[str, Any]:
        """The query shape (``lastResult`` of a push) of one shipment."""
        shipment = self.shipments[num]
        data = [dict(e) for e in shipment.trace]
        if order != "asc":
            data.reverse()
        return {
            "message": "ok",
            "nu": shipment.num,
            "ischeck": "1" if shipment.state in ("3", "4") else "0",
            "condition": "F00",
            "com": shipment.com,
            "status": "200",
            "state": shipment.state,
            "data": data,
        }

    def push_body(self, num: str, *, status: str = "polling", salt: str | None = None) -> bytes:
        """A subscription push for ``num`` as Kuaidi100 posts it (form, signed with ``salt``)."""
        param = json.dumps(
            {"status": status, "billstatus": "got", "message": "", "lastResult": self.result(num)},
            ensure_ascii=False,
        )
        return urlencode({"param": param, "sign": md5_upper(param + (salt or self.salt))}).encode()

    # -- scripted faults -------------------------------------------------------------------
    def server_error_next(self, count: int = 1) -> None:
        self.fail_next(*[Reply(502, b"<html><body>502 Bad Gateway</body></html>")] * count)

    def rate_limit_next(self, retry_after: str = "2") -> None:
        self.fail_next(Reply.json(_error("429", "请求过于频繁"), 429, {"Retry-After": retry_after}))

    def malformed_next(self) -> None:
        self.fail_next(Reply(200, b"<html>\xe7\xb3\xbb\xe7\xbb\x9f\xe7\xbb\xb4\xe6\x8a\xa4</html>"))

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/poll/query.do":
            return Reply(404, b"Not Found")
        form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        customer, param, sign = form.get("customer"), form.get("param"), form.get("sign")
        if not customer or not param or not sign:
            return Reply.json(_error("400", "数据不完整"))
        if customer != self.customer:
            return Reply.json(_error("601", "POLL:KEY已过期或账号欠费"))
        if sign != md5_upper(param + self.key + customer):
            return Reply.json(_error("503", "验证签名失败"))
        try:
            query = json.loads(param)
        except ValueError:
            return Reply.json(_error("400", "数据不完整"))
        num, com = query.get("num"), query.get("com")
        if not num or not com:
            return Reply.json(_error("400", "数据不完整"))
        with self.lock:
            shipment = self.shipments.get(num)
            if shipment is None or not shipment.trace:
                return Reply.json(_error("500", "查询无结果，请隔段时间再查"))
            if shipment.com != com:
                return Reply.json(_error("400", "找不到对应公司"))
            return Reply.json(self.result(num, order=query.get("order") or "desc"))
