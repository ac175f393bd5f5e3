"""``hub eval CORPUS``: import a labelled corpus into a fresh store and score the hub.

Figures (definitions in ``../shared/corpus/FORMAT.md``):

- dedupe pairwise precision / recall / F1 over actionable messages;
- coverage: share of actionable messages that ended in some case;
- noise: non-actionable messages that opened or joined a case;
- category and severity accuracy of each case against its majority group;
- order / tracking number extraction accuracy over every labelled message.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from hub.config import HubConfig
from hub.db import make_engine
from hub.importer import iter_intakes, plan_import
from hub.matching import normalise_number
from hub.pipeline import IngestStats, Pipeline
from hub.tables import CaseRow, MessageRow

__all__ = ["EvalReport", "evaluate", "score"]


@dataclass
class EvalReport:
    messages: int = 0
    actionable: int = 0
    missing: list[str] = field(default_factory=list)
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    coverage: float = 0.0
    noise: int = 0
    noise_ids: list[str] = field(default_factory=list)
    cases: int = 0
    groups: int = 0
    category_accuracy: float = 0.0
    severity_accuracy: float = 0.0
    order_accuracy: float = 0.0
    tracking_accuracy: float = 0.0
    quarantined: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [
            f"messages            {self.messages} labelled, {self.actionable} actionable, "
            f"{len(self.missing)} missing, {self.quarantined} quarantined",
            f"cases               {self.cases} predicted for {self.groups} labelled groups",
            f"dedupe pairwise     precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}",
            f"coverage            {self.coverage:.3f}",
            f"noise               {self.noise}",
            f"category accuracy   {self.category_accuracy:.3f}",
            f"severity accuracy   {self.severity_accuracy:.3f}",
            f"order no accuracy   {self.order_accuracy:.3f}",
            f"tracking no accuracy {self.tracking_accuracy:.3f}",
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def _number_ok(label: str | None, predicted: list[str] | None) -> bool:
    got = {normalise_number(p) for p in predicted or []}
    if not label:
        return not got
    return got == {normalise_number(label)}


def score(labels: list[dict[str, Any]], session: Session) -> EvalReport:
    """Compare the store's state with the labels."""
    rows = {(m.connector, m.native_id): m for m in session.exec(select(MessageRow)).all()}
    cases = {c.id: c for c in session.exec(select(CaseRow)).all()}
    report = EvalReport(messages=len(labels))
    report.errors = {
        "category": [],
        "severity": [],
        "order_no": [],
        "tracking_no": [],
        "split": [],
        "merge": [],
    }
    case_of: dict[str, int | None] = {}
    group_of: dict[str, str] = {}
    order_ok = tracking_ok = 0
    for lab in labels:
        key = f"{lab['connector']}:{lab['native_id']}"
        m = rows.get((lab["connector"], lab["native_id"]))
        if m is None:
            report.missing.append(key)
        case_of[key] = m.case_id if m else None
        if lab["actionable"]:
            report.actionable += 1
            group_of[key] = lab["group"]
        elif m is not None and m.case_id is not None:
            report.noise += 1
            report.noise_ids.append(key)
        if m is not None and _number_ok(lab.get("order_no"), m.order_nos):
            order_ok += 1
        elif m is not None:
            report.errors["order_no"].append(f"{key}: want {lab.get('order_no')} got {m.order_nos}")
        if m is not None and _number_ok(lab.get("tracking_no"), m.tracking_nos):
            tracking_ok += 1
        elif m is not None:
            report.errors["tracking_no"].append(f"{key}: want {lab.get('tracking_no')} got {m.tracking_nos}")
    keys = sorted(group_of)
    tp = fp = fn = 0
    for a, b in combinations(keys, 2):
        same_group = group_of[a] == group_of[b]
        same_case = case_of[a] is not None and case_of[a] == case_of[b]
        if same_group and same_case:
            tp += 1
        elif same_case:
            fp += 1
            report.errors["merge"].append(f"{a} ({group_of[a]}) + {b} ({group_of[b]})")
        elif same_group:
            fn += 1
            report.errors["split"].append(f"{a} / {b} ({group_of[a]})")
    report.precision = _ratio(tp, tp + fp)
    report.recall = _ratio(tp, tp + fn)
    p, r = report.precision, report.recall
    report.f1 = 2 * p * r / (p + r) if p + r else 0.0
    report.coverage = _ratio(sum(1 for k in keys if case_of[k] is not None), len(keys))
    # labels of each predicted case against its majority group
    by_case: dict[int, Counter[str]] = defaultdict(Counter)
    for k in keys:
        if case_of[k] is not None:
            by_case[case_of[k]][group_of[k]] += 1  # type: ignore[index]
    group_label = {lab["group"]: lab for lab in labels if lab["actionable"]}
    cat_ok = sev_ok = 0
    for cid, groups in by_case.items():
        g = groups.most_common(1)[0][0]
        case = cases[cid]
        if case.category == group_label[g]["category"]:
            cat_ok += 1
        else:
            report.errors["category"].append(f"{g}: want {group_label[g]['category']} got {case.category}")
        if case.severity == group_label[g]["severity"]:
            sev_ok += 1
        else:
            report.errors["severity"].append(f"{g}: want {group_label[g]['severity']} got {case.severity}")
    report.cases = len(by_case)
    report.groups = len(group_label)
    report.category_accuracy = _ratio(cat_ok, len(by_case))
    report.severity_accuracy = _ratio(sev_ok, len(by_case))
    report.order_accuracy = _ratio(order_ok, len(labels))
    report.tracking_accuracy = _ratio(tracking_ok, len(labels))
    return report


def load_labels(corpus: Path) -> list[dict[str, Any]]:
    file = corpus / "labels.jsonl"
    if not file.exists():
        msg = f"{corpus}: no labels.jsonl (see corpus/FORMAT.md)"
        raise FileNotFoundError(msg)
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(corpus: Path, config: HubConfig) -> tuple[EvalReport, IngestStats]:
    """Import ``corpus`` into a fresh temporary SQLite store and score it."""
    labels = load_labels(corpus)
    with tempfile.TemporaryDirectory(prefix="hub-eval-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/eval.db")
        try:
            _, intakes = iter_intakes(plan_import(corpus))
            stats = Pipeline(engine, config).ingest(intakes)
            with Session(engine) as session:
                report = score(labels, session)
            report.quarantined = stats.quarantined
        finally:
            engine.dispose()
    return report, stats
