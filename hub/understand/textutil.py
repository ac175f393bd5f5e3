"""Small text helpers shared by the understanding modules."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from opencc import OpenCC

__all__ = [
    "EMAIL_RE",
    "HAN_RE",
    "MAX_CHARS",
    "URL_RE",
    "mask",
    "to_simplified",
    "to_traditional",
]

#: only this much of a text is read (a huge body must not stall the pipeline)
MAX_CHARS = 20_000
#: CJK unified ideographs (basic block + extension A + compatibility)
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-@])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
)
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'，。！？、）)]+", re.IGNORECASE)


@cache
def _converter(config: str) -> OpenCC:
    return OpenCC(config)


@lru_cache(maxsize=512)
def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (other characters unchanged)."""
    return _converter("t2s").convert(text) if text else text


@lru_cache(maxsize=512)
def to_traditional(text: str) -> str:
    """Simplified → Traditional Chinese (other characters unchanged)."""
    return _converter("s2t").convert(text) if text else text


def mask(text: str, pattern: re.Pattern[str], fill: str = " ") -> str:
    """Replace each match of ``pattern`` by ``fill`` repeated (keeps offsets stable)."""
    return pattern.sub(lambda m: fill * len(m.group(0)), text)
