"""Small helpers the core offers to connectors.

Connectors never import each other; what two of them need (decoding a
captured JSON body with a readable :class:`~hub.errors.ParseError`, reading
timestamps, turning HTML into text, loading a section of a mapping file under
``mappings/``) lives here as plain functions.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, overload
from urllib.parse import parse_qsl

import yaml
from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from hub.errors import ConfigError, ConnectorError, ParseError
from hub.models import CourierStatus

__all__ = [
    "CHINA_TZ",
    "CourierTable",
    "HighWaterMark",
    "as_text",
    "courier_status",
    "courier_table",
    "courier_tables",
    "decode_json",
    "decode_json_or_form",
    "form_fields",
    "html_to_text",
    "json_bytes",
    "load_mapping_section",
    "mappings_dir",
    "optional_timestamp",
    "parse_epoch",
    "parse_errors",
    "parse_timestamp",
    "require_mapping",
    "strip_leading_mentions",
    "unescape_entities",
    "validate_courier_tables",
    "webhook_instance",
]

#: China Standard Time (Asia/Shanghai has had no DST since 1991): a fixed +08:00.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_UNSET: Any = object()


# ---------------------------------------------------------------- JSON / form bodies


def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text: undecodable byte at offset {exc.start}") from None


def decode_json(data: bytes) -> Any:
    """Decode a JSON document, raising :class:`ParseError` with a readable reason.

    Reasons look like ``"empty file"``, ``"truncated JSON at line 3 column 5"`` or
    ``"invalid JSON at line 1 column 9: Expecting value"``.
    """
    text = _decode_utf8(data)
    if not text.strip():
        raise ParseError("empty file")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ParseError("invalid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        end = len(text.rstrip())
        tail = text[exc.pos : end]
        truncated = (
            exc.pos >= end
            or exc.msg.startswith("Unterminated string")
            or any(word.startswith(tail) for word in ("true", "false", "null"))
        )
        if truncated:
            lines = text[:end].split("\n")
            raise ParseError(f"truncated JSON at line {len(lines)} column {len(lines[-1]) + 1}") from None
        raise ParseError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            return _without_lone_surrogates(value)
        except RecursionError:
            raise ParseError("invalid JSON: nested too deeply") from None
    return value


#: a ``\uD800``-``\uDFFF`` escape: JSON allows it, but a lone one is no text (UTF-8 cannot hold it)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (and keys) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def decode_json_or_form(data: bytes, *, json_field: str | None = None) -> Any:
    """Decode a body that is JSON, or an ``application/x-www-form-urlencoded`` form.

    A form becomes a ``dict`` of its fields; with ``json_field`` (e.g. Kuaidi100's
    ``param``) that field's value is decoded as JSON and returned instead.
    """
    text = _decode_utf8(data).strip()
    if not text or text[0] in '{["' or "=" not in text.split("&", 1)[0]:
        return decode_json(data)
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if json_field is None:
        return fields
    if json_field not in fields:
        raise ParseError(f"form body without a {json_field!r} field")
    return decode_json(fields[json_field].encode("utf-8"))


def require_mapping(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else raise ``ParseError`` naming ``what``."""
    if not isinstance(value, dict):
        raise ParseError(f"{what}: expected a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)


def json_bytes(value: Any) -> bytes:
    """Deterministic compact UTF-8 JSON, for payloads a connector builds itself."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def as_text(value: Any) -> str | None:
    """A stripped string, or ``None`` for null / empty / non-scalar values."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value).strip()
    return text or None


@contextmanager
def parse_errors(what: str) -> Iterator[None]:
    """Turn any unexpected exception inside the block into a ``ParseError`` naming ``what``.

    Keeps ``parse`` hooks to their contract (only ``ParseError`` escapes) while
    the message still says what went wrong.
    """
    try:
        yield
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"{what}: unexpected {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------- timestamps


def parse_timestamp(value: Any, *, field: str, naive_tz: timezone = UTC) -> datetime:
    """Parse an ISO-8601 (or ``YYYY-MM-DD HH:MM:SS``) time into an aware UTC datetime.

    A time without offset is taken in ``naive_tz`` (e.g. :data:`CHINA_TZ` for
    Kuaidi100). Raises ``ParseError`` naming ``field`` when unreadable.
    """
    if not isinstance(value, str) or not value.strip():
        raise ParseError(f"{field}: missing or not a time string ({value!r})")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"{field}: unreadable time {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before the first representable UTC time
        raise ParseError(f"{field}: time out of range {value!r}") from None


def optional_timestamp(value: Any, *, field: str, naive_tz: timezone = UTC) -> datetime | None:
    """Like :func:`parse_timestamp`, but ``None`` when the value is absent or empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_timestamp(value, field=field, naive_tz=naive_tz)


def parse_epoch(value: Any, *, field: str) -> datetime:
    """Seconds since the epoch (int, float or numeric string) as an aware UTC datetime."""
    if isinstance(value, bool):
        raise ParseError(f"{field}: not an epoch time ({value!r})")
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParseError(f"{field}: not an epoch time ({value!r})") from None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, beyond year 9999
        raise ParseError(f"{field}: epoch time out of range ({value!r})") from None


# ---------------------------------------------------------------- text

_DROP_TAGS = ("script", "style", "template", "noscript", "iframe", "object", "embed", "head", "title")
_BLOCK_TAGS = (
    "p", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "tr", "section", "article", "header", "footer",
)  # fmt: skip
_PARAGRAPH_MARK = "\u2029"  # stand-in for a paragraph break while whitespace is collapsed


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: no tags, no script/style content, entities decoded.

    Paragraph-like blocks are separated by a blank line, ``<br>`` becomes a line
    break, and runs of spaces collapse to one.
    """
    if not markup or not markup.strip():
        return ""
    soup = BeautifulSoup(markup, "html.parser")
    for node in soup.find_all(_DROP_TAGS):
        node.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for br in soup.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for block in soup.find_all(_BLOCK_TAGS):
        if isinstance(block, Tag):
            block.insert_before(NavigableString(_PARAGRAPH_MARK))
            block.insert_after(NavigableString(_PARAGRAPH_MARK))
    text = soup.get_text()
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    paragraphs = []
    for para in text.split(_PARAGRAPH_MARK):
        lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in para.split("\n")]
        para_text = "\n".join(lines).strip("\n")
        if para_text.strip():
            paragraphs.append(para_text)
    return "\n\n".join(paragraphs)


_LEADING_MENTIONS = re.compile(
    r"^(?:\s*@[A-Za-z0-9_]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?(?![A-Za-z0-9_@'’.-])[\s,:;，：、]*)+"
)


def strip_leading_mentions(text: str) -> str:
    """Drop the ``@name`` / ``@name@host`` mentions a post starts with (the addressees).

    Mentions later in the text are kept; text that is only mentions is kept as is.
    """
    match = _LEADING_MENTIONS.match(text)
    if not match:
        return text
    rest = text[match.end() :]
    return rest if rest.strip() else text


def unescape_entities(text: str) -> str:
    """Decode HTML character references (X escapes ``&``, ``<`` and ``>`` in tweet text)."""
    return html_lib.unescape(text)


# ---------------------------------------------------------------- mapping files


def mappings_dir() -> Path:
    """The folder of mapping files: ``$HUB_MAPPINGS_DIR``, else ``<repo>/mappings``."""
    override = os.environ.get("HUB_MAPPINGS_DIR")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[1] / "mappings"


def _read_mapping_file(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"mapping file not found: {path} (set HUB_MAPPINGS_DIR?)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read mapping file {path}: {exc}") from None


def load_mapping_section(filename: str, section: str) -> dict[str, Any]:
    """Load one top-level section of a YAML file under :func:`mappings_dir`.

    Raises :class:`~hub.errors.ConfigError` (not ``ParseError``: it is the
    installation, not an item, that is wrong) if the file or section is missing,
    or if the file breaks its own rules (``couriers.yaml`` is validated whole:
    see :func:`validate_courier_tables`).
    """
    path = mappings_dir() / filename
    document = _read_mapping_file(path)
    validate = _VALIDATORS.get(filename)
    if validate is not None:
        validate(document, path)
    if not isinstance(document, Mapping) or not isinstance(document.get(section), Mapping):
        raise ConfigError(f"mapping file {path} has no {section!r} section")
    return dict(document[section])


# ---------------------------------------------------------------- courier status tables

#: tables of a provider section in ``couriers.yaml`` mapping provider codes to a CourierStatus
COURIER_MAIN_TABLES = ("statuses", "tags", "states")
#: sub-status tables, consulted before the main table
COURIER_SUB_TABLES = ("sub_statuses", "subtags")
#: tables mapping codes to labels, not statuses (Kuaidi100 company codes)
COURIER_LABEL_TABLES = ("companies",)
_COURIER_TABLES = COURIER_MAIN_TABLES + COURIER_SUB_TABLES + COURIER_LABEL_TABLES
_KUAIDI100_SUBSTATE = re.compile(r"[1-9]\d\d")


@dataclass(frozen=True)
class CourierTable:
    """One provider's status tables from ``couriers.yaml``, validated."""

    provider: str
    main: dict[str, CourierStatus] = field(default_factory=dict)
    sub: dict[str, CourierStatus] = field(default_factory=dict)
    #: the provider's own words for a code, where the table gives them (``{status, name}`` entries)
    names: dict[str, str] = field(default_factory=dict)

    def status(self, code: str | None, sub: str | None = None) -> CourierStatus:
        """Sub-status first, then the status, then the parent of an unlisted code, else ``unknown``.

        The parent of ``Exception_Foo`` (17TRACK) is ``Exception``; of a three-digit
        Kuaidi100 sub-state (``209``) its first digit (``2``). Matching is exact first,
        then case-insensitive.
        """
        sub_key, code_key = _code(sub), _code(code)
        candidates: list[tuple[dict[str, CourierStatus], str]] = []
        if sub_key:
            candidates += [(self.sub, sub_key), (self.main, sub_key)]
        if code_key:
            candidates.append((self.main, code_key))
        for key in (sub_key, code_key):
            parent = _parent_code(key)
            if parent:
                candidates.append((self.main, parent))
        for table, key in candidates:
            found = _find(table, key)
            if found is not None:
                return found
        return CourierStatus.unknown


def _code(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _parent_code(code: str | None) -> str | None:
    """``Exception_Lost`` → ``Exception``; a Kuaidi100 sub-state ``209`` → ``2``."""
    if not code:
        return None
    if "_" in code:
        return code.split("_", 1)[0]
    return code[0] if _KUAIDI100_SUBSTATE.fullmatch(code) else None


def _find(table: dict[str, CourierStatus], key: str) -> CourierStatus | None:
    if key in table:
        return table[key]
    folded = key.casefold()
    return next((status for code, status in table.items() if code.casefold() == folded), None)


def _yaml_type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def validate_courier_tables(document: Any, path: Path | str) -> dict[str, CourierTable]:
    """Check a whole ``couriers.yaml`` document and return its tables by provider.

    Every provider section is a mapping of tables (:data:`COURIER_MAIN_TABLES`,
    :data:`COURIER_SUB_TABLES`, :data:`COURIER_LABEL_TABLES`); a status table maps each
    code to a :class:`~hub.models.CourierStatus` name, or to ``{status: ..., name: ...}``.
    Raises :class:`~hub.errors.ConfigError` naming the file, the key path and the problem
    (a bad status value is shown with the valid choices).
    """
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"{path}: expected a mapping of courier provider sections, found {_yaml_type(document)}"
        )
    tables: dict[str, CourierTable] = {}
    for provider, section in document.items():
        name = str(provider)
        if not isinstance(section, Mapping):
            raise ConfigError(f"{path}: {name}: expected a mapping of tables, found {_yaml_type(section)}")
        table = CourierTable(provider=name)
        for table_name, entries in section.items():
            where = f"{path}: {name}.{table_name}"
            if table_name not in _COURIER_TABLES:
                raise ConfigError(f"{where}: unknown table (valid: {', '.join(_COURIER_TABLES)})")
            if not isinstance(entries, Mapping):
                raise ConfigError(
                    f"{where}: expected a mapping of provider code to value, found {_yaml_type(entries)}"
                )
            if table_name in COURIER_LABEL_TABLES:
                for code, label in entries.items():
                    if not isinstance(label, str | int) or isinstance(label, bool):
                        raise ConfigError(f"{where}.{code}: expected a label, found {_yaml_type(label)}")
                continue
            target = table.main if table_name in COURIER_MAIN_TABLES else table.sub
            for code, entry in entries.items():
                key = f"{where}.{code}"
                if isinstance(entry, Mapping):
                    if "status" not in entry:
                        raise ConfigError(f"{key}: a {{status, name}} entry without 'status'")
                    label = as_text(entry.get("name"))
                    if label:
                        table.names[str(code)] = label
                    entry, key = entry["status"], f"{key}.status"
                target[str(code)] = courier_status(entry, where=key)
        tables[name] = table
    return tables


_VALIDATORS: dict[str, Callable[[Any, Path], object]] = {"couriers.yaml": validate_courier_tables}


@lru_cache(maxsize=16)
def _courier_tables(path: str, stamp: tuple[int, int]) -> dict[str, CourierTable]:
    return validate_courier_tables(_read_mapping_file(Path(path)), path)


def courier_tables() -> dict[str, CourierTable]:
    """Every provider's tables from ``<mappings>/couriers.yaml`` (validated; cached until it changes)."""
    path = mappings_dir() / "couriers.yaml"
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(f"mapping file not found: {path} (set HUB_MAPPINGS_DIR?)") from None
    return _courier_tables(str(path), (stat.st_mtime_ns, stat.st_size))


def courier_table(provider: str) -> CourierTable:
    """One provider's tables, or ``ConfigError`` naming the file and the providers it has."""
    tables = courier_tables()
    if provider not in tables:
        path = mappings_dir() / "couriers.yaml"
        raise ConfigError(f"{path}: no {provider!r} section (has: {', '.join(tables) or 'none'})")
    return tables[provider]


@overload
def courier_status(value: Any, /, *, where: str) -> CourierStatus: ...
@overload
def courier_status(provider: str, code: str | None, /, sub: str | None = None) -> CourierStatus: ...
def courier_status(
    first: Any, code: Any = _UNSET, /, sub: str | None = None, *, where: str | None = None
) -> CourierStatus:
    """A courier status, two ways.

    ``courier_status("17track", "Exception", "Exception_Lost")`` looks a provider's code
    (and sub-status) up in ``couriers.yaml``: e.g. ``("easypost", "return_to_sender")``,
    ``("aftership", "Exception", "Exception_011")``, ``("kuaidi100", "14")``. An unlisted
    code gives ``CourierStatus.unknown``; a missing provider section, ``ConfigError``.

    ``courier_status(value, where="couriers.yaml aftership.tags.Delivered")`` checks one
    mapping-file value, raising ``ConfigError`` with the valid choices if it is not one.
    """
    if code is _UNSET:
        try:
            return CourierStatus(str(first))
        except ValueError:
            allowed = ", ".join(s.value for s in CourierStatus)
            raise ConfigError(f"{where}: {first!r} is not a courier status (valid: {allowed})") from None
    return courier_table(str(first)).status(code, sub)


# ---------------------------------------------------------------- live sources


@dataclass(frozen=True)
class HighWaterMark:
    """A time cursor for APIs whose time filter is inclusive or coarser than their timestamps.

    ``at`` is the newest item time processed; ``ids`` the items processed at exactly
    that time. An item is new when it is later than ``at``, or at ``at`` but not in
    ``ids``: so an inclusive (``>=``) or day-granular server-side filter can be
    narrowed precisely on the client, and items sharing a timestamp are neither
    lost nor read twice. Saved as a small JSON object.
    """

    at: datetime | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def load(cls, value: str | None, *, what: str = "cursor") -> HighWaterMark:
        """Read a saved value (empty = start from the beginning); ``ConnectorError`` if unreadable."""
        if not value:
            return cls()
        try:
            data = json.loads(value)
            at = datetime.fromisoformat(data["at"]) if data.get("at") else None
            ids = frozenset(str(i) for i in data.get("ids") or ())
        except (ValueError, TypeError, KeyError, AttributeError):
            msg = f"{what}: unreadable saved cursor {value[:80]!r}; reset the instance's cursor to re-read"
            raise ConnectorError(msg) from None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return cls(at, ids)

    def dump(self) -> str:
        at = self.at.astimezone(UTC).isoformat() if self.at else None
        return json.dumps({"at": at, "ids": sorted(self.ids)}, separators=(",", ":"))

    def is_new(self, when: datetime, item_id: str) -> bool:
        return self.at is None or when > self.at or (when == self.at and item_id not in self.ids)

    def advance(self, when: datetime, item_id: str) -> HighWaterMark:
        """The mark after processing ``item_id`` at ``when`` (items must come in time order)."""
        if self.at is None or when > self.at:
            return HighWaterMark(when, frozenset({item_id}))
        if when == self.at:
            return HighWaterMark(self.at, self.ids | {item_id})
        return self


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """The fields of an ``application/x-www-form-urlencoded`` body, in order, repeats kept."""
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def webhook_instance(request: Any) -> str:
    """The connector instance a webhook delivery was addressed to (``WebhookRequest.instance`` if set)."""
    return str(request.instance or "webhook")
