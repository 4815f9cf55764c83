"""The naive peer for `e2e_perf.py`: Streamlit's "Build a basic LLM chat app" tutorial on Ark.

History lives in `st.session_state`, every message is re-rendered on each rerun, and
`st.write_stream` reads the SDK stream directly. No database, no fragment, no coalescing:
this is the baseline a user would otherwise pick, so keep it naive.

Settings: ARK_API_KEY, ARK_BASE_URL, ARK_MODEL. Benchmark hook: with PEER_HISTORY_DIR set,
`?history=NAME` loads `PEER_HISTORY_DIR/NAME.json` (a list of {"role", "content"}) into a
new browser session's history, so the peer starts from the same chat as the app.
"""

import json
import os
from pathlib import Path

import streamlit as st
from volcenginesdkarkruntime import Ark

st.title("Peer chat")

# The SDK ignores ARK_BASE_URL, so pass it on.
client = Ark(api_key=os.environ["ARK_API_KEY"], base_url=os.environ["ARK_BASE_URL"])


def injected_history() -> list[dict]:
    folder, name = os.environ.get("PEER_HISTORY_DIR"), st.query_params.get("history")
    if not folder or not name or not name.isalnum():
        return []
    return json.loads((Path(folder) / f"{name}.json").read_text())


def content_deltas(stream):
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


if "messages" not in st.session_state:
    st.session_state.messages = injected_history()

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

if prompt := st.chat_input("What is up?", key="chat_input"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)

    with st.chat_message("assistant"):
        stream = client.chat.completions.create(
            model=os.environ["ARK_MODEL"],
            messages=[
                {"role": m["role"], "content": m["content"]} for m in st.session_state.messages
            ],
            stream=True,
        )
        response = st.write_stream(content_deltas(stream))
    st.session_state.messages.append({"role": "assistant", "content": response})
