"""Ark Chat: chat with Volcengine Ark (Doubao) models. Run `streamlit run streamlit_app.py`.

The entry point is the frame of every page: it reads the settings and the visitor,
lets the navigation pick the page (the chat, or the usage dashboard), runs it, then
draws the sidebar parts all pages share.
"""

import streamlit as st

from ui import shell

frame = shell.open_frame()
page = st.navigation(shell.pages(frame))
visit = shell.enter(frame, page)
page.run()
shell.shared_sidebar(visit)
