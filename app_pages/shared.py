"""What a share link opens (`/shared?link=<token>`): a read-only snapshot of a chat."""

from ui.share_view import shared_page

shared_page()
