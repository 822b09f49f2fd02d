"""Portuguese and English for the whole UI.

Every tab module owns a `STRINGS` table: key -> (English, Brazilian Portuguese). Static text
(labels, Markdown, buttons, choices, tab names) is given to Gradio as `t(key)`; the browser
translates it with `gr.I18n`, choosing the language from the browser's locale (pt* ->
Portuguese, anything else -> English) or from the language switch on the page.

Gradio translates only some properties in the browser (label, info, value, choices, ...): error
messages, table headers and text drawn into images are built by the handlers at run time, in the
language `language(request)` returns for the request.

The switch stores the choice in a cookie and reloads the page; a script at the top of the page
(`HEAD_SCRIPT`, added by `install`) presents the chosen language to Gradio as the browser's before
Gradio starts, and the handlers read the same cookie (it wins over the browser's Accept-Language).
`?lang=pt-BR` or `?lang=en` in the address does the same, so a teacher can share a link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import gradio as gr
from gradio.i18n import I18nData
from starlette.middleware import Middleware

ENGLISH, PORTUGUESE = "en", "pt"
LANGUAGES = (ENGLISH, PORTUGUESE)
COOKIE = "segdemo_lang"

Table = Mapping[str, tuple[str, str]]

# Filled by `register` when each tab module is imported; `build` turns it into the gr.I18n object.
_TABLES: dict[str, tuple[str, str]] = {}


def register(table: Table) -> Table:
    """Adds a tab's strings to the app's table; a key may be defined only once.

    Raises:
        ValueError: a key defined twice with different text, or a string missing in one language.
    """
    for key, pair in table.items():
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(text, str) and text for text in pair)):
            raise ValueError(f"UI string {key!r} needs an English and a Portuguese text, got {pair!r}.")
        if key in _TABLES and _TABLES[key] != pair:
            raise ValueError(f"UI string {key!r} is defined twice with different texts.")
        _TABLES[key] = pair
    return table


def strings() -> dict[str, tuple[str, str]]:
    """Every registered key and its (English, Portuguese) texts."""
    return dict(_TABLES)


def t(key: str) -> I18nData:
    """A static UI string: translated in the browser."""
    if key not in _TABLES:
        raise ValueError(f"Unknown UI string {key!r}: add it to its tab's STRINGS table.")
    return I18nData(key)


def text(key: str, language: str, **values) -> str:
    """A UI string in `language` ("en" or "pt"), for text built at run time; formatted with
    `values` when any are given (without, a template such as "{width} px" is returned as it is)."""
    if key not in _TABLES:
        raise ValueError(f"Unknown UI string {key!r}: add it to its tab's STRINGS table.")
    english, portuguese = _TABLES[key]
    chosen = portuguese if language == PORTUGUESE else english
    return chosen.format(**values) if values else chosen


def pick(accept_language: str | None, cookie: str | None = None) -> str:
    """The language for a request: the switch's cookie when set, else the browser's first
    preferred language (Accept-Language, highest q first): "pt" for pt*, "en" otherwise."""
    if cookie:
        return PORTUGUESE if cookie.lower().startswith("pt") else ENGLISH
    preferences = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            preferences.append((-quality, position, tag.lower()))
    if not preferences:
        return ENGLISH
    return PORTUGUESE if min(preferences)[2].startswith("pt") else ENGLISH


def language(request: gr.Request | None) -> str:
    """The language of the browser that sent `request` ("en" when there is none: API clients)."""
    if request is None:
        return ENGLISH
    headers = getattr(request, "headers", None) or {}
    cookies = getattr(request, "cookies", None) or {}
    return pick(headers.get("accept-language"), cookies.get(COOKIE))


def english_label(label):
    """A component's label as the API describes it: a translated label (a key, or its JSON form
    in the page's config) in English; any other label as it is."""
    key = getattr(label, "key", None)
    if key is None and isinstance(label, dict) and label.get("__type__") == "translation_metadata":
        key = label.get("key")
    return text(key, ENGLISH) if key in _TABLES else label


def english_api_info(info: dict) -> dict:
    """Gradio's API description (`Blocks.get_api_info`: what `gradio_client`'s view_api() and the
    page's "Use via API" show) with every input's and output's label in English: Gradio describes
    each by its label, and a translated label is only a key until the browser translates it."""
    for section in ("named_endpoints", "unnamed_endpoints"):
        for endpoint in info.get(section, {}).values():
            for item in (*endpoint.get("parameters", ()), *endpoint.get("returns", ())):
                item["label"] = english_label(item.get("label"))
    return info


def build(tables: Iterable[Table] = ()) -> gr.I18n:
    """The gr.I18n object for launch(): English, and Portuguese for both pt and pt-BR browsers."""
    for table in tables:
        register(table)
    english = {key: pair[0] for key, pair in _TABLES.items()}
    portuguese = {key: pair[1] for key, pair in _TABLES.items()}
    # Gradio matches the browser's locale against its own language list: "pt-BR" and "pt" are
    # both in it, so both get the Portuguese table (svelte-i18n falls back from pt-BR to pt too).
    return gr.I18n(en=english, pt=portuguese, **{"pt-BR": portuguese})


# The browser side of the choice. Gradio picks its locale once, from navigator.language, when the
# page starts; its changeLocale() later re-translates only some of what is already on the page (the
# other tabs' names and Gradio's own upload texts stay as they were). So the choice is made before
# Gradio starts: this script, put at the top of the page's <head> by `LocaleScript`, reads ?lang=...
# or the switch's cookie and presents that language as the browser's. Nothing from the request is
# written into the page: the script only ever chooses between the two fixed locales.
HEAD_SCRIPT = """<script>(function () {
  var asked = new URLSearchParams(window.location.search).get('lang');
  var stored = document.cookie.split('; ').filter(function (item) { return item.indexOf('COOKIE=') === 0; })[0];
  var choice = asked || (stored ? stored.split('=')[1] : '');
  if (!choice) { return; }
  var locale = choice.toLowerCase().indexOf('pt') === 0 ? 'pt-BR' : 'en';
  if (asked) { document.cookie = 'COOKIE=' + locale + '; path=/; max-age=31536000; SameSite=Lax'; }
  Object.defineProperty(navigator, 'language', { get: function () { return locale; } });
  Object.defineProperty(navigator, 'languages', { get: function () { return [locale]; } });
})();</script>""".replace("COOKIE", COOKIE)


def switch_js(locale: str) -> str:
    """JavaScript for a button that switches the page to `locale` ("pt-BR" or "en"): it stores the
    choice in the cookie (which the handlers read too) and reloads the page."""
    return f"""() => {{
    document.cookie = '{COOKIE}={locale}; path=/; max-age=31536000; SameSite=Lax';
    const address = new URL(window.location.href);
    address.searchParams.delete('lang');
    window.location.replace(address.toString());
}}"""


class LocaleScript:
    """ASGI wrapper that puts `HEAD_SCRIPT` at the top of the <head> of the app's page ("/").

    Args:
        app: the ASGI application to wrap (the Gradio app's middleware stack).
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        parts: list[bytes] = []

        async def rewrite(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body" or not start:
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(parts)
            headers = [(name, value) for name, value in start["headers"] if name.lower() != b"content-length"]
            is_html = any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)
            encoded = any(name.lower() == b"content-encoding" for name, _ in headers)
            if is_html and not encoded and b"<head>" in body:
                body = body.replace(b"<head>", b"<head>" + HEAD_SCRIPT.encode(), 1)
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


def locale_middleware() -> Middleware:
    """`LocaleScript` as Starlette middleware, for the app's constructor (launch's `app_kwargs`):
    in place before the server answers its first request."""
    return Middleware(LocaleScript)
