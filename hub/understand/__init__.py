"""Read a message like an experienced support agent.

:func:`enrich` runs, in order: voicemail transcript normalisation (``asr``), language
(``lang``), customer identities (``identity``), order and tracking numbers
(``extract``), non-complaint detection (``noise``) and category / severity
(``classify``, lexicons in ``mappings/taxonomy.yaml``). Each step is total: a
failure is recorded in ``msg.extra["understand_errors"]`` and the others still run.
Only a :class:`~hub.errors.ConfigError` (a malformed ``taxonomy.yaml``) is raised: it
is the installation, not the message, that is wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.errors import ConfigError
from hub.models import ComplaintMessage
from hub.understand.asr import normalise_message
from hub.understand.classify import classify_message
from hub.understand.extract import extract_message
from hub.understand.identity import read_identities
from hub.understand.lang import set_language
from hub.understand.noise import judge_message
from hub.understand.settings import UnderstandSettings, mappings_dir

__all__ = ["UnderstandSettings", "enrich", "mappings_dir"]

log = logging.getLogger(__name__)


def enrich(msg: ComplaintMessage, settings: UnderstandSettings | None = None) -> ComplaintMessage:
    """Add what the text says to ``msg`` (mutated and returned). Never raises on odd text.

    Raises:
        ConfigError: the taxonomy file is missing or malformed (names the file and the key).
    """
    settings = settings or UnderstandSettings()
    steps: list[tuple[str, Callable[[], object]]] = [
        ("asr", lambda: normalise_message(msg)),
        ("lang", lambda: set_language(msg)),
        ("identity", lambda: read_identities(msg, settings)),
        ("extract", lambda: extract_message(msg, settings)),
        ("noise", lambda: judge_message(msg, settings)),
        ("classify", lambda: classify_message(msg, settings)),
    ]
    for name, step in steps:
        try:
            step()
        except ConfigError:
            raise  # the installation is wrong (e.g. a malformed taxonomy.yaml), not this message
        except Exception as exc:  # one bad step must not lose the message
            log.warning("understand step %s failed on %s/%s: %s", name, msg.connector, msg.native_id, exc)
            errors = msg.extra.setdefault("understand_errors", [])
            if isinstance(errors, list):
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return msg
