"""Links from chat to the workspace tab's pages, and from the tab back to chat.

In Teams a card links to a page of the app's personal tab with a deep link naming the tab
(`entityId`) and the page (`subEntityId`, read by the page from TeamsJS' context). Without an app id
(local use) there is no Teams to open it in, so the link is the page's own address on this machine.
"""

import json
from collections.abc import Callable
from urllib.parse import quote, urlencode

WORKSPACE_TAB = "workspace"  # the static tab's entityId in the manifest

Linker = Callable[[str], str]


def deep_link(app_id: str, page: str) -> str:
    """`page` ("incident/5") in the tab, as a Teams deep link."""
    context = json.dumps({"subEntityId": page}, separators=(",", ":"))
    query = urlencode({"label": "Register", "context": context}, quote_via=quote)
    return f"https://teams.microsoft.com/l/entity/{app_id}/{WORKSPACE_TAB}?{query}"


def linker(app_id: str, base_url: str) -> Linker:
    if app_id:
        return lambda page: deep_link(app_id, page)
    return lambda page: f"{base_url.rstrip('/')}/tab#/{page}"


def chat_link(app_id: str) -> str:
    """The bot's 1:1 chat, as a Teams deep link (a bot's id in a chat is `28:` and its app id)."""
    return f"https://teams.microsoft.com/l/chat/0/0?users=28:{app_id}"
