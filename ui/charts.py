"""Bar and line charts as Vega-Lite specs drawn by `st.vega_lite_chart`.

`st.bar_chart` and `st.line_chart` build each chart through Altair, whose schema
validation cost the Usage page about 100 ms of server time per chart. These specs
are the same charts written out: a category axis, a measure axis, a colour series,
and a tooltip. Columns are addressed by plain internal names (`c0`, `c1`,
…) and shown under their titles, so a title with a dot or a bracket is only text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Column:
    """One column of a chart: its title and its values."""

    title: str
    values: Sequence


def bar_chart(
    category: Column, measure: Column, series: Column, axis: Sequence[str] | None = None
) -> None:
    """Bars of `measure` per `category`, stacked and coloured by `series`; `axis`, when
    given, is every category in order (those without a value keep their place)."""
    spec = _spec("bar", category, measure, series, axis)
    spec["encoding"]["y"]["stack"] = True
    _draw(spec, category, measure, series)


def line_chart(
    category: Column, measure: Column, series: Column, axis: Sequence[str] | None = None
) -> None:
    """A line of `measure` along `category` for each value of `series` (`axis`: as for
    `bar_chart`)."""
    spec = _spec("line", category, measure, series, axis)
    spec["mark"]["point"] = True  # a day with a single value still shows
    _draw(spec, category, measure, series)


def _spec(
    mark: str, category: Column, measure: Column, series: Column, axis: Sequence[str] | None
) -> dict:
    tooltip = [
        {"field": "c0", "type": "ordinal", "title": category.title},
        {"field": "c1", "type": "quantitative", "title": measure.title},
        {"field": "c2", "type": "nominal", "title": series.title},
    ]
    encoding = {
        "x": {
            "field": "c0",
            "type": "ordinal",
            "title": category.title,
            "sort": None,
            "axis": {"grid": False},
        },
        "y": {
            "field": "c1",
            "type": "quantitative",
            "title": measure.title,
            "axis": {"grid": True},
        },
        "color": {
            "field": "c2",
            "type": "nominal",
            "title": series.title,
            # One name per line: in a row, the names after the second ran off the chart.
            "legend": {"orient": "bottom", "columns": 1, "labelLimit": 400, "offset": 5},
        },
        "tooltip": tooltip,
    }
    if axis is not None:
        encoding["x"]["scale"] = {"domain": list(axis)}
    return {"mark": {"type": mark, "tooltip": True}, "encoding": encoding}


def _draw(spec: dict, *columns: Column) -> None:
    data = {f"c{index}": list(column.values) for index, column in enumerate(columns)}
    st.vega_lite_chart(data, spec, width="stretch")
