"""Load ``mappings/taxonomy.yaml`` and match its lexicons against text.

Chinese terms are matched on the text converted to Simplified (so Traditional and
Cantonese text match the same list); English terms on word boundaries, with simple
inflections. See the header of ``taxonomy.yaml`` for the format. The file is validated
when it is loaded: anything malformed is a :class:`~hub.errors.ConfigError` naming the
file, the key path and the problem.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import yaml

from hub.errors import ConfigError
from hub.models import Category, Channel
from hub.understand.textutil import MAX_CHARS, to_simplified

__all__ = ["Hit", "Lexicon", "Taxonomy", "TextView", "load_taxonomy"]

_EN_SUFFIX = r"(?:s|es|ed|d|ing|'s)?"
_ZH_CLAUSE = re.compile(r"[\s，,。.！!？?；;：:、\n]")
_EN_CLAUSE = re.compile(r"[,.;:!?\n]")
_ZH_FILLER = re.compile(r"(?:任何|什么|出现|发生|过|个|一点|半点|明显)+$")


@dataclass(frozen=True)
class TextView:
    """One text, prepared for matching: Simplified lower-case (zh) and lower-case (en)."""

    zh: str
    en: str

    @classmethod
    def of(cls, text: str) -> TextView:
        low = (text or "")[:MAX_CHARS].lower()
        # OpenCC keeps 帳 as 帐; the lexicon writes the modern 账 (账号, 到账)
        simplified = to_simplified(low).replace("帐", "账")
        return cls(zh=simplified, en=low)


@dataclass(frozen=True)
class Term:
    word: str
    weight: float
    lang: str
    regex: re.Pattern[str]
    #: a literal every match contains; terms whose needle is absent are skipped cheaply
    needle: str = ""


def _needle(word: str, lang: str) -> str:
    if word.startswith("re:"):
        return ""
    if lang == "zh":
        return to_simplified(word.lower())
    m = re.match(r"[a-z0-9]+", word.lower())
    return m.group(0)[:3] if m else ""


@dataclass(frozen=True)
class Hit:
    term: Term
    start: int

    @property
    def word(self) -> str:
        return self.term.word


def _inflected(word: str) -> str:
    """Regex for an English word and its simple inflections (charge → charged/charging)."""
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        return re.escape(word[:-1]) + r"(?:e|es|ed|ing|e's)"
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + r"(?:y|ies|ied|ying|y's)"
    if re.search(r"(?:^|[^aeiou])[aeiou][bdgklmnprt]$", word) and len(word) <= 5:
        double = re.escape(word + word[-1])
        return rf"(?:{re.escape(word)}(?:s|ed|ing|'s)?|{double}(?:ed|ing))"
    return re.escape(word) + _EN_SUFFIX


def _compile(word: str, lang: str) -> re.Pattern[str]:
    if word.startswith("re:"):
        return re.compile(word[3:], re.IGNORECASE)
    if lang == "zh":
        return re.compile(re.escape(to_simplified(word.lower())))
    word = word.lower()
    start = r"(?<![a-z0-9])" if word[:1].isalnum() else ""
    if word.endswith("*"):
        return re.compile(start + re.escape(word.rstrip("*")).replace(r"\ ", r"\s+"))
    head, _, last = word.rpartition(" ")
    body = re.escape(head + " ").replace(r"\ ", r"\s+") if head else ""
    if last.replace("'", "").isalpha():
        pattern = start + body + _inflected(last) + r"(?![a-z])"
    else:
        pattern = start + body + re.escape(last) + (r"(?![0-9])" if last[-1:].isdigit() else "")
    return re.compile(pattern.replace("'", "['’]?"))


def _terms(spec: Any, lang: str, where: _Where | None = None) -> list[Term]:
    """A list (weight 1) or a mapping weight → list; ``where`` validates (else bad entries are skipped)."""
    if spec is None:
        return []
    groups: list[tuple[float, Any, str]]
    if isinstance(spec, dict):
        groups = [(_weight(w, where, f"{lang}.{w}"), words, f"{lang}.{w}") for w, words in spec.items()]
    else:
        groups = [(1.0, spec, lang)]
    out: list[Term] = []
    for weight, words, key in groups:
        if words is None:
            continue
        if not isinstance(words, list):
            if where is not None:
                where.fail(key, f"expected a list of words, found {_kind(words)}")
            continue
        for index, word in enumerate(words):
            if isinstance(word, bool) or not isinstance(word, str | int | float):
                if where is not None:
                    where.fail(f"{key}[{index}]", f"expected a word, found {_kind(word)}")
                continue
            text = str(word).strip()
            if not text:
                continue
            try:
                out.append(
                    Term(
                        word=text,
                        weight=weight,
                        lang=lang,
                        regex=_compile(text, lang),
                        needle=_needle(text, lang),
                    )
                )
            except re.error as exc:
                if where is not None:
                    where.fail(f"{key}[{index}]", f"invalid regular expression {text!r}: {exc}")
    return out


def _weight(value: Any, where: _Where | None, key: str) -> float:
    try:
        weight = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        weight = math.nan
    if not math.isfinite(weight):
        if where is not None:
            where.fail(key, f"weight {value!r} is not a number")
        return 0.0
    return weight


@dataclass
class Lexicon:
    """Weighted terms in both languages."""

    terms: list[Term] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: Any, where: _Where | None = None, extra_keys: tuple[str, ...] = ()) -> Lexicon:
        """Terms of ``{zh: ..., en: ...}``; with ``where``, anything malformed is a ``ConfigError``."""
        spec = spec or {}
        if not isinstance(spec, dict):
            if where is not None:
                where.fail("", f"expected a mapping with zh and en lexicons, found {_kind(spec)}")
            return cls()
        if where is not None:
            for key in spec:
                if key not in ("zh", "en", *extra_keys) and not str(key).startswith(("label", "description")):
                    where.fail(str(key), f"unknown key (valid: {', '.join(('zh', 'en', *extra_keys))})")
        return cls(_terms(spec.get("zh"), "zh", where) + _terms(spec.get("en"), "en", where))

    def hits(self, view: TextView, negation: Lexicon | None = None) -> list[Hit]:
        """Each term once, in order of appearance.

        Where matches overlap, the longest wins ("退货退款" over "退款", "still waiting" over
        "wait"); matches right after a negation word are skipped.
        """
        found: list[tuple[int, int, Term]] = []
        for term in self.terms:
            text = view.zh if term.lang == "zh" else view.en
            if term.needle not in text:
                continue
            for match in term.regex.finditer(text):
                if match.end() > match.start():
                    found.append((match.start(), match.end(), term))
        found.sort(key=lambda f: (f[0] - f[1], f[0]))
        taken: dict[str, list[tuple[int, int]]] = {"zh": [], "en": []}
        seen: set[int] = set()
        out: list[Hit] = []
        for start, end, term in found:
            spans = taken[term.lang]
            if id(term) in seen or any(s < end and start < e for s, e in spans):
                continue
            text = view.zh if term.lang == "zh" else view.en
            if negation is not None and negation.negates(text, start, term.lang):
                continue
            spans.append((start, end))
            seen.add(id(term))
            out.append(Hit(term, start))
        out.sort(key=lambda h: h.start)
        return out

    def score(self, view: TextView, negation: Lexicon | None = None) -> float:
        return sum(hit.term.weight for hit in self.hits(view, negation))

    def negates(self, text: str, start: int, lang: str) -> bool:
        """A negation word right before ``start`` in the same clause."""
        if lang == "zh":
            # the negator touches the term, or a filler (任何, 出现, 个…) sits between
            window = _ZH_CLAUSE.split(text[max(0, start - 8) : start])[-1]
            window = _ZH_FILLER.sub("", window)
            return any(
                m.end() >= len(window) - 1
                for t in self.terms
                if t.lang == "zh"
                for m in t.regex.finditer(window)
            )
        else:
            window = _EN_CLAUSE.split(text[max(0, start - 40) : start])[-1]
            window = " ".join(window.split()[-3:])
        return any(t.lang == lang and t.regex.search(window) for t in self.terms)


@dataclass
class Taxonomy:
    categories: dict[str, Lexicon]
    tie_break: list[str]
    margin: dict[str, float]
    default_category: str
    channel_category: dict[str, str]
    severity_rules: dict[str, Lexicon]
    severity_skip_channels: set[str]
    negation: Lexicon
    noise: dict[str, Lexicon]
    noise_thresholds: dict[str, float]


class _Where:
    """Where a value sits in the taxonomy file, to name it in a ``ConfigError``."""

    def __init__(self, path: Path | str, key: str = "") -> None:
        self.path = path
        self.key = key

    def __truediv__(self, key: object) -> _Where:
        return _Where(self.path, f"{self.key}.{key}" if self.key else str(key))

    def fail(self, key: str, problem: str) -> NoReturn:
        full = ".".join(k for k in (self.key, key) if k)
        raise ConfigError(f"{self.path}: {full or '(top level)'}: {problem}")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return type(value).__name__


_CATEGORIES = tuple(c.value for c in Category)
_CHANNELS = tuple(c.value for c in Channel)
_NOISE_KINDS = ("complaint", "praise", "spam", "robocall")
_TOP_LEVEL = (
    "version", "categories", "margin", "tie_break", "default_category", "channel_category",
    "severity", "noise",
)  # fmt: skip


def _mapping(value: Any, where: _Where, key: str, *, required: bool = False) -> dict[Any, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        where.fail(
            key, f"expected a mapping, found {_kind(value)}" if value is not None else "missing section"
        )
    return value


def _category(value: Any, where: _Where, key: str) -> str:
    if not isinstance(value, str) or value not in _CATEGORIES:
        where.fail(key, f"unknown category {value!r} (valid: {', '.join(_CATEGORIES)})")
    return value


def _channel(value: Any, where: _Where, key: str) -> str:
    if not isinstance(value, str) or value not in _CHANNELS:
        where.fail(key, f"unknown channel {value!r} (valid: {', '.join(_CHANNELS)})")
    return value


def _build(data: Any, path: Path | str = "taxonomy.yaml") -> Taxonomy:
    """Validate a taxonomy document and compile it.

    Raises ``ConfigError`` naming the file, the key path (``categories.logistics.zh.3[4]``)
    and the problem: a missing section, an unknown key, category, channel or noise kind,
    a weight or threshold that is not a number, a word that is not text, an invalid
    ``re:`` expression, a value of the wrong type.
    """
    top = _Where(path)
    if data is None:
        top.fail("", "empty file (expected the sections categories, severity and noise)")
    data = _mapping(data, top, "", required=True)
    for key in data:
        if key not in _TOP_LEVEL:
            top.fail(str(key), f"unknown section (valid: {', '.join(_TOP_LEVEL)})")
    version = data.get("version", 1)
    if version != 1:
        top.fail("version", f"unsupported version {version!r} (this hub reads version 1)")

    cats = _mapping(data.get("categories"), top, "categories", required=True)
    if not cats:
        top.fail("categories", "no categories")
    categories: dict[str, Lexicon] = {}
    for name, spec in cats.items():
        categories[_category(name, top / "categories", str(name))] = Lexicon.from_spec(
            spec, top / "categories" / name
        )

    tie_break = data.get("tie_break")
    if tie_break is None:
        tie_break = list(categories)
    elif not isinstance(tie_break, list):
        top.fail("tie_break", f"expected a list of categories, found {_kind(tie_break)}")
    margin: dict[str, float] = {}
    for name, factor in _mapping(data.get("margin"), top, "margin").items():
        margin[_category(name, top / "margin", str(name))] = _weight(factor, top / "margin", str(name))
    channel_category = {
        _channel(k, top / "channel_category", str(k)): _category(v, top / "channel_category", str(k))
        for k, v in _mapping(data.get("channel_category"), top, "channel_category").items()
    }

    severity = _mapping(data.get("severity"), top, "severity", required=True)
    for key in severity:
        if key not in ("skip_channels", "rules", "negation"):
            top.fail(f"severity.{key}", "unknown key (valid: skip_channels, rules, negation)")
    rules = _mapping(severity.get("rules"), top / "severity", "rules", required=True)
    skip = severity.get("skip_channels") or []
    if not isinstance(skip, list):
        top.fail("severity.skip_channels", f"expected a list of channels, found {_kind(skip)}")

    noise = _mapping(data.get("noise"), top, "noise", required=True)
    thresholds: dict[str, float] = {}
    for kind, spec in noise.items():
        if kind not in _NOISE_KINDS:
            top.fail(f"noise.{kind}", f"unknown noise lexicon (valid: {', '.join(_NOISE_KINDS)})")
        if isinstance(spec, dict) and "threshold" in spec:
            thresholds[kind] = _weight(spec["threshold"], top / "noise" / kind, "threshold")

    return Taxonomy(
        categories=categories,
        tie_break=[_category(c, top, f"tie_break[{i}]") for i, c in enumerate(tie_break)],
        margin=margin,
        default_category=_category(data.get("default_category", "other"), top, "default_category"),
        channel_category=channel_category,
        severity_rules={
            str(name): Lexicon.from_spec(spec, top / "severity" / "rules" / name)
            for name, spec in rules.items()
        },
        severity_skip_channels={_channel(c, top, f"severity.skip_channels[{i}]") for i, c in enumerate(skip)},
        negation=Lexicon.from_spec(severity.get("negation"), top / "severity" / "negation"),
        noise={
            kind: Lexicon.from_spec(spec, top / "noise" / kind, extra_keys=("threshold",))
            for kind, spec in noise.items()
        },
        noise_thresholds=thresholds,
    )


class _LexiconLoader(yaml.SafeLoader):
    """YAML as ops write word lists: only true/false are booleans.

    YAML 1.1 reads bare ``no``, ``yes``, ``on``, ``off``, ``y``, ``n`` as booleans, which
    silently turned the negation word ``no`` into ``False``; here they stay words.
    """


_LexiconLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LexiconLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@cache
def _load(path: str, stamp: tuple[int, int]) -> Taxonomy:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_LexiconLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read taxonomy file {path}: {exc}") from None
    return _build(data, path)


def load_taxonomy(path: Path) -> Taxonomy:
    """Parse, validate and cache (until the file changes) a taxonomy file.

    Raises :class:`~hub.errors.ConfigError` naming the file, the key and the problem.
    """
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(
            f"taxonomy file not found: {path} (set HUB_MAPPINGS_DIR or taxonomy_path?)"
        ) from None
    return _load(str(path), (stat.st_mtime_ns, stat.st_size))
