"""The Responses API's built-in `web_search` tool (types/responses/web_search_tool_param.py).

A request whose `tools` hold `{"type": "web_search", ...}` searches once before it
answers, for the user's last text. The stream then carries what real Ark streams for a
search (types/responses/response_stream_event.py): a `web_search_call` output item with
`response.web_search_call.in_progress`, `.searching` and `.completed`, then the message,
whose text part gets one `response.output_text.annotation.added` event per source (an
`url_citation` with title, url and site name) before its text; the final message lists
the same annotations. Sources are `limit` (default 3) pages on `search.example`, a name
reserved for examples that resolves nowhere.

Caching cannot be combined with tools other than function calling (ark-api.md §6): such
a request is refused with 400 InvalidParameter (the wording is an inference, modelled on
the documented refusal of caching with instructions).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from . import errors

DEFAULT_LIMIT = 3
MAX_QUERY_CHARS = 60
SITE = "search.example"


@dataclass(frozen=True)
class Search:
    """One search of a turn: what was searched for and the pages found."""

    query: str
    sources: tuple[dict, ...]


def search_tool(body: dict) -> dict | None:
    """The request's web_search tool, or None."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return next((t for t in tools if isinstance(t, dict) and t.get("type") == "web_search"), None)


def check_tools(body: dict, caching_on: bool) -> None:
    """Refuse caching together with a built-in tool."""
    if caching_on and search_tool(body) is not None:
        raise errors.invalid_parameter(
            "tools", "caching is not supported for tools other than function"
        )


def plan_search(body: dict, prompt: str) -> Search | None:
    """The search a request makes, or None without the web_search tool."""
    tool = search_tool(body)
    if tool is None:
        return None
    limit = tool.get("limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        raise errors.invalid_parameter("tools", "limit must be a whole number from 1 to 50")
    query = " ".join(prompt.split())[:MAX_QUERY_CHARS] or "search"
    return Search(query, tuple(_source(query, n) for n in range(1, limit + 1)))


def _source(query: str, number: int) -> dict:
    return {
        "type": "url_citation",
        "title": f"Result {number} for {query}",
        "url": f"https://{SITE}/{number}?q={quote(query)}",
        "site_name": SITE,
    }
