"""Load ``mappings/taxonomy.yaml`` and match its lexicons against text.

Chinese terms are matched on the text converted to Simplified (so Traditional and
Cantonese text match the same list); English terms on word boundaries, with simple
inflections. See the header of ``taxonomy.yaml`` for the format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

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


def _terms(spec: Any, lang: str) -> list[Term]:
    """A list (weight 1) or a mapping weight → list."""
    if not spec:
        return []
    groups: list[tuple[float, list[Any]]]
    if isinstance(spec, dict):
        groups = [(float(weight), list(words or [])) for weight, words in spec.items()]
    else:
        groups = [(1.0, list(spec))]
    out: list[Term] = []
    for weight, words in groups:
        for word in words:
            word = str(word).strip()
            if not word:
                continue
            try:
                out.append(
                    Term(
                        word=word,
                        weight=weight,
                        lang=lang,
                        regex=_compile(word, lang),
                        needle=_needle(word, lang),
                    )
                )
            except re.error:
                continue
    return out


@dataclass
class Lexicon:
    """Weighted terms in both languages."""

    terms: list[Term] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: Any) -> Lexicon:
        spec = spec or {}
        return cls(_terms(spec.get("zh"), "zh") + _terms(spec.get("en"), "en"))

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


def _build(data: dict[str, Any]) -> Taxonomy:
    cats = data.get("categories") or {}
    severity = data.get("severity") or {}
    noise = data.get("noise") or {}
    categories = {name: Lexicon.from_spec(spec) for name, spec in cats.items()}
    return Taxonomy(
        categories=categories,
        tie_break=[str(c) for c in data.get("tie_break") or list(categories)],
        margin={str(k): float(v) for k, v in (data.get("margin") or {}).items()},
        default_category=str(data.get("default_category") or "other"),
        channel_category={str(k): str(v) for k, v in (data.get("channel_category") or {}).items()},
        severity_rules={
            name: Lexicon.from_spec(spec) for name, spec in (severity.get("rules") or {}).items()
        },
        severity_skip_channels={str(c) for c in severity.get("skip_channels") or []},
        negation=Lexicon.from_spec(severity.get("negation")),
        noise={name: Lexicon.from_spec(spec) for name, spec in noise.items()},
        noise_thresholds={
            name: float(spec.get("threshold", 1)) for name, spec in noise.items() if isinstance(spec, dict)
        },
    )


@cache
def _load(path: str, mtime: float) -> Taxonomy:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return _build(data)


def load_taxonomy(path: Path) -> Taxonomy:
    """Parse (and cache, until the file changes) a taxonomy file."""
    return _load(str(path), path.stat().st_mtime)
