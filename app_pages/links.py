"""The Shared links page: the visitor's share links, to copy or revoke."""

from ui.share_view import links_page

links_page()
