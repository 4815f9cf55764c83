"""The Usage page: what the visitor's replies used and cost, over dates and models.

The figures are grouped in the database (see `chat_core.usage`); this page only draws
them: metric cards, Vega-Lite charts of the trends (`ui.charts`), tables of latency,
statuses and errors, the top chats by cost (each a link to the chat), and a CSV of
the filtered replies built when it is downloaded.
Admins named by `CHAT_USAGE_ADMINS` may switch to everyone's usage.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import streamlit as st

import locales
from chat_core import usage
from chat_core.markdown import escape, literal, table

from . import feedback
from .charts import Column, bar_chart, line_chart
from .costs import money
from .runtime import Visit, prices, settings_or_stop, shared_store, user_claims
from .shell import entered_page, this_visit
from .text import t

DEFAULT_DAYS = 30
TOP_CHATS = 10
CHAT_PAGE = "app_pages/chat.py"
DATES_KEY, MODELS_KEY = "usage_dates", "usage_models"
READ_KEY = "_usage_read"  # the figures this visit of the page read, by query
REUSE_SECONDS = 60
PERIOD_KEYS = {"day": "usage_day", "week": "usage_week"}
STATUS_KEYS = {
    "complete": "usage_complete",
    "interrupted": "usage_interrupted",
    "error": "usage_failed",
}
MEASURE_KEYS = {
    ("first_token", "p50"): "usage_first_token_p50",
    ("first_token", "p95"): "usage_first_token_p95",
    ("total", "p50"): "usage_total_p50",
    ("total", "p95"): "usage_total_p95",
}


def usage_page() -> None:
    visit = this_visit()
    with feedback.guard(visit.lang):
        _usage(visit)
    with st.container():
        feedback.show(visit.lang)


def _usage(visit: Visit) -> None:
    lang, store, table = visit.lang, shared_store(visit.settings), prices(visit.settings)
    st.title(t(lang, "page_usage"))
    first, last, weekly, everyone = _controls(visit)
    owner = usage.scope(visit.owner, everyone)
    mode = _default_mode(visit, everyone)
    limits = usage.bands(table)
    chosen = list(st.session_state.get(MODELS_KEY) or [])
    filters = usage.day_filter(first, last, chosen)
    if entered_page():
        st.session_state.pop(READ_KEY, None)  # a new visit of the page reads afresh
    # Three queries over the same replies: the ones that do not wait for another run
    # alongside, on connections of their own.
    with ThreadPoolExecutor(max_workers=2) as pool:
        timings = _read(pool, store.latency_counts, owner, filters)
        dates = usage.day_filter(first, last)
        groups = _read(
            pool, store.usage_groups, owner, dates, default_mode=mode, bands=limits
        ).result()
        picked = [g for g in groups if not chosen or g.model in chosen]
        rates = tuple(usage.band_rates(picked, table, limits))
        spenders = _read(
            pool, store.top_chats, owner, filters, bands=limits, rates=rates, limit=TOP_CHATS
        )
        st.multiselect(
            t(lang, "usage_models"),
            sorted({g.model for g in groups} | set(chosen)),
            key=MODELS_KEY,
            format_func=lambda model: model or t(lang, "usage_unknown_model"),
            placeholder=t(lang, "usage_all_models"),
        )
        board = usage.dashboard(groups, table, limits, models=chosen, weekly=weekly)
        if not board.totals.replies:
            st.info(t(lang, "usage_none"))
            return
        _cards(lang, board.totals)
        axis = usage.periods(first, last, weekly)
        _spending(lang, board, axis)
        _cache_hits(lang, board, axis)
        _latency(lang, timings.result())
        _statuses(lang, board)
        _top_chats(visit, spenders.result())
    _download(visit, owner, filters, first, last, mode)


def _read(pool: ThreadPoolExecutor, query, *args, **kwargs) -> _Answer:
    """`query(*args, **kwargs)` on `pool`; or, when this visit of the page asked the
    same less than REUSE_SECONDS ago, its answer then: changing the period (drawn from
    the same groups) or a filter and back redraws at once. Opening the page reads
    everything again."""
    key = (query.__name__, args, tuple(sorted(kwargs.items())))
    read = st.session_state.setdefault(READ_KEY, {})
    for old in [k for k, (at, _) in read.items() if time.monotonic() - at >= REUSE_SECONDS]:
        read.pop(old, None)
    if key in read:
        done: Future = Future()
        done.set_result(read[key][1])
        return _Answer(done)
    return _Answer(pool.submit(query, *args, **kwargs), read, key)


class _Answer:
    """A query's answer, kept for reuse when the page takes it: only the page's thread
    touches the kept answers (a worker adding one while the page looks through them
    would break the page's loop)."""

    def __init__(self, future: Future, read: dict | None = None, key: tuple = ()) -> None:
        self._future, self._read, self._key = future, read, key

    def result(self):
        value = self._future.result()
        if self._read is not None:
            self._read[self._key] = (time.monotonic(), value)
            self._read = None
        return value


def _controls(visit: Visit) -> tuple[date, date, bool, bool]:
    """The dates (UTC days, both included; `?from=…&to=…` when the URL has them), day
    or week, and for an admin whether to show everyone's usage."""
    lang = visit.lang
    left, middle, right = st.columns([0.45, 0.25, 0.3], vertical_alignment="bottom")
    picked = left.date_input(
        t(lang, "usage_dates"),
        value=_dates_in_url(),
        key=DATES_KEY,
        format="YYYY-MM-DD",
        on_change=_dates_to_url,
    )
    days = sorted(picked) if isinstance(picked, list | tuple) else [picked]
    first, last = (days[0], days[-1]) if days else _dates_in_url()
    period = middle.radio(
        t(lang, "usage_period"),
        ("day", "week"),
        key="usage_period",
        horizontal=True,
        format_func=lambda key: t(lang, PERIOD_KEYS[key]),
    )
    everyone = False
    admins = visit.settings.usage_admins
    if usage.is_admin(visit.owner, user_claims(), admins):
        everyone = right.toggle(
            t(lang, "usage_everyone"), key="usage_everyone", help=t(lang, "usage_everyone_help")
        )
    return first, last, period == "week", everyone


def _dates_in_url() -> tuple[date, date]:
    """The days `?from=YYYY-MM-DD&to=YYYY-MM-DD` names (a bookmarked view), in order;
    the last 30 days without them, or (with a notice) when they are not dates."""
    today = datetime.now(UTC).date()
    try:
        first = date.fromisoformat(st.query_params.get("from", ""))
        last = date.fromisoformat(st.query_params.get("to", ""))
    except ValueError:
        if "from" in st.query_params or "to" in st.query_params:  # say why they are ignored
            feedback.notice("usage_bad_dates", days=DEFAULT_DAYS)
        return today - timedelta(days=DEFAULT_DAYS - 1), today
    return min(first, last), max(first, last)


def _dates_to_url() -> None:
    picked = st.session_state.get(DATES_KEY)
    if isinstance(picked, list | tuple) and len(picked) == 2:
        st.query_params["from"], st.query_params["to"] = (day.isoformat() for day in picked)


def _cards(lang: str, totals: usage.Totals) -> None:
    cost = _at_least(lang, money(lang, totals.cost), totals.unpriced)
    rate = totals.cache_hit_rate
    cards = (
        ("usage_cost", cost, t(lang, "usage_unpriced", count=totals.unpriced)),
        ("usage_replies", f"{totals.replies:,}", None),
        ("usage_input", f"{totals.prompt_tokens:,}", None),
        ("usage_output", f"{totals.completion_tokens:,}", None),
        ("usage_cache_rate", "–" if rate is None else f"{rate:.1%}", None),
    )
    row = st.container(horizontal=True, key="usage_cards")
    for key, value, note in cards:
        row.metric(
            t(lang, key), value, help=note if note and totals.unpriced else None, border=True
        )


def _model_name(lang: str, model: str) -> str:
    return model or t(lang, "usage_unknown_model")


def _spending(lang: str, board: usage.Dashboard, axis: list[str] | None) -> None:
    rows = sorted(board.by_period_model.items())
    periods = Column(t(lang, "usage_col_period"), [key[0] for key, _ in rows])
    models = Column(t(lang, "usage_col_model"), [_model_name(lang, key[1]) for key, _ in rows])
    costs = Column(t(lang, "usage_col_cost"), [float(totals.cost) for _, totals in rows])
    tokens = Column(
        t(lang, "usage_col_tokens"),
        [totals.prompt_tokens + totals.completion_tokens for _, totals in rows],
    )
    left, right = st.columns(2)
    with left.container(key="usage_cost_chart"):
        st.subheader(t(lang, "usage_cost_chart"))
        bar_chart(periods, costs, models, axis)
    with right.container(key="usage_tokens_chart"):
        st.subheader(t(lang, "usage_tokens_chart"))
        bar_chart(periods, tokens, models, axis)


def _cache_hits(lang: str, board: usage.Dashboard, axis: list[str] | None) -> None:
    period, mode, rate = (
        t(lang, "usage_col_period"),
        t(lang, "usage_col_mode"),
        t(lang, "usage_col_cache_rate"),
    )
    rows = [
        (key, totals)
        for key, totals in sorted(board.by_period_mode.items())
        if totals.cache_hit_rate is not None
    ]
    with st.container(key="usage_cache_chart"):
        st.subheader(t(lang, "usage_cache_chart"))
        if not rows:
            st.caption(t(lang, "usage_no_tokens"))
            return
        line_chart(
            Column(period, [key[0] for key, _ in rows]),
            Column(rate, [round(totals.cache_hit_rate * 100, 2) for _, totals in rows]),
            Column(mode, [t(lang, "cache_" + key[1]) for key, _ in rows]),
            axis,
        )


def _latency(lang: str, counts) -> None:
    """p50 and p95 of the time to first token and of the whole reply, one row per
    model: figures read better than bars here, and a table draws at once."""
    figures = usage.latencies(counts)
    with st.container(key="usage_latency"):
        st.subheader(t(lang, "usage_latency_title"))
        if not figures:
            st.caption(t(lang, "usage_no_timings"))
            return
        by_model: dict[str, dict[str, str]] = {}
        for figure in figures:
            row = by_model.setdefault(figure.model, {})
            for which, value in (("p50", figure.p50_ms), ("p95", figure.p95_ms)):
                row[t(lang, MEASURE_KEYS[figure.measure, which])] = f"{value:,} ms"
        columns = [t(lang, MEASURE_KEYS[key]) for key in MEASURE_KEYS]
        _table(
            {
                # a table's cells are Markdown: a model id is shown literally
                t(lang, "usage_col_model"): [literal(_model_name(lang, m)) for m in by_model],
                **{
                    column: [row.get(column, "–") for row in by_model.values()]
                    for column in columns
                },
            }
        )


def _statuses(lang: str, board: usage.Dashboard) -> None:
    replies = t(lang, "usage_col_replies")
    left, right = st.columns(2)
    with left.container(key="usage_statuses"):
        st.subheader(t(lang, "usage_status_title"))
        found = [s for s in usage.STATUSES if board.by_status.get(s)]
        _table(
            {
                t(lang, "usage_col_status"): [t(lang, STATUS_KEYS[s]) for s in found],
                replies: [f"{board.by_status[s]:,}" for s in found],
            }
        )
    with right.container(key="usage_errors"):
        st.subheader(t(lang, "usage_errors"))
        if not board.by_error:
            st.caption(t(lang, "usage_no_errors"))
            return
        kinds = sorted(board.by_error.items(), key=lambda item: (-item[1], item[0]))
        _table(
            {
                t(lang, "usage_col_error"): [
                    locales.error_text(lang, code, quote=literal) for code, _ in kinds
                ],
                replies: [f"{count:,}" for _, count in kinds],
            }
        )


def _top_chats(visit: Visit, spenders) -> None:
    lang = visit.lang
    with st.container(key="usage_top_chats"):
        st.subheader(t(lang, "usage_top_chats"))
        if not spenders:
            st.caption(t(lang, "usage_no_costs"))
            return
        for spent in spenders:
            row = st.container(horizontal=True, vertical_alignment="center")
            if spent.owner == visit.owner:  # a link opens only the visitor's own chats
                row.page_link(
                    CHAT_PAGE,
                    label=escape(spent.title or t(lang, "untitled")),
                    query_params={"session": spent.session_id},
                    icon=":material/chat:",
                )
            else:  # another user's chat (admins): no title, no link
                row.caption(t(lang, "usage_other_owner", owner=literal(spent.owner)))
            row.caption(
                t(
                    lang,
                    "usage_chat_figures",
                    cost=_at_least(lang, money(lang, _decimal(spent.cost)), spent.unpriced),
                    replies=spent.replies,
                    tokens=f"{spent.tokens:,}",
                )
            )


def _at_least(lang: str, cost: str, unpriced: int) -> str:
    """A cost, marked as a lower bound when some replies have no known price."""
    return t(lang, "usage_at_least", cost=cost) if unpriced else cost


def _table(columns: dict[str, list[str]]) -> None:
    """A Markdown table, figures (every column but the first) aligned right. The page's
    Markdown renderer draws it: a first visit loads no table element code."""
    st.markdown(table(columns, right=list(columns)[1:]))


def _decimal(amount: float) -> Decimal:
    return Decimal(str(round(amount, 6)))


def _default_mode(visit: Visit, everyone: bool) -> str:
    """The mode of a chat with none of its own: the visitor's preferred one for their
    own usage; for everyone's, the operator's (each owner's preference is read in SQL)."""
    return settings_or_stop().cache if everyone else visit.settings.cache


def _download(visit: Visit, owner, filters, first: date, last: date, mode: str) -> None:
    st.download_button(
        t(visit.lang, "usage_csv"),
        key="usage_csv",
        icon=":material/download:",
        data=lambda: feedback.exported(
            visit.lang,
            lambda: usage.usage_csv(
                shared_store(visit.settings),
                owner,
                filters,
                prices(visit.settings),
                default_mode=mode,
            ),
        ),
        file_name=f"usage-{first.isoformat()}-{last.isoformat()}.csv",
        mime="text/csv",
        on_click="ignore",
    )
