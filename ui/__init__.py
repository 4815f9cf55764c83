"""The Streamlit UI of Ark Chat: the only package that imports streamlit."""
