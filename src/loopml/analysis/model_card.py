"""Model cards: what a model is for, what it was trained and evaluated on, how it did per slice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from loopml.analysis._tables import (
    blessing_rows,
    fairness_rows,
    html_page,
    html_table,
    markdown_table,
    slice_rows,
)
from loopml.analysis.results import EvaluationResult
from loopml.analysis.thresholds import MetricThreshold
from loopml.atomic_write import write_text_atomic

__all__ = ["ModelCard"]

_CARD_METRICS = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCard:
    """A model card built from an evaluation plus the facts the pipeline knows.

    Example:
        >>> from loopml.analysis.evaluate import evaluate
        >>> ev = evaluate([0, 1] * 20, y_pred=[0, 1] * 20, task="binary", bootstrap=None)
        >>> card = ModelCard(model_name="churn", model_version="3", evaluation=ev)
        >>> "| slice | count |" in card.to_markdown()
        True
    """

    model_name: str
    model_version: str
    evaluation: EvaluationResult
    intended_use: Mapping[str, str] = field(default_factory=dict)
    data_versions: Mapping[str, str] = field(default_factory=dict)
    lineage: Mapping[str, str] = field(default_factory=dict)
    thresholds: tuple[MetricThreshold, ...] = ()
    caveats: tuple[str, ...] = ()

    @property
    def all_caveats(self) -> list[str]:
        """The given caveats plus those the evaluation shows (small slices, undefined metrics)."""
        out = list(self.caveats)
        ev = self.evaluation
        if ev.small_slices:
            keys = ", ".join(f"{s.key} (n={s.count})" for s in ev.small_slices)
            out.append(f"Slices below the minimum size of {ev.min_slice_size} were not evaluated: {keys}.")
        undefined = sorted(
            {f"{name} on {s.key}" for s in ev.slices for name, m in s.metrics.items() if m.value is None}
        )
        if undefined:
            out.append(f"Metrics undefined on some slices: {', '.join(undefined[:12])}.")
        if ev.blessing is not None and not ev.blessing.passed:
            out.append("The model did not pass its evaluation thresholds: " + "; ".join(ev.blessing.reasons))
        return out

    def _sections(self) -> list[tuple[str, list[tuple[str, str]] | tuple[list[str], list[list[str]]] | str]]:
        ev = self.evaluation
        metrics = list(ev.metrics[:_CARD_METRICS])
        sections: list[tuple[str, Any]] = [
            ("Model details", [("name", self.model_name), ("version", self.model_version),
                               ("task", ev.task.value), *((k, str(v)) for k, v in ev.properties.items())]),
            ("Intended use", list(self.intended_use.items())),
            ("Data", list(self.data_versions.items())),
            ("Metrics by slice", slice_rows(ev, metrics)),
        ]  # fmt: skip
        if self.thresholds:
            rows = [[t.metric, ", ".join(t.slices), _bounds(t)] for t in self.thresholds]
            sections.append(("Thresholds", (["metric", "slices", "bounds"], rows)))
        if ev.blessing is not None:
            verdict = "passed (blessed)" if ev.blessing.passed else "failed (not blessed)"
            sections.append(("Evaluation outcome", verdict))
            sections.append(("Checks", blessing_rows(ev.blessing)))
        if ev.fairness:
            sections.append(("Fairness gaps", fairness_rows(ev.fairness)))
        sections.append(("Lineage", list(self.lineage.items())))
        sections.append(("Caveats", "\n".join(f"- {c}" for c in self.all_caveats) or "None recorded."))
        return sections

    def to_markdown(self) -> str:
        """The card as Markdown."""
        out = [f"# Model card: {self.model_name} v{self.model_version}"]
        for title, content in self._sections():
            out.append(f"\n## {title}\n")
            if isinstance(content, str):
                out.append(content)
            elif isinstance(content, tuple):
                out.append(markdown_table(*content))
            else:
                out.append("\n".join(f"- **{k}**: {v}" for k, v in content) or "Not recorded.")
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        """The card as a self-contained HTML page."""
        out = [f"<h1>Model card: {escape(self.model_name)} v{escape(self.model_version)}</h1>"]
        for title, content in self._sections():
            out.append(f"<h2>{escape(title)}</h2>")
            if isinstance(content, str):
                lines = [ln.removeprefix("- ") for ln in content.splitlines()]
                out.append("<ul>" + "".join(f"<li>{escape(ln)}</li>" for ln in lines) + "</ul>")
            elif isinstance(content, tuple):
                out.append(html_table(*content))
            else:
                items = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in content)
                out.append(f"<ul>{items}</ul>" if items else "<p>Not recorded.</p>")
        return html_page(f"Model card: {self.model_name}", "\n".join(out))

    def write(self, directory: str | Path, *, stem: str = "model_card") -> tuple[Path, Path]:
        """Write ``<stem>.md`` and ``<stem>.html`` into ``directory`` atomically; return both paths."""
        d = Path(directory)
        return (
            write_text_atomic(d / f"{stem}.md", self.to_markdown()),
            write_text_atomic(d / f"{stem}.html", self.to_html()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "evaluation": self.evaluation.to_dict(),
            "intended_use": dict(self.intended_use),
            "data_versions": dict(self.data_versions),
            "lineage": dict(self.lineage),
            "thresholds": [t.to_dict() for t in self.thresholds],
            "caveats": list(self.caveats),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        return cls(
            model_name=data["model_name"],
            model_version=data["model_version"],
            evaluation=EvaluationResult.from_dict(data["evaluation"]),
            intended_use=dict(data.get("intended_use", {})),
            data_versions=dict(data.get("data_versions", {})),
            lineage=dict(data.get("lineage", {})),
            thresholds=tuple(MetricThreshold.from_dict(t) for t in data.get("thresholds", [])),
            caveats=tuple(data.get("caveats", ())),
        )


def _bounds(t: MetricThreshold) -> str:
    parts: Sequence[str] = [
        *([f">= {t.lower:g}"] if t.lower is not None else []),
        *([f"<= {t.upper:g}"] if t.upper is not None else []),
    ]
    if t.change_tolerance is not None:
        unit = " (relative)" if t.change_mode.value == "relative" else ""
        parts = [*parts, f"no worse than baseline by more than {t.change_tolerance:g}{unit}"]
    return "; ".join(parts)
