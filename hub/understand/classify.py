"""Category and severity from the keyword lexicons of ``mappings/taxonomy.yaml``.

Each decision records why: ``msg.extra["category_reasons"]`` (the hits that decided the
category) beside ``msg.severity_reasons`` (the rule and words that made it severe).
"""

from __future__ import annotations

from hub.models import Category, Channel, ComplaintMessage, Severity
from hub.understand.settings import UnderstandSettings
from hub.understand.taxonomy import Hit, Taxonomy, TextView, load_taxonomy

__all__ = ["category_scores", "classify", "classify_message", "classify_with_reasons", "severity_reasons"]


def _view(msg: ComplaintMessage) -> TextView:
    return TextView.of("\n".join(p for p in (msg.subject or "", msg.text or "") if p))


def category_scores(view: TextView, taxonomy: Taxonomy) -> dict[str, float]:
    """Weighted keyword score per category."""
    return {name: lexicon.score(view) for name, lexicon in taxonomy.categories.items()}


def classify(view: TextView, taxonomy: Taxonomy, channel: str | None = None) -> Category:
    """Highest-scoring category; ties by ``tie_break`` order; nothing → the default."""
    return classify_with_reasons(view, taxonomy, channel)[0]


def classify_with_reasons(
    view: TextView, taxonomy: Taxonomy, channel: str | None = None, *, limit: int = 5
) -> tuple[Category, list[str]]:
    """The category and why: the winning category's strongest hits, ``"<category>:<words> (<weight>)"``.

    A channel with a fixed category gives ``"channel:<channel>"``; no keyword at all gives
    ``"default:<category>"``; a tie settled by ``tie_break`` adds ``"tie_break:<a>=<b> (<score>)"``.
    """
    forced = taxonomy.channel_category.get(channel or "")
    if forced is not None and forced in Category.__members__:
        return Category(forced), [f"channel:{channel}"]
    hits = {name: lexicon.hits(view) for name, lexicon in taxonomy.categories.items()}
    scores = {name: sum(hit.term.weight for hit in found) for name, found in hits.items()}
    for name, factor in taxonomy.margin.items():
        others = max((v for k, v in scores.items() if k != name), default=0.0)
        if name in scores and scores[name] < factor * others:
            scores[name] = min(scores[name], others - 0.5)
    best = max(scores.values(), default=0.0)
    default = Category(taxonomy.default_category)
    if best <= 0:
        return default, [f"default:{default.value}"]
    order = taxonomy.tie_break + [c for c in scores if c not in taxonomy.tie_break]
    tied = [name for name in order if scores.get(name) == best and name in Category.__members__]
    if not tied:
        return default, [f"default:{default.value}"]
    winner = tied[0]
    strongest = sorted(hits[winner], key=lambda hit: (-hit.term.weight, hit.start))[:limit]
    reasons = [f"{winner}:{_matched(view, hit)} ({hit.term.weight})" for hit in strongest]
    if len(tied) > 1:
        reasons.append(f"tie_break:{'='.join(tied)} ({best})")
    return Category(winner), reasons


def severity_reasons(view: TextView, taxonomy: Taxonomy) -> list[str]:
    """One ``"<rule>:<words>"`` per severity rule that hits (its first hit in the text)."""
    reasons: list[str] = []
    for rule, lexicon in taxonomy.severity_rules.items():
        hits = lexicon.hits(view, taxonomy.negation)
        if hits:
            reasons.append(f"{rule}:{_matched(view, hits[0])}")
    return reasons


def _matched(view: TextView, hit: Hit) -> str:
    text = view.zh if hit.term.lang == "zh" else view.en
    match = hit.term.regex.match(text, hit.start)
    return " ".join(match.group(0).split()) if match else hit.word


def classify_message(msg: ComplaintMessage, settings: UnderstandSettings | None = None) -> ComplaintMessage:
    """Set category and severity (with reasons) of an actionable message or courier event."""
    settings = settings or UnderstandSettings()
    if not (msg.actionable or msg.channel == Channel.courier):
        return msg
    taxonomy = load_taxonomy(settings.taxonomy_file())
    view = _view(msg)
    if msg.category is None:
        msg.category, msg.extra["category_reasons"] = classify_with_reasons(view, taxonomy, msg.channel.value)
    if msg.channel.value in taxonomy.severity_skip_channels:
        reasons: list[str] = []
    else:
        reasons = severity_reasons(view, taxonomy)
    for reason in reasons:
        if reason not in msg.severity_reasons:
            msg.severity_reasons.append(reason)
    if msg.category is Category.other and any(r.startswith("safety:") for r in reasons):
        # a safety or health problem with no other topic is about a product
        msg.category = Category.product_quality
        msg.extra["category_reasons"] = [*msg.extra.get("category_reasons", []), "safety implies product_quality"]
    if msg.severity is None or msg.severity == Severity.general:
        msg.severity = Severity.severe if msg.severity_reasons else Severity.general
    return msg
