"""Person names as weak evidence: a lookup key and a compatibility test.

Names never link identities (two people share names), but the same name on
two channels within hours, about the same thing, is how an agent recognises
one person writing an e-mail and then posting (``Rachel Kim`` / ``Rachel Kim``,
``Nathan Brooks`` / ``Nate Brooks``, ``王丽娜`` / ``王麗娜``).
"""

from __future__ import annotations

import re

from hub.understand.textutil import to_simplified

__all__ = ["name_key", "names_compatible"]

_HAN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[a-z]+")


def _parts(name: str) -> tuple[str, list[str]]:
    han = "".join(_HAN.findall(to_simplified(name)))
    return han, _LATIN.findall(name.lower())


def name_key(name: str | None) -> str | None:
    """Index key of a person's name: the Chinese name, or the family name of a two-part Latin name."""
    if not name:
        return None
    han, latin = _parts(name)
    if 2 <= len(han) <= 4:
        return f"zh:{han}"
    if len(latin) >= 2 and len(latin[-1]) >= 2:
        return f"en:{latin[-1]}"
    return None


def names_compatible(a: str | None, b: str | None) -> bool:
    """Same key, and (for Latin names) given names that agree: equal, an initial, or a short form."""
    key = name_key(a)
    if key is None or key != name_key(b):
        return False
    if key.startswith("zh:"):
        return True
    first_a, first_b = _parts(a or "")[1][0], _parts(b or "")[1][0]
    if first_a == first_b:
        return True
    short, long_ = sorted((first_a, first_b), key=len)
    if len(short) == 1:
        return long_.startswith(short)
    return len(short) >= 3 and short[:3] == long_[:3]
