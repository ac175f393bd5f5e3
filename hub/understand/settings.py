"""Settings of the understanding step and where its data files live."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["UnderstandSettings", "mappings_dir"]


def mappings_dir() -> Path:
    """The ``mappings/`` folder: ``$HUB_MAPPINGS_DIR`` if set, else the repository's own."""
    env = os.environ.get("HUB_MAPPINGS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "mappings"


class UnderstandSettings(BaseModel):
    """How :func:`hub.understand.enrich` reads a message.

    ``order_patterns`` / ``tracking_patterns`` are regular expressions (case-insensitive)
    whose whole match, upper-cased and without spaces, is the canonical number; they
    replace the built-in shapes when given. The ``*_context`` lists add words to the
    built-in context lexicons used to accept bare digit runs and to reject decoys.
    """

    default_region: str = "CN"
    #: the shop's own mailboxes, handles and phone numbers: never a customer identity
    own_addresses: list[str] = Field(default_factory=list)
    #: extra regions tried for phone numbers, by detected language
    language_regions: dict[str, list[str]] = Field(
        default_factory=lambda: {"zh-Hant": ["TW", "HK", "MO"], "en": ["US", "GB", "CA", "AU"]}
    )
    order_patterns: list[str] | None = None
    tracking_patterns: list[str] | None = None
    order_context: list[str] = Field(default_factory=list)
    tracking_context: list[str] = Field(default_factory=list)
    decoy_context: list[str] = Field(default_factory=list)
    #: taxonomy file; default ``<mappings>/taxonomy.yaml``
    taxonomy_path: Path | None = None

    def taxonomy_file(self) -> Path:
        return self.taxonomy_path or mappings_dir() / "taxonomy.yaml"
