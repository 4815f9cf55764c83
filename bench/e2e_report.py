"""The results table of `e2e_perf.py`: medians per contender, ratios and targets."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from e2e_probe import Timing

CONTENDERS = ("floor", "peer", "app")
Check = Callable[[float | None, float | None, float], bool]


@dataclass
class Row:
    """One table line: samples in ms per contender, and the target on the medians."""

    scenario: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    target: str = ""
    check: Check | None = None
    notes: list[str] = field(default_factory=list)

    def median(self, contender: str) -> float | None:
        values = self.samples.get(contender)
        return statistics.median(values) if values else None

    def cells(self) -> tuple[str, ...]:
        floor, peer, app = (self.median(name) for name in CONTENDERS)
        ratio = f"{app / peer:.2f}" if app is not None and peer else "-"
        gap = f"{app - floor:+.0f}" if app is not None and floor is not None else "-"
        met = (
            "-"
            if self.check is None or app is None
            else ("yes" if self.check(floor, peer, app) else "NO")
        )
        return (self.scenario, _ms(floor), _ms(peer), _ms(app), ratio, gap, self.target or "-", met)


def make_row(
    scenario: str,
    runs: dict[str, list[Timing]],
    attr: str,
    target: str = "",
    check: Check | None = None,
) -> Row:
    """A row from the `attr` of each contender's timings."""
    samples = {name: [getattr(t, attr) for t in timings] for name, timings in runs.items()}
    return Row(scenario, samples, target, check)


def request_note(runs: dict[str, list[Timing]]) -> str:
    """Median time from the action to the model request reaching the emulator."""
    parts = []
    for name in ("peer", "app"):
        values = [t.request_ms for t in runs.get(name, []) if t.request_ms is not None]
        if values:
            parts.append(f"{name} {statistics.median(values):.0f}")
    return "Enter to model request, median ms: " + (", ".join(parts) or "not recorded")


def rendered_note(runs: dict[str, list[Timing]]) -> str:
    return ", ".join(
        f"{name} {runs[name][-1].rendered}" for name in ("peer", "app") if runs.get(name)
    )


def print_table(rows: list[Row], verbose: bool = False) -> None:
    head = ("scenario", "floor", "peer", "app", "app/peer", "app-floor", "target", "met?")
    lines = [head, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    print()
    for i, line in enumerate(lines):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * width for width in widths))
    for row in rows:
        for note in row.notes:
            print(f"  * {row.scenario}: {note}")
        if verbose:
            for name, values in row.samples.items():
                print(f"    {row.scenario} {name} runs: {', '.join(_ms(v) for v in values)}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
