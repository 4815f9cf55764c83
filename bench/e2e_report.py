"""The results tables of `e2e_perf.py`: medians per contender, ratios and targets.

Contenders are "floor", "peer" and one app per database backend ("app sqlite", "app
postgres"). The main table is printed once per backend; with both, a last table sets the
app on PostgreSQL against the app on SQLite.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from e2e_probe import Timing

# (floor, peer, app, app contender) medians -> target met
Check = Callable[[float | None, float | None, float, str], bool]
POSTGRES_TTFT_RATIO = 1.2  # target: TTFT on PostgreSQL within 1.2x of SQLite


@dataclass
class Row:
    """One table line: samples in ms per contender, and the target on the medians."""

    scenario: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    target: str = ""
    check: Check | None = None
    notes: list[str] = field(default_factory=list)
    ttft: bool = False  # a time to first token (the backends' ratio has a target)

    def median(self, contender: str) -> float | None:
        values = self.samples.get(contender)
        return statistics.median(values) if values else None

    def cells(self, app_contender: str) -> tuple[str, ...]:
        floor, peer, app = (self.median(name) for name in ("floor", "peer", app_contender))
        ratio = f"{app / peer:.2f}" if app is not None and peer else "-"
        gap = f"{app - floor:+.0f}" if app is not None and floor is not None else "-"
        met = (
            "-"
            if self.check is None or app is None
            else ("yes" if self.check(floor, peer, app, app_contender) else "NO")
        )
        return (self.scenario, _ms(floor), _ms(peer), _ms(app), ratio, gap, self.target or "-", met)

    def backend_cells(self) -> tuple[str, ...]:
        """PostgreSQL against SQLite: both medians, their ratio, the target on TTFT."""
        sqlite, postgres = self.median(app_key("sqlite")), self.median(app_key("postgres"))
        ratio = postgres / sqlite if sqlite and postgres is not None else None
        target, met = "-", "-"
        if self.ttft and ratio is not None:
            target = f"<= {POSTGRES_TTFT_RATIO}x sqlite"
            met = "yes" if ratio <= POSTGRES_TTFT_RATIO else "NO"
        shown = "-" if ratio is None else f"{ratio:.2f}"
        return (self.scenario, _ms(sqlite), _ms(postgres), shown, target, met)


def app_key(backend: str) -> str:
    """The contender name of the app on `backend`."""
    return f"app {backend}"


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
    for name in _browser_contenders(runs):
        values = [t.request_ms for t in runs.get(name, []) if t.request_ms is not None]
        if values:
            parts.append(f"{name} {statistics.median(values):.0f}")
    return "Enter to model request, median ms: " + (", ".join(parts) or "not recorded")


def rendered_note(runs: dict[str, list[Timing]]) -> str:
    return ", ".join(
        f"{name} {runs[name][-1].rendered}" for name in _browser_contenders(runs) if runs[name]
    )


def print_table(rows: list[Row], backend: str) -> None:
    """The app on `backend` against floor and peer."""
    head = ("scenario", "floor", "peer", "app", "app/peer", "app-floor", "target", "met?")
    print(f"\napp on {backend}:")
    _print_lines(head, [row.cells(app_key(backend)) for row in rows])


def print_backend_table(rows: list[Row]) -> None:
    """The app on PostgreSQL against the app on SQLite, measured in the same runs."""
    head = ("scenario", "sqlite", "postgres", "postgres/sqlite", "target", "met?")
    print("\napp on postgres against app on sqlite:")
    _print_lines(head, [row.backend_cells() for row in rows])
    missed = [row.scenario for row in rows if row.backend_cells()[-1] == "NO"]
    print(
        f"TTFT on postgres within {POSTGRES_TTFT_RATIO}x of sqlite: "
        + (f"missed in {', '.join(missed)}" if missed else "met")
    )


def print_notes(rows: list[Row], verbose: bool = False) -> None:
    print()
    for row in rows:
        for note in row.notes:
            print(f"  * {row.scenario}: {note}")
        if verbose:
            for name, values in row.samples.items():
                print(f"    {row.scenario} {name} runs: {', '.join(_ms(v) for v in values)}")


def _print_lines(head: tuple[str, ...], lines: list[tuple[str, ...]]) -> None:
    lines = [head, *lines]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * width for width in widths))


def _browser_contenders(runs: dict) -> list[str]:
    return [name for name in runs if name != "floor"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
