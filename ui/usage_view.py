"""The Usage page: what the visitor's replies used and cost."""

from __future__ import annotations

import streamlit as st

from .shell import this_visit
from .text import t


def usage_page() -> None:
    visit = this_visit()
    st.title(t(visit.lang, "page_usage"))
