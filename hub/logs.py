"""Structured logs: JSON lines with a request/task id, and personal data masked in every line.

:func:`configure_logging` routes structlog *and* the standard library's logging
(the hub's own ``logging.getLogger`` loggers, Celery, uvicorn, every third-party
library) through one handler on the root logger that renders JSON lines (when
the stream is not a terminal) or readable lines (on a terminal). Every line
carries the context bound with :func:`log_context` (``request_id``,
``task_id``, ``instance`` ...), which lives in contextvars, so it follows
threads' and tasks' own work.

Masking happens twice, so nothing escapes:

- a structlog processor masks every value of the event (recursively), and
  values of *known name fields* (``customer_name``, ``display_name`` ...) as
  names; keys that look like secrets (``password``, ``token`` ...) become ``***``;
- :class:`PersonalDataFilter`, a :class:`logging.Filter` on the handler, masks
  records of any logger that reach it (message, arguments, exception text,
  extra attributes), also usable on handlers of one's own.

What is masked (:func:`mask_text`): secrets registered with
:func:`register_secrets` (``hub.config`` registers every ``${VAR}``/``${file:}``
secret it substitutes) and ``Bearer``/URL credentials -> ``***``; e-mail
addresses -> ``l***@163.com``; phone numbers in E.164 and national forms,
spaced or not (``+86 138 1234 4590`` -> ``+86138****4590``, ``(212) 555-0199``,
``0571-8671 2209``, ``138-1234-4590``), and any digit run a word like "call me at" or
"電話" announces; runs of seven or more spoken digits
(``nine two nine five ...``, ``幺三八一二...``) -> ``***``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, MutableMapping
from typing import IO, Any

__all__ = [
    "NAME_FIELDS",
    "PersonalDataFilter",
    "bind_celery_task_ids",
    "configure_logging",
    "get_logger",
    "log_context",
    "mask_name",
    "mask_text",
    "mask_value",
    "new_id",
    "register_secrets",
    "request_id_middleware",
]

#: event keys whose values are people's names (masked as ``W*** L***``)
NAME_FIELDS = frozenset(
    {
        "customer_name",
        "display_name",
        "sender_name",
        "from_name",
        "full_name",
        "contact_name",
        "author_name",
        "caller_name",
        "person",
    }
)
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api_?key|auth(orization)?|credential|salt|cookie)$", re.IGNORECASE
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never appear in a log line (masked as ``***``); short ones (< 4) are ignored."""
    global _secret_pattern
    new = {v for v in values if isinstance(v, str) and len(v) >= 4}
    with _secrets_lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


# --- masking ----------------------------------------------------------------------------------

_BEARER = re.compile(r"(?i)\b(bearer|basic|token)(\s+|=)[A-Za-z0-9._~+/=-]{8,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9_%+-])[A-Za-z0-9._%+-]*(@|%40)((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?![A-Za-z0-9-])"
)
_SEP = r"[ \t.\-\u00a0]"
_PHONE_FORMS = [
    # international: +<country> and 7-14 more digits, optionally spaced, dashed, parenthesised
    rf"\+\d{{1,3}}(?:{_SEP}?\(?\d{{1,5}}\)?){{1,6}}",
    # Chinese mobile: 1[3-9]x xxxx xxxx
    rf"1[3-9]\d{_SEP}?\d{{4}}{_SEP}?\d{{4}}",
    # a national number with a trunk 0: 0571-8671 2209, 07700 900123, 0912-345-678
    rf"\(?0\d{{1,4}}\)?{_SEP}?\d{{2,4}}{_SEP}?\d{{3,4}}(?:{_SEP}?\d{{3,4}})?",
    # North America: (212) 555-0199, 206-555-0187, 206.555.0187
    rf"\(?[2-9]\d{{2}}\)?{_SEP}{{1,2}}\d{{3}}{_SEP}\d{{4}}",
]
# not a piece of a longer number, date, IP address or identifier
_PHONE = re.compile(
    r"(?<![A-Za-z0-9_+])(?<!\d[.\-/:])(?:" + "|".join(_PHONE_FORMS) + r")(?![A-Za-z0-9_])(?![.\-/:]\d)"
)
#: a digit run right after a word that announces a phone number ("call me back at 9295550173", "電話係91234567")
_PHONE_CONTEXT = re.compile(
    r"(?i)(?:phone|tel|mobile|cell|call(?:\s+me)?(?:\s+back)?|whats\s?app|sms|text\s+me|reach\s+me"
    r"|电话|電話|手机|手機|联系|聯絡|聯繫|号码|號碼|致电|致電|打给|打給|回电|回電|热线|熱線)"
    r"([^\d\n]{0,12}?)(?<![A-Za-z0-9])(\+?\d[\d \-]{4,18}\d)(?![A-Za-z0-9])"
)
_EN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_SPOKEN_EN = re.compile(rf"(?i)\b{_EN_DIGIT}(?:[\s,.-]+{_EN_DIGIT}){{6,}}\b")
_SPOKEN_ZH = re.compile(
    r"[零〇一二三四五六七八九幺两洞][零〇一二三四五六七八九幺两洞\s,，、-]{5,}[零〇一二三四五六七八九幺两洞]"
)
_ZH_DIGITS = set("零〇一二三四五六七八九幺两洞")


def _mask_phone(m: re.Match[str]) -> str:
    text = m.group(0)
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return text
    plus = "+" if text.startswith("+") else ""
    if len(digits) < 9:
        return plus + "*" * (len(digits) - 4) + digits[-4:]
    return f"{plus}{digits[:-8]}****{digits[-4:]}"


def _mask_phone_in_context(m: re.Match[str]) -> str:
    number = m.group(2)
    digits = re.sub(r"\D", "", number)
    if not 6 <= len(digits) <= 15:
        return m.group(0)
    masked = ("+" if number.startswith("+") else "") + "*" * (len(digits) - 4) + digits[-4:]
    if len(digits) >= 9:
        masked = f"{'+' if number.startswith('+') else ''}{digits[:-8]}****{digits[-4:]}"
    return m.group(0)[: m.start(2) - m.start(0)] + masked


def _mask_spoken_zh(m: re.Match[str]) -> str:
    return "***" if sum(ch in _ZH_DIGITS for ch in m.group(0)) >= 7 else m.group(0)


def mask_text(text: str) -> str:
    """``text`` with secrets, credentials, e-mail addresses, phone numbers and spoken digit runs masked."""
    if not text:
        return text
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub("***", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}***@", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}{m.group(3)}", text)
    text = _PHONE.sub(_mask_phone, text)
    text = _PHONE_CONTEXT.sub(_mask_phone_in_context, text)
    text = _SPOKEN_EN.sub("***", text)
    return _SPOKEN_ZH.sub(_mask_spoken_zh, text)


def mask_name(name: str) -> str:
    """A person's name as ``W*** L***`` (``王**`` for a Chinese name)."""
    words = str(name).split()
    if not words:
        return name
    out = []
    for word in words:
        star = "**" if any("\u4e00" <= ch <= "\u9fff" for ch in word) else "***"
        out.append(word[0] + star)
    return " ".join(out)


def mask_value(value: Any, key: str = "", names: frozenset[str] = NAME_FIELDS) -> Any:
    """``value`` masked (strings, and strings inside dicts, lists and tuples)."""
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key) and value:
            return "***"
        if key in names:
            return mask_name(value)
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v, str(k), names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v, key, names) for v in value)
    if isinstance(value, bytes):
        return mask_text(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_text(str(value))


class _Masker:
    """The structlog processor: every value of the event masked."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event):
            if key.startswith("_"):
                continue
            event[key] = mask_value(event[key], key, self.names)
        return event


_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class PersonalDataFilter(logging.Filter):
    """Masks a stdlib log record in place (message with its arguments, exception, extra attributes)."""

    def __init__(self, names: Iterable[str] = NAME_FIELDS) -> None:
        super().__init__()
        self.names = frozenset(names)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):  # a structlog event: its processor masks it
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                setattr(record, key, mask_value(value, key, self.names))
        return True


# --- context ----------------------------------------------------------------------------------


def new_id() -> str:
    """A short random id for a request or task."""
    return uuid.uuid4().hex[:16]


@contextlib.contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Bind ``request_id``/``task_id``/``instance``... to every log line written inside the block."""
    import structlog

    with structlog.contextvars.bound_contextvars(**values):
        yield


def get_logger(name: str | None = None) -> Any:
    """A structlog logger (``log.info("polled", instance=..., items=3)``)."""
    import structlog

    return structlog.get_logger(name)


async def request_id_middleware(request: Any, call_next: Any) -> Any:
    """FastAPI/Starlette ``http`` middleware: a ``request_id`` (the caller's ``X-Request-Id`` or a new
    one) on every log line of the request, and echoed in the response header."""
    import structlog

    rid = request.headers.get("x-request-id") or new_id()
    rid = re.sub(r"[^A-Za-z0-9._-]", "", rid)[:64] or new_id()
    with structlog.contextvars.bound_contextvars(request_id=rid):
        response = await call_next(request)
    response.headers["X-Request-Id"] = rid
    return response


def bind_celery_task_ids() -> None:
    """Connect Celery's signals so each task's log lines carry ``task_id`` and ``task``."""
    import structlog
    from celery import signals

    def bind(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))

    def unbind(**_: Any) -> None:
        structlog.contextvars.unbind_contextvars("task_id", "task")

    signals.task_prerun.connect(bind, weak=False)
    signals.task_postrun.connect(unbind, weak=False)


# --- set-up -----------------------------------------------------------------------------------


class _HubHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """The handler :func:`configure_logging` installs (replaced when called again)."""


def configure_logging(
    json: bool | None = None,
    level: str | int = "INFO",
    *,
    stream: IO[str] | None = None,
    name_fields: Iterable[str] = (),
) -> logging.Handler:
    """Send every log line (structlog and stdlib) to ``stream`` (default stderr), masked.

    Args:
        json: JSON lines; None = JSON unless ``stream`` is a terminal.
        level: the root level (``DEBUG``, ``INFO`` ...).
        name_fields: more event keys whose values are names (beside :data:`NAME_FIELDS`).

    Returns:
        The installed handler (calling again replaces it).
    """
    import structlog

    stream = stream if stream is not None else sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    names = NAME_FIELDS | frozenset(name_fields)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _Masker(names),
            renderer,
        ],
    )
    handler = _HubHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(PersonalDataFilter(names))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HubHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _Masker(names),  # masked before any handler sees the event (pytest's, a library's ...)
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    _mask_new_records(PersonalDataFilter(names))
    logging.captureWarnings(True)
    return handler


def _mask_new_records(masker: PersonalDataFilter) -> None:
    """Mask every stdlib record where it is made, so that every handler (not only ours) gets it masked."""
    current = logging.getLogRecordFactory()
    base = getattr(current, "_hub_base", current)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        masker.filter(record)
        return record

    factory._hub_base = base  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
