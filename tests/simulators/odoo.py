"""An Odoo JSON-RPC simulator: ``helpdesk.ticket`` through ``execute_kw``, chatter notes.

Follows ``../shared/PROVIDERS.md`` (Odoo ``helpdesk.ticket``) and Odoo's ``/jsonrpc`` shape:
every answer is HTTP 200; errors are ``{"jsonrpc": "2.0", "id", "error": {"code": 200,
"message": "Odoo Server Error", "data": {"name", "message", "arguments", "context",
"debug"}}}``.

- ``common``: ``version``, ``authenticate(db, login, key, {})`` (uid or ``false``), ``login``;
- ``object`` ``execute_kw(db, uid, key, model, method, args, kwargs)``: a wrong db, uid or key
  is ``odoo.exceptions.AccessDenied``; ``helpdesk.ticket`` supports ``search_read``,
  ``search``, ``search_count``, ``read``, ``create``, ``write``, ``message_post``,
  ``fields_get``; ``helpdesk.stage`` ``search_read``; ``mail.message`` ``search_count`` /
  ``search_read``. Unknown fields and bad selection values are ``ValueError``; a missing
  record is ``odoo.exceptions.MissingError``.
- The external-id field is a plain Char (Odoo does not make it unique): a sink that
  creates twice makes two tickets, which the tests catch.

Faults: ``fail_next`` answers instead of handling; :meth:`OdooSimulator.lose_next` handles the
call and answers too late (a lost response); :meth:`OdooSimulator.rpc_error_next` answers the
next ``execute_kw`` with an Odoo error object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator

PRIORITIES = ("0", "1", "2", "3")
STAGES = {1: "New", 2: "In Progress", 3: "On Hold", 4: "Solved", 5: "Cancelled"}
TICKET_FIELDS = frozenset(
    {
        "name",
        "description",
        "priority",
        "stage_id",
        "team_id",
        "user_id",
        "partner_id",
        "partner_name",
        "partner_email",
        "partner_phone",
        "tag_ids",
        "ticket_type_id",
        "active",
    }
)


class RpcError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


class OdooSimulator(Simulator):
    def __init__(
        self,
        db: str = "hubdb",
        uid: int = 2,
        login: str = "hub@example.com",
        api_key: str = "odoo-api-key",
        external_id_field: str = "x_hub_case_id",
    ) -> None:
        super().__init__()
        self.db, self.uid, self.login, self.api_key = db, uid, login, api_key
        self.external_id_field = external_id_field
        self.tickets: dict[int, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []  # mail.message rows posted on tickets
        self.writes: list[tuple[list[int], dict[str, Any]]] = []
        self.calls: list[tuple[str, str]] = []  # (model, method) per execute_kw, in order
        self._lose: list[tuple[Callable[[Recorded], bool], float]] = []
        self._errors: list[tuple[str, str]] = []
        self._next_id = 40

    def __enter__(self) -> OdooSimulator:
        self.start()
        return self

    # -- test helpers ----------------------------------------------------------------------
    def lose_next(self, when: Callable[[Recorded], bool], delay: float = 1.0) -> None:
        with self.lock:
            self._lose.append((when, delay))

    def rpc_error_next(self, name: str, message: str) -> None:
        with self.lock:
            self._errors.append((name, message))

    def tickets_by_case(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for t in self.tickets.values():
            out.setdefault(str(t.get(self.external_id_field)), []).append(t)
        return out

    def notes_on(self, ticket_id: int) -> list[str]:
        return [m["body"] for m in self.messages if m["res_id"] == ticket_id]

    @staticmethod
    def is_call(request: Recorded, method: str) -> bool:
        """Whether ``request`` is an ``execute_kw`` of ``method`` (for ``lose_next``)."""
        try:
            args = request.json()["params"]["args"]
            return bool(args[4] == method)
        except (ValueError, KeyError, IndexError, TypeError):
            return False

    # -- protocol ----------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if request.path != "/jsonrpc" or request.method != "POST":
            return Reply(404, b"<html><body>404 Not Found</body></html>", {"Content-Type": "text/html"})
        try:
            envelope = request.json()
            rid = envelope.get("id")
            params = envelope["params"]
        except (ValueError, KeyError, AttributeError):
            return Reply.json(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}, 200
            )
        try:
            with self.lock:
                result = self._dispatch(params.get("service"), params.get("method"), params.get("args") or [])
            reply = Reply.json({"jsonrpc": "2.0", "id": rid, "result": result})
        except RpcError as exc:
            reply = Reply.json(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {
                        "code": 200,
                        "message": "Odoo Server Error",
                        "data": {
                            "name": exc.name,
                            "message": exc.message,
                            "arguments": [exc.message],
                            "context": {},
                            "debug": f"Traceback (most recent call last):\n  ...\n{exc.name}: {exc.message}",
                        },
                    },
                }
            )
        with self.lock:
            for i, (when, delay) in enumerate(self._lose):
                if when(request):
                    del self._lose[i]
                    reply.delay = delay
                    break
        return reply

    def _dispatch(self, service: str, method: str, args: list[Any]) -> Any:
        if service == "common":
            if method == "version":
                return {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""]}
            if method in ("authenticate", "login"):
                db, login, key = args[0], args[1], args[2]
                ok = db == self.db and login == self.login and key == self.api_key
                return self.uid if ok else False
            raise RpcError("builtins.AttributeError", f"common has no method {method!r}")
        if service != "object" or method != "execute_kw":
            raise RpcError("builtins.AttributeError", f"{service}.{method} is not simulated")
        db, uid, key, model, meth = args[0], args[1], args[2], args[3], args[4]
        margs = args[5] if len(args) > 5 else []
        kwargs = args[6] if len(args) > 6 else {}
        if db != self.db:
            raise RpcError("psycopg2.OperationalError", f'FATAL:  database "{db}" does not exist')
        if uid != self.uid or key != self.api_key:
            raise RpcError("odoo.exceptions.AccessDenied", "Access Denied")
        self.calls.append((model, meth))
        if self._errors:
            name, message = self._errors.pop(0)
            raise RpcError(name, message)
        if model == "helpdesk.ticket":
            return self._ticket(meth, margs, kwargs or {})
        if model == "helpdesk.stage" and meth == "search_read":
            rows = [{"id": i, "name": n} for i, n in STAGES.items() if self._match({"name": n}, margs[0])]
            return rows[: kwargs.get("limit") or None]
        if model == "mail.message" and meth in ("search_count", "search_read"):
            rows = [m for m in self.messages if self._match(m, margs[0])]
            return len(rows) if meth == "search_count" else rows
        raise RpcError("builtins.KeyError", f"{model}.{meth} is not simulated")

    @staticmethod
    def _match(row: dict[str, Any], domain: list[Any]) -> bool:
        for term in domain:
            if isinstance(term, str):  # '&' / '|' prefix operators: only implicit AND simulated
                if term != "&":
                    raise RpcError("builtins.ValueError", f"domain operator {term!r} not simulated")
                continue
            name, op, value = term
            have = row.get(name)
            if op == "=" and have != value:
                return False
            if op == "!=" and have == value:
                return False
            if op == "in" and have not in value:
                return False
            if op == "ilike" and str(value).lower() not in str(have or "").lower():
                return False
            if op not in ("=", "!=", "in", "ilike"):
                raise RpcError("builtins.ValueError", f"Invalid domain operator {op!r}")
        return True

    def _check_values(self, vals: Any) -> dict[str, Any]:
        if not isinstance(vals, dict):
            raise RpcError("builtins.TypeError", "values must be a dict")
        for name in vals:
            if name not in TICKET_FIELDS and name != self.external_id_field:
                raise RpcError("builtins.ValueError", f"Invalid field '{name}' on model 'helpdesk.ticket'")
        if "priority" in vals and vals["priority"] not in PRIORITIES:
            raise RpcError(
                "builtins.ValueError", f"Wrong value for helpdesk.ticket.priority: {vals['priority']!r}"
            )
        if "stage_id" in vals and vals["stage_id"] not in STAGES:
            raise RpcError("odoo.exceptions.MissingError", "Record does not exist or has been deleted.")
        return vals

    def _records(self, ids: Any) -> list[dict[str, Any]]:
        ids = [ids] if isinstance(ids, int) else list(ids)
        missing = [i for i in ids if i not in self.tickets]
        if missing:
            raise RpcError(
                "odoo.exceptions.MissingError",
                f"Record does not exist or has been deleted.\n(Record: helpdesk.ticket({missing[0]},), User: 2)",
            )
        return [self.tickets[i] for i in ids]

    def _ticket(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if method in ("search_read", "search", "search_count"):
            domain = args[0] if args else kwargs.get("domain", [])
            active_test = (kwargs.get("context") or {}).get("active_test", True)
            rows = [
                t
                for t in sorted(self.tickets.values(), key=lambda t: t["id"])
                if self._match(t, domain) and (t.get("active", True) or not active_test)
            ]
            if kwargs.get("order") == "id desc":
                rows.reverse()
            if kwargs.get("limit"):
                rows = rows[: kwargs["limit"]]
            if method == "search_count":
                return len(rows)
            if method == "search":
                return [t["id"] for t in rows]
            fields = kwargs.get("fields") or list(TICKET_FIELDS)
            return [{"id": t["id"], **{f: t.get(f) for f in fields if f != "id"}} for t in rows]
        if method == "read":
            return self._records(args[0])
        if method == "fields_get":
            names = args[0] if args else None
            every = {n: {"type": "char"} for n in [*TICKET_FIELDS, self.external_id_field]}
            return {n: every[n] for n in every if not names or n in names}
        if method == "create":
            vals = args[0]
            if isinstance(vals, list):
                return [self._create(v) for v in vals]
            return self._create(vals)
        if method == "write":
            records = self._records(args[0])
            vals = self._check_values(args[1])
            for r in records:
                r.update(vals)
            self.writes.append(([r["id"] for r in records], dict(vals)))
            return True
        if method == "message_post":
            (record,) = self._records(args[0])
            body = kwargs.get("body")
            if not body:
                raise RpcError("odoo.exceptions.UserError", "Message body is empty")
            self._next_id += 1
            self.messages.append(
                {
                    "id": self._next_id,
                    "model": "helpdesk.ticket",
                    "res_id": record["id"],
                    "body": body,
                    "message_type": kwargs.get("message_type"),
                    "subtype_xmlid": kwargs.get("subtype_xmlid"),
                }
            )
            return self._next_id
        raise RpcError(
            "builtins.AttributeError", f"type object 'helpdesk.ticket' has no attribute '{method}'"
        )

    def _create(self, vals: Any) -> int:
        vals = self._check_values(vals)
        if not str(vals.get("name") or "").strip():
            raise RpcError(
                "odoo.exceptions.ValidationError", "Missing required fields on helpdesk.ticket: Subject"
            )
        self._next_id += 1
        self.tickets[self._next_id] = {
            "id": self._next_id,
            "stage_id": 1,
            "priority": "0",
            "active": True,
            **vals,
        }
        return self._next_id
