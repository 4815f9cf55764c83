"""Ark Chat: chat with Volcengine Ark (Doubao) models. Run `streamlit run streamlit_app.py`."""

from ui.app import main

main()
