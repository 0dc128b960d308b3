"""Small functions that build the workspace's HTML from data, as cards/elements.py builds cards.

Everything given as text is escaped here; `Html` marks what is already markup. Pages are plain
semantic HTML (headings, tables with captions and header cells, labelled form controls), which
screen readers and keyboards handle without help, and which Teams' themes restyle through CSS.
"""

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode


class Html(str):
    """Markup already built (and escaped) by these functions."""


def esc(value: object) -> str:
    if isinstance(value, Html):
        return value
    return html.escape("" if value is None else str(value))


def join(parts: Iterable[object]) -> Html:
    return Html("".join(esc(p) for p in parts if p is not None))


def tag(element: str, /, *children: object, **attributes: object) -> Html:
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{html.escape(str(value), quote=True)}"'
        for key, value in attributes.items()
        if value is not None and value is not False
    )
    return Html(f"<{element}{attrs}>{join(children)}</{element}>")


def route(path: str, **query: object) -> str:
    """A page of the tab, as its links name it: `#/incident/5`, `#/register?q=...`."""
    given = {k: v for k, v in query.items() if v not in (None, "")}
    return "#" + path + (("?" + urlencode(given)) if given else "")


def link(text: object, href: str, **attributes: object) -> Html:
    return tag("a", text, href=href, **attributes)


def heading(text: object, level: int = 2, **attributes: object) -> Html:
    return tag(f"h{level}", text, **attributes)


def para(*children: object, class_: str | None = None) -> Html:
    return tag("p", *children, class_=class_)


def count_badge(count: int, *, capped: bool = False) -> Html:
    shown = f"{count:,}+" if capped else f"{count:,}"
    return tag("span", shown, class_="count" + (" zero" if count == 0 else ""))


def facts(pairs: Iterable[tuple[str, object]]) -> Html:
    rows = [(k, v) for k, v in pairs if v not in (None, "")]
    if not rows:
        return Html("")
    return tag("dl", *(join([tag("dt", k), tag("dd", v)]) for k, v in rows), class_="facts")


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str) -> Html:
    body = [tag("tr", *(tag("td", cell) for cell in row)) for row in rows]
    if not body:
        return para(empty, class_="empty")
    return tag(
        "table",
        tag("caption", caption),
        tag("thead", tag("tr", *(tag("th", h, scope="col") for h in headers))),
        tag("tbody", *body),
    )


def section(title: str, *children: object, id_: str | None = None) -> Html:
    label = f"{id_}-heading" if id_ else None
    return tag("section", heading(title, 2, id_=label), *children, aria_labelledby=label, id_=id_)


def button(text: str, **attributes: object) -> Html:
    return tag("button", text, type_="button", **attributes)


def download(text: str, url: str) -> Html:
    """A download the page's script fetches with the signed-in person's token."""
    return tag("a", text, href="#", data_download=url, class_="download")


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def select(name: str, label: str, options: Sequence[Option], chosen: str) -> Html:
    field_id = f"f-{name}"
    return tag(
        "div",
        tag("label", label, for_=field_id),
        tag(
            "select",
            tag("option", "Any", value=""),
            *(tag("option", o.label, value=o.value, selected=o.value == chosen) for o in options),
            id_=field_id,
            name=name,
        ),
        class_="field",
    )


def field(name: str, label: str, value: str, *, type_: str = "text", hint: str | None = None) -> Html:
    field_id = f"f-{name}"
    hint_id = f"{field_id}-hint" if hint else None
    return tag(
        "div",
        tag("label", label, for_=field_id),
        tag("span", hint, id_=hint_id, class_="hint") if hint else None,
        Html(
            f'<input id="{field_id}" name="{esc(name)}" type="{esc(type_)}" value="{esc(value)}"'
            + (f' aria-describedby="{hint_id}"' if hint_id else "")
            + ">"
        ),
        class_="field",
    )


@dataclass(frozen=True)
class Page:
    """What the tab shows: a title (the document's and the first heading) and the markup."""

    title: str
    body: Html
    status: int = 200
