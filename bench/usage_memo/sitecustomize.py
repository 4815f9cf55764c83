"""Loaded by a benchmark's Streamlit server (its PYTHONPATH holds this folder): the
Usage page's three store queries answer from memory after their first run, so
`bench_usage.py` can time what the page costs beyond its queries (Streamlit, the page's
script and the browser drawing its elements). Never part of the app."""

from chat_core.store.usage import UsageFigures


def _remembered(query):
    answers = {}

    def answer(store, *args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in answers:
            answers[key] = query(store, *args, **kwargs)
        return answers[key]

    answer.__name__ = query.__name__  # the page keys its reuse by the query's name
    return answer


for _name in ("usage_groups", "latency_counts", "top_chats"):
    setattr(UsageFigures, _name, _remembered(getattr(UsageFigures, _name)))
