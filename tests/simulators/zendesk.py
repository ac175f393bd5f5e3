"""A Zendesk Support simulator: tickets, external-id lookup, Idempotency-Key replay, comments.

Follows ``../shared/PROVIDERS.md`` (Zendesk Support):

- auth: Basic ``{email}/token:{api_token}`` or ``Bearer <oauth token>``; anything else is
  401 ``{"error": "Couldn't authenticate you"}``;
- ``POST /api/v2/tickets`` → 201 ``{"ticket": ...}``; ``Idempotency-Key`` replays: the same
  key and body answer the original response with ``x-idempotency-lookup: hit`` (a first use
  says ``miss``); the same key with another body is 400 ``IdempotentRequestError``;
- ``GET /api/v2/tickets?external_id=`` lists every ticket with that external id (not unique);
- ``PUT /api/v2/tickets/{id}`` sets fields, ``additional_tags``/``remove_tags``, adds the comment;
- ``GET /api/v2/tickets/{id}/comments`` (``sort_order=asc|desc``);
- invalid values are 422 ``{"error": "RecordInvalid", "description": ..., "details": {...}}``;
  a closed ticket cannot be updated; unknown tickets are 404 ``RecordNotFound``.

Faults: :meth:`~tests.simulators.base.Simulator.fail_next` (429 with ``Retry-After``, 500,
drops) answers *instead of* handling; :meth:`ZendeskSimulator.lose_next` handles the request
(the ticket is stored) and then answers too late, like a response lost on the way back.
``lookup_blind`` makes the external-id lookup find nothing (to exercise the idempotency key).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator

PRIORITIES = ("urgent", "high", "normal", "low")
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TYPES = ("problem", "incident", "question", "task")
TICKET_KEYS = frozenset(
    {
        "subject",
        "comment",
        "requester",
        "requester_id",
        "external_id",
        "priority",
        "type",
        "status",
        "tags",
        "additional_tags",
        "remove_tags",
        "assignee_id",
        "group_id",
        "custom_fields",
        "due_at",
    }
)


@dataclass
class Comment:
    body: str
    public: bool
    id: int = 0


@dataclass
class Ticket:
    id: int
    fields: dict[str, Any]
    comments: list[Comment] = field(default_factory=list)
    created_seq: int = 0

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"/api/v2/tickets/{self.id}.json",
            "created_at": f"2026-01-01T00:00:{self.created_seq:02d}Z",
            "description": self.comments[0].body if self.comments else "",
            **self.fields,
        }


class ZendeskSimulator(Simulator):
    def __init__(self, email: str = "agent@example.com", token: str = "zd-token", oauth: str | None = None):
        super().__init__()
        self.email, self.token, self.oauth = email, token, oauth
        self.tickets: dict[int, Ticket] = {}
        self.idempotency: dict[str, tuple[str, Reply]] = {}  # key -> (body hash, original reply)
        self.idempotent_hits = 0
        self.idempotent_conflicts = 0
        self.lookup_blind = False
        self._lose: list[tuple[Callable[[Recorded], bool], float]] = []
        self._next_id = 1000
        self._next_comment = 1

    def __enter__(self) -> ZendeskSimulator:
        self.start()
        return self

    # -- test helpers ----------------------------------------------------------------------
    def lose_next(self, when: Callable[[Recorded], bool], delay: float = 1.0) -> None:
        """Handle the next request matching ``when`` but answer only after ``delay`` seconds."""
        with self.lock:
            self._lose.append((when, delay))

    def by_external_id(self) -> dict[str, list[Ticket]]:
        out: dict[str, list[Ticket]] = {}
        for t in self.tickets.values():
            out.setdefault(str(t.fields.get("external_id")), []).append(t)
        return out

    # -- protocol ----------------------------------------------------------------------------
    def _authorised(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        if self.oauth is not None and header == f"Bearer {self.oauth}":
            return True
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return header == f"Basic {expected}"

    def handle(self, request: Recorded) -> Reply:
        reply = self._handle(request)
        with self.lock:
            for i, (when, delay) in enumerate(self._lose):
                if when(request):
                    del self._lose[i]
                    reply.delay = delay
                    break
        return reply

    def _handle(self, request: Recorded) -> Reply:
        if not self._authorised(request):
            return Reply.json({"error": "Couldn't authenticate you"}, 401)
        path = re.sub(r"\.json$", "", request.path)
        with self.lock:
            if path == "/api/v2/users/me" and request.method == "GET":
                return Reply.json({"user": {"id": 1, "email": self.email, "role": "agent"}})
            if path == "/api/v2/tickets" and request.method == "GET":
                return self._list(request)
            if path == "/api/v2/tickets" and request.method == "POST":
                return self._create(request)
            m = re.fullmatch(r"/api/v2/tickets/(\d+)(/comments)?", path)
            if m:
                ticket = self.tickets.get(int(m.group(1)))
                if ticket is None:
                    return Reply.json({"error": "RecordNotFound", "description": "Not found"}, 404)
                if m.group(2) and request.method == "GET":
                    return self._comments(request, ticket)
                if not m.group(2) and request.method == "GET":
                    return Reply.json({"ticket": ticket.doc()})
                if not m.group(2) and request.method == "PUT":
                    return self._update(request, ticket)
        return Reply.json({"error": "InvalidEndpoint", "description": "Not found"}, 404)

    def _list(self, request: Recorded) -> Reply:
        ext = request.param("external_id")
        tickets = sorted(self.tickets.values(), key=lambda t: t.id)
        if ext is not None:
            tickets = [] if self.lookup_blind else [t for t in tickets if t.fields.get("external_id") == ext]
        docs = [t.doc() for t in tickets]
        return Reply.json({"tickets": docs, "next_page": None, "previous_page": None, "count": len(docs)})

    @staticmethod
    def _invalid(details: dict[str, str]) -> Reply:
        return Reply.json(
            {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {k: [{"description": v, "error": "InvalidValue"}] for k, v in details.items()},
            },
            422,
        )

    def _validate(self, ticket: dict[str, Any], *, create: bool) -> Reply | None:
        problems: dict[str, str] = {}
        unknown = sorted(set(ticket) - TICKET_KEYS)
        if unknown:
            problems["base"] = f"Unknown attributes: {', '.join(unknown)}"
        if ticket.get("priority") is not None and ticket["priority"] not in PRIORITIES:
            problems["priority"] = f"Priority: {ticket['priority']} is not a valid priority"
        if ticket.get("status") is not None and ticket["status"] not in STATUSES:
            problems["status"] = f"Status: {ticket['status']} is not a valid status"
        if ticket.get("type") is not None and ticket["type"] not in TYPES:
            problems["type"] = f"Type: {ticket['type']} is not a valid type"
        comment = ticket.get("comment")
        if create and not (isinstance(comment, dict) and str(comment.get("body") or "").strip()):
            problems["description"] = "Description: cannot be blank"
        for key in ("tags", "additional_tags", "remove_tags"):
            if key in ticket and not isinstance(ticket[key], list):
                problems[key] = f"{key} must be an array"
        return self._invalid(problems) if problems else None

    def _create(self, request: Recorded) -> Reply:
        key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(request.body).hexdigest()
        if key and key in self.idempotency:
            stored_digest, original = self.idempotency[key]
            if stored_digest != digest:
                self.idempotent_conflicts += 1
                return Reply.json(
                    {
                        "error": "IdempotentRequestError",
                        "description": "The request parameters do not match the original request",
                    },
                    400,
                )
            self.idempotent_hits += 1
            return Reply(original.status, original.body, {**original.headers, "x-idempotency-lookup": "hit"})
        ticket = (request.json() or {}).get("ticket")
        if not isinstance(ticket, dict):
            return Reply.json({"error": "InvalidParameter", "description": "ticket is required"}, 400)
        invalid = self._validate(ticket, create=True)
        if invalid is not None:
            return invalid
        self._next_id += 1
        fields = {k: v for k, v in ticket.items() if k not in ("comment", "requester")}
        fields.setdefault("status", "new")
        fields.setdefault("priority", None)
        if isinstance(ticket.get("requester"), dict):
            fields["requester"] = dict(ticket["requester"])
        new = Ticket(self._next_id, fields, created_seq=len(self.tickets))
        new.comments.append(self._comment(ticket["comment"]))
        self.tickets[new.id] = new
        reply = Reply.json({"ticket": new.doc()}, 201, {"Location": f"/api/v2/tickets/{new.id}.json"})
        if key:
            self.idempotency[key] = (digest, reply)
            reply = Reply(reply.status, reply.body, {**reply.headers, "x-idempotency-lookup": "miss"})
        return reply

    def _comment(self, data: dict[str, Any]) -> Comment:
        c = Comment(str(data.get("body") or ""), bool(data.get("public", True)), self._next_comment)
        self._next_comment += 1
        return c

    def _update(self, request: Recorded, ticket: Ticket) -> Reply:
        data = (request.json() or {}).get("ticket")
        if not isinstance(data, dict):
            return Reply.json({"error": "InvalidParameter", "description": "ticket is required"}, 400)
        invalid = self._validate(data, create=False)
        if invalid is not None:
            return invalid
        if ticket.fields.get("status") == "closed":
            return self._invalid({"status": "Status: closed prevents ticket update"})
        if data.get("status") == "new" and ticket.fields.get("status") != "new":
            return self._invalid({"status": "Status: cannot be set back to new"})
        tags = list(ticket.fields.get("tags") or [])
        for key, value in data.items():
            if key == "comment":
                ticket.comments.append(self._comment(value))
            elif key == "additional_tags":
                tags += [t for t in value if t not in tags]
            elif key == "remove_tags":
                tags = [t for t in tags if t not in value]
            elif key == "tags":
                tags = list(value)
            else:
                ticket.fields[key] = value
        ticket.fields["tags"] = tags
        return Reply.json({"ticket": ticket.doc(), "audit": {"events": []}})

    @staticmethod
    def _comments(request: Recorded, ticket: Ticket) -> Reply:
        comments = [
            {"id": c.id, "type": "Comment", "body": c.body, "plain_body": c.body, "public": c.public}
            for c in ticket.comments
        ]
        if request.param("sort_order") == "desc":
            comments.reverse()
        return Reply.json(
            {"comments": comments, "next_page": None, "previous_page": None, "count": len(comments)}
        )
