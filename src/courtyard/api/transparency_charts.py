"""Bar charts of a transparency report, laid out on the server so the page can draw them as
inline SVG without any script (docs/transparency.md, "HTML page")."""

from __future__ import annotations

from dataclasses import dataclass

from courtyard.domains.legal import Counts, TransparencyReport

LABEL_WIDTH = 190  # room for a process type's series labels, right-aligned before the bars
BAR_SPACE = 360  # the longest bar
VALUE_SPACE = 70  # the number after a bar
ROW = 22
HEADING = 28
BAR_HEIGHT = 16
# (count, label, fill): the outcome bars drawn for each process type, in this order.
OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("received", "received", "#4a6fa5"),
    ("rejected", "rejected", "#b5523b"),
    ("narrowed", "narrowed", "#c9a227"),
    ("produced_content", "produced: content", "#6b4c9a"),
    ("produced_non_content", "produced: non-content", "#3f8f6b"),
)
COUNTRY_FILL = "#4a6fa5"
PROCESS_LABELS = {
    "subpoena": "Subpoena",
    "court_order": "Court order",
    "search_warrant": "Search warrant",
    "emergency": "Emergency request",
    "preservation_request": "Preservation request",
    "mutual_legal_assistance": "Mutual legal assistance",
}


@dataclass(frozen=True, slots=True)
class ChartLine:
    """A heading (``value`` None) or one bar, at ``y`` from the chart's top."""

    y: int
    label: str
    value: int | None = None
    width: float = 0.0
    fill: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    description: str
    width: int
    height: int
    lines: tuple[ChartLine, ...]
    label_width: int = LABEL_WIDTH


def process_label(process_type: str) -> str:
    """A process type as people read it: ``court_order`` → ``Court order``."""
    return PROCESS_LABELS.get(process_type, process_type.replace("_", " ").capitalize())


def country_chart(report: TransparencyReport) -> Chart:
    """Requests received per country, most first."""
    pairs = report.by_country()
    largest = max((counts.received for _, counts in pairs), default=0)
    lines = tuple(
        _bar(index * ROW, country, counts.received, largest, COUNTRY_FILL)
        for index, (country, counts) in enumerate(pairs)
    )
    summary = ", ".join(f"{country}: {counts.received}" for country, counts in pairs)
    return _chart("Requests received by country", summary, lines, len(pairs) * ROW)


def outcome_chart(report: TransparencyReport) -> Chart:
    """For each process type, its requests received, rejected, narrowed and produced."""
    pairs = report.by_process_type()
    largest = max((counts.received for _, counts in pairs), default=0)
    lines: list[ChartLine] = []
    y = 0
    for process_type, counts in pairs:
        lines.append(ChartLine(y, process_label(process_type)))
        y += HEADING
        for name, label, fill in OUTCOMES:
            lines.append(_bar(y, label, _count(counts, name), largest, fill))
            y += ROW
    summary = "; ".join(
        f"{process_label(p)}: " + ", ".join(f"{label} {_count(c, n)}" for n, label, _ in OUTCOMES)
        for p, c in pairs
    )
    return _chart("Outcomes by process type", summary, tuple(lines), y)


def _bar(y: int, label: str, value: int, largest: int, fill: str) -> ChartLine:
    width = BAR_SPACE * value / largest if largest else 0.0
    return ChartLine(y, label, value, round(width, 1), fill)


def _count(counts: Counts, name: str) -> int:
    value: int = getattr(counts, name)
    return value


def _chart(title: str, summary: str, lines: tuple[ChartLine, ...], height: int) -> Chart:
    width = LABEL_WIDTH + BAR_SPACE + VALUE_SPACE
    return Chart(title, summary or "No requests.", width, height + 4, lines)
