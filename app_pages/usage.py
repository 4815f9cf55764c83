"""The Usage page: tokens, cost, cache hits, latency and failures of the visitor's replies."""

from ui.usage_view import usage_page

usage_page()
