"""Ark Chat core: settings, the SQLite store, the Ark model layer and their errors.

Nothing in this package imports streamlit.
"""
