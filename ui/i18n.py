"""Portuguese and English for the whole UI.

Every tab module owns a `STRINGS` table: key -> (English, Brazilian Portuguese). Static text
(labels, Markdown, buttons, choices, tab names) is given to Gradio as `t(key)`; the browser
translates it with `gr.I18n`, choosing the language from the browser's locale (pt* ->
Portuguese, anything else -> English) or from the language switch on the page.

Gradio translates only some properties in the browser (label, info, value, choices, ...): error
messages, table headers and text drawn into images are built by the handlers at run time, in the
language `language(request)` returns for the request.

The switch: Gradio's own frontend exports `changeLocale`; the switch's JavaScript imports that
module (already loaded, so it is the same instance), changes the locale at once and stores the
choice in a cookie, which the handlers read (it wins over the browser's Accept-Language) and
which is applied again on the next visit. `?lang=pt-BR` or `?lang=en` in the address does the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import gradio as gr
from gradio.i18n import I18nData

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


def build(tables: Iterable[Table] = ()) -> gr.I18n:
    """The gr.I18n object for launch(): English, and Portuguese for both pt and pt-BR browsers."""
    for table in tables:
        register(table)
    english = {key: pair[0] for key, pair in _TABLES.items()}
    portuguese = {key: pair[1] for key, pair in _TABLES.items()}
    # Gradio matches the browser's locale against its own language list: "pt-BR" and "pt" are
    # both in it, so both get the Portuguese table (svelte-i18n falls back from pt-BR to pt too).
    return gr.I18n(en=english, pt=portuguese, **{"pt-BR": portuguese})


# The browser side of the switch. `changeLocale` is exported by Gradio's core module, which the
# page has already loaded; importing its URL again returns the same module, so the page's own
# translation store changes. The cookie tells the handlers (and the next visit) the choice.
_CORE_MODULE_JS = """
const findCore = () => performance.getEntriesByType('resource').map((entry) => entry.name)
    .find((name) => /\\/assets\\/core-[^/]*\\.js$/.test(name));
const applyLocale = async (locale) => {
    document.cookie = `COOKIE=${locale}; path=/; max-age=31536000; SameSite=Lax`;
    const url = findCore();
    if (url) { (await import(url)).changeLocale(locale); }
};
""".replace("COOKIE", COOKIE)


def switch_js(locale: str) -> str:
    """JavaScript for a button that switches the page to `locale` ("pt-BR" or "en")."""
    return f"async () => {{ {_CORE_MODULE_JS} await applyLocale('{locale}'); }}"


def load_js() -> str:
    """JavaScript run when the page loads: applies ?lang=... or the stored choice, if any."""
    return f"""async () => {{ {_CORE_MODULE_JS}
    const asked = new URLSearchParams(window.location.search).get('lang');
    const stored = document.cookie.split('; ').find((item) => item.startsWith('{COOKIE}='));
    const locale = asked ? (asked.toLowerCase().startsWith('pt') ? 'pt-BR' : 'en') : (stored ? stored.split('=')[1] : null);
    if (locale) {{ await applyLocale(locale); }}
}}"""
