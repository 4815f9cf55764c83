"""The Chat page: the chat in `?session=`, its history, input and sidebar."""

from ui.app import chat_page

chat_page()
