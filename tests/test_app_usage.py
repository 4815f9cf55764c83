"""AppTest: the Usage page, its filters, its links and who sees whose usage."""

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chat_core.markdown import literal
from chat_core.store import connect
from tests.databases import run_sql
from tests.test_app import AUTH, ISSUER, app, close_clients, env  # noqa: F401 (fixtures)
from ui import usage_view

pytestmark = pytest.mark.usefixtures("env")  # the app's settings, on `db_path`

TODAY = datetime.now(UTC).date()
EARLIER = TODAY - timedelta(days=10)
MODEL_A = "doubao-seed-1-6-250615"  # priced in the catalogue
MODEL_B = "mystery-model"  # no known price
USAGE = "app_pages/usage.py"


def reply(day, model, prompt, cached, completion, status="complete", **more):
    return {
        "role": "assistant",
        "content": "answer",
        "created_at": f"{day.isoformat()}T08:00:00.000000+00:00",
        "status": status,
        "model": model,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "completion_tokens": completion,
        "reasoning_tokens": 0,
        "latency_ms": 1200,
        "first_token_ms": 300,
        **more,
    }


@pytest.fixture
def seeded(db_path):
    with connect(db_path) as store:
        mine = store.import_session(
            "local",
            "My *costly* chat",
            [
                reply(TODAY, MODEL_A, 1000, 200, 300),
                reply(EARLIER, MODEL_A, 500, 0, 100),
                reply(TODAY, MODEL_B, 40, 0, 10, status="error", error_code="rate_limited"),
            ],
        )
        theirs = store.import_session(
            "oidc:https://accounts.example.com#boss", "Boss chat", [reply(TODAY, MODEL_A, 9, 0, 1)]
        )
    return mine, theirs


def usage_page(at: AppTest) -> AppTest:
    at.run()
    return at.switch_page(USAGE).run()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def elements(node):
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield child
        yield from elements(child)


def chart_count(at) -> int:
    return sum(1 for e in elements(at.main) if e.type == "vega_lite_chart")


def table(at, key: str) -> dict[str, list[str]]:
    """The columns (title to Markdown cells) of the Markdown table in the page's
    container with this key."""
    block = at.main.get_by_key(key)
    source = next(e.value for e in elements(block) if e.type == "markdown" and "|" in e.value)
    head, rule, *rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in source.splitlines()]
    assert set("".join(rule)) <= {"-", ":", " "}
    cells = [[cell.strip() for cell in row] for row in rows]
    return {title.strip(): [row[i] for row in cells] for i, title in enumerate(head)}


def test_the_page_draws_cards_and_charts_for_the_last_30_days(seeded):
    at = usage_page(app())
    assert not at.exception
    found = metrics(at)
    assert found["Replies"] == "3"
    assert found["Input tokens"] == "1,540"
    assert found["Output tokens"] == "410"
    assert found["Cache hit rate"] == "13.0%"
    assert found["Cost"].startswith("≥ ¥")  # the mystery model has no price
    assert chart_count(at) == 3  # cost, tokens, cache hits
    latency = table(at, "usage_latency")
    assert list(latency["Model"]) == [literal(MODEL_A), literal(MODEL_B)]
    assert list(latency["first token, p50"]) == ["300 ms", "300 ms"]
    assert list(latency["whole reply, p95"]) == ["1,200 ms", "1,200 ms"]
    statuses = table(at, "usage_statuses")
    assert list(zip(statuses["Status"], statuses["Replies"], strict=True)) == [
        ("Complete", "2"),
        ("Failed", "1"),
    ]


def test_the_charts_keep_days_without_replies_in_their_place(seeded):
    at = usage_page(app())
    specs = [json.loads(e.proto.spec) for e in elements(at.main) if e.type == "vega_lite_chart"]
    days = [(TODAY - timedelta(days=back)).isoformat() for back in range(29, -1, -1)]
    assert [spec["encoding"]["x"]["scale"]["domain"] for spec in specs] == [days] * 3


def test_the_date_filter_narrows_every_figure(seeded):
    at = usage_page(app())
    at.date_input(key="usage_dates").set_value((EARLIER, EARLIER)).run()
    assert not at.exception
    found = metrics(at)
    figures = (found["Replies"], found["Input tokens"], found["Cache hit rate"])
    assert figures == ("1", "500", "0.0%")
    assert not found["Cost"].startswith("≥")
    at.date_input(key="usage_dates").set_value((TODAY + timedelta(days=1),) * 2).run()
    assert [i.value for i in at.info] == ["No replies in these dates."]


@pytest.mark.parametrize("dates", [("2026-13-45", "2026-01-01"), ("yesterday", "")])
def test_dates_in_the_address_that_are_not_dates_say_so(seeded, dates):
    at = app()
    at.query_params["from"], at.query_params["to"] = dates
    at = usage_page(at)
    assert not at.exception
    assert any("not dates" in i.value for i in at.info)
    assert metrics(at)["Replies"] == "3"  # the last 30 days


def test_the_model_filter_keeps_the_other_models_on_offer(seeded):
    at = usage_page(app())
    picker = at.multiselect(key="usage_models")
    assert picker.options == [MODEL_A, MODEL_B]
    picker.set_value([MODEL_B]).run()
    assert not at.exception
    found = metrics(at)
    assert (found["Replies"], found["Input tokens"]) == ("1", "40")
    assert at.multiselect(key="usage_models").options == [MODEL_A, MODEL_B]


def test_top_chats_link_to_the_chat_with_its_title_as_plain_text(seeded):
    mine, _ = seeded
    at = usage_page(app())
    links = [e for e in elements(at.main) if e.type == "page_link"]
    assert len(links) == 1
    link = links[0].proto
    assert link.label == r"My \*costly\* chat"
    assert f"session={mine.id}" in link.query_string
    assert "Boss chat" not in str([c.value for c in at.caption])
    # Its reply of a model with no known price counts, and makes the cost a lower bound.
    (figures,) = [c.value for c in at.caption if "replies" in c.value]
    assert figures.startswith("≥ ") and figures.endswith(" · 3 replies · 1,950 tokens")


def test_errors_are_listed_by_kind(seeded):
    at = usage_page(app())
    frame = table(at, "usage_errors")
    assert list(frame["Replies"]) == ["1"]
    assert frame["Error"][0].startswith("The model service is receiving too many requests")


def signed_in(**claims) -> AppTest:
    at = app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "iss": ISSUER, **claims}
    return at


def test_only_an_admin_may_see_everyones_usage(seeded, monkeypatch):
    monkeypatch.setenv("CHAT_USAGE_ADMINS", "boss@example.com")
    boss = usage_page(signed_in(sub="boss", email="boss@example.com", email_verified=True))
    assert metrics(boss)["Replies"] == "1"  # their own
    boss.toggle(key="usage_everyone").set_value(True).run()
    assert not boss.exception
    assert metrics(boss)["Replies"] == "4"
    captions = [c.value for c in boss.caption]
    assert any("A chat of local" in c for c in captions)  # another's chat: no title, no link
    assert "My" not in str([e.proto.label for e in elements(boss.main) if e.type == "page_link"])
    worker = usage_page(signed_in(sub="worker", email="worker@example.com", email_verified=True))
    assert not worker.exception
    assert not [t for t in worker.toggle if t.key == "usage_everyone"]
    assert [i.value for i in worker.info] == ["No replies in these dates."]


def test_a_local_visitor_is_never_an_admin(seeded, monkeypatch):
    monkeypatch.setenv("CHAT_USAGE_ADMINS", "local")
    at = usage_page(app())
    assert not [t for t in at.toggle if t.key == "usage_everyone"]
    assert metrics(at)["Replies"] == "3"


def test_back_on_the_chat_page_the_open_chat_stays_open(seeded):
    mine, _ = seeded
    at = app(session=mine.id).run()
    at.switch_page(USAGE).run()
    at.switch_page("app_pages/chat.py").run()
    assert not at.exception
    assert at.query_params["session"] in (mine.id, [mine.id])


def test_model_ids_and_error_codes_in_the_tables_are_shown_literally(db_path):
    model, code = "[free](https://evil.example) :red[x] | y", "**odd**_code"
    with connect(db_path) as store:
        store.import_session(
            "local",
            "Odd",
            [reply(TODAY, model, 10, 0, 5, status="error", error_code=code)],
        )
    at = usage_page(app())
    assert not at.exception
    (cell,) = table(at, "usage_latency")["Model"]
    assert cell == literal(model)  # Markdown source that shows the id as it is
    (kind,) = table(at, "usage_errors")["Error"]
    assert literal(code) in kind and code not in kind


def test_values_edited_by_hand_into_the_database_count_as_not_set_or_show_as_they_are(db_path):
    with connect(db_path) as store:
        asked = {**reply(TODAY, MODEL_A, 0, 0, 0), "role": "user", "content": "question"}
        chat = store.import_session("local", "Edited", [asked, reply(TODAY, MODEL_A, 100, 50, 5)])
        store.create_share("local", chat.id, "anyone")
    run_sql(
        db_path,
        "UPDATE chat_session SET cache_mode = 'my-mode', thinking = 'sometimes', "
        "reasoning_effort = 'max'",
    )
    run_sql(db_path, "UPDATE share_link SET audience = '**everyone**'")
    at = usage_page(app())
    assert not at.exception
    charts = [e.proto for e in elements(at.main) if e.type == "vega_lite_chart"]
    modes = [chart.data.data for chart in charts if b"Stateless" in chart.data.data]
    assert modes and b"my-mode" not in modes[0]  # counted in the default mode
    at.switch_page("app_pages/links.py").run()
    assert not at.exception
    assert [c.value for c in at.caption if literal("**everyone**") in c.value]
    at = app(session=chat.id).run()  # the chat runs on the defaults
    assert not at.exception
    assert [c.value for c in at.caption if "Stateless (full history)" in c.value]
    at.chat_input(key="chat_input").set_value("still here?").run()
    assert not at.exception
    assert [m.value for m in at.chat_message[-1].markdown if "Echo: still here?" in m.value]


def test_the_period_is_redrawn_from_the_figures_read_and_a_new_visit_reads_again(seeded, db_path):
    at = usage_page(app())
    assert metrics(at)["Replies"] == "3"
    with connect(db_path) as store:  # a reply finishes meanwhile, in another tab
        store.import_session("local", "Later chat", [reply(TODAY, MODEL_A, 10, 0, 5)])
    at.radio(key="usage_period").set_value("week").run()
    assert not at.exception
    assert metrics(at)["Replies"] == "3"  # by week, from the groups this visit read
    at.switch_page("app_pages/chat.py").run()
    at.switch_page(USAGE).run()
    assert metrics(at)["Replies"] == "4"  # opened again: read again


def test_a_visits_figures_are_kept_by_the_pages_thread_alone():
    # A worker adding an answer while the page's thread looks through the kept ones
    # would break the page ("dictionary changed size during iteration").
    writers = []

    class Kept(dict):
        def __setitem__(self, key, value):
            writers.append(threading.current_thread())
            super().__setitem__(key, value)

    def latency_counts(number):
        return number * 2

    st.session_state[usage_view.READ_KEY] = Kept()
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = usage_view._read(pool, latency_counts, 21)
        pool.submit(time.sleep, 0).result()  # the query has finished on the worker
        assert writers == []
        assert answer.result() == 42
        assert writers == [threading.current_thread()]
        again = usage_view._read(pool, latency_counts, 21)
        assert again.result() == 42 and len(writers) == 1  # reused, not read again
