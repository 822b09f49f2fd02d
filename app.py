"""segdemo: compare the lecture's segmentation models side by side.

Run with `make run` (or `python app.py`); GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are respected.
This file only composes the UI: each tab is one module of `ui.tabs` (in the lecture's order),
with its own Portuguese and English strings; `ui.common` and `ui.i18n` hold what they share.
"""

from __future__ import annotations

import logging
import os
import threading

# Before Gradio is imported: no usage analytics leave the server.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Example outputs are cached lazily per server run: outputs cached by an earlier run (other weights,
# another layout) are dropped at start rather than served.
os.environ.setdefault("GRADIO_RESET_EXAMPLES_CACHE", "True")

import gradio as gr

from segdemo import cpu, health, registry, runtime, settings
from ui import i18n
from ui.i18n import t
from ui.tabs import ORDER, photos

STRINGS = i18n.register(
    {
        "sd_title": ("segdemo: FCN, U-Net, PSPNet", "segdemo: FCN, U-Net, PSPNet"),
        "sd_intro": (
            (
                "# segdemo: semantic segmentation, side by side\n"
                "The models of the lecture on FCN, U-Net and PSPNet (PSI3472), in the lecture's order. Pick an example or upload "
                "your own image, tick models and compare their outputs. Everything runs on the server."
            ),
            (
                "# segdemo: segmentação semântica lado a lado\n"
                "Os modelos da aula sobre FCN, U-Net e PSPNet (PSI3472), na ordem da aula. Escolha um exemplo ou envie sua própria "
                "imagem, marque os modelos e compare as saídas. Tudo roda no servidor."
            ),
        ),
        "sd_language": ("Language:", "Idioma:"),
        "sd_device": (
            "The networks run on: **{device}** ({workers} at a time).",
            "As redes rodam em: **{device}** ({workers} por vez).",
        ),
    }
)

# Phones: columns stack (min_width on each column); the figures scale to the page's width.
CSS = """
.sd-language { align-items: center; gap: 6px; }
.sd-language button { flex: 0 0 auto; min-width: 0; }
.sd-model-about p { margin: 0 0 4px 0; font-size: 0.9em; }
"""


class SegdemoBlocks(gr.Blocks):
    """The page's gr.Blocks, whose API description names each input and output by its English label
    (`i18n.english_api_info`) instead of the translation key Gradio would show."""

    def get_api_info(self, *args, **kwargs):
        return i18n.english_api_info(super().get_api_info(*args, **kwargs))


def keep_only_tabs_in(tabs: gr.Tabs, demo: gr.Blocks) -> None:
    """Moves whatever a tab module created beside its gr.Tab (a gr.Timer, a gr.State) out of the
    gr.Tabs, to the page's top level: a non-tab child of gr.Tabs made the browser show the next
    tab's button twice once that tab was opened.

    Args:
        tabs: the gr.Tabs holding the tabs of `ui.tabs.ORDER`.
        demo: the page's gr.Blocks.
    """
    for child in [child for child in tabs.children if not isinstance(child, gr.Tab)]:
        tabs.children.remove(child)
        child.parent = demo
        demo.children.append(child)


def build_app() -> gr.Blocks:
    """The whole UI: a header with the language switch, then the tabs of `ui.tabs.ORDER`."""
    # delete_cache: uploaded and generated files older than an hour are removed every hour.
    with SegdemoBlocks(title="segdemo: FCN, U-Net, PSPNet", delete_cache=(3600, 3600)) as demo:
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                gr.Markdown(t("sd_intro"))
                device = gr.Markdown(elem_id="sd-device")
            with gr.Column(scale=1, min_width=200):
                with gr.Row(elem_classes=["sd-language"]):
                    gr.Markdown(t("sd_language"))
                    # Each button names its language in that language: findable whatever the page shows.
                    portuguese = gr.Button("Português", size="sm", elem_id="sd-lang-pt")
                    english = gr.Button("English", size="sm", elem_id="sd-lang-en")
        portuguese.click(None, js=i18n.switch_js("pt-BR"))
        english.click(None, js=i18n.switch_js("en"))
        # "wrap": on a phone every tab stays visible, on two or three lines, instead of in a menu.
        with gr.Tabs(overflow_behavior="wrap") as tabs:
            for tab in ORDER:
                tab.build()
        keep_only_tabs_in(tabs, demo)
        # Which device runs the networks (a Colab GPU, say), once TensorFlow is up; outside the queue.
        demo.load(device_line, None, device, queue=False, api_visibility="private")
    # One queue for all inference (the events share concurrency_id "inference"): SEGDEMO_WORKERS
    # requests run at once (1 on up to 3 cores, see segdemo.cpu.default_workers), and at most
    # QUEUE_SIZE wait; beyond that clients get Gradio's "queue is full" answer.
    current = settings.get()
    demo.queue(default_concurrency_limit=current.workers, max_size=current.queue_size)
    return demo


def device_line(request: gr.Request = None) -> str:
    """The page's line naming the device the networks run on ("CPU" or "GPU: <name>") and the workers."""
    runtime.import_tensorflow()
    return i18n.text("sd_device", i18n.language(request), device=runtime.device(), workers=settings.get().workers)


def health_route():
    """GET /health: which models are ready and which weights are missing (JSON)."""
    return health.report()


def launch(share: bool = False) -> gr.Blocks:
    """Builds the app, starts its server (without blocking) and the warm-up, and returns it.

    Args:
        share: ask Gradio for a public *.gradio.live link (the Colab notebook; never on a Space
            or a university machine, where the server's own address is the link).
    """
    cpu.limit_heap_growth(settings.get().workers)
    demo = build_app()
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=share,
        show_error=False,  # only our own gr.Error messages reach the browser
        allowed_paths=[],
        blocked_paths=[*map(str, settings.weights_dirs()), str(settings.cache_dir())],
        max_file_size="10mb",
        enable_monitoring=False,
        prevent_thread_lock=True,
        i18n=i18n.build(),  # after the tabs are built: some register strings while building
        css=CSS,
        # Spaces set GRADIO_SSR_MODE=true; a Node server would then render the page and the
        # language script would never reach its <head>.
        ssr_mode=False,
        # The language switch and ?lang=... act before Gradio starts in the browser: the page's
        # <head> gets their script from the first request on (see ui/i18n.py).
        app_kwargs={"middleware": [i18n.locale_middleware()]},
    )
    demo.app.add_api_route("/health", health_route, methods=["GET"])
    _log_progress()
    threading.Thread(target=warm_up, daemon=True, name="segdemo-warm-up").start()
    return demo


def _log_progress() -> None:
    """segdemo's progress lines (the engines' conversion, calibration and choice) on stderr."""
    logger = logging.getLogger("segdemo")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def warm_up() -> None:
    """Runs in the background after the page is up: TensorFlow and the small models first (the
    first comparison does not wait for them), then the photo tab's default network when its weights
    are already here (never a download at start), which also starts measuring its engines
    (segdemo.engines): no student's request waits for a conversion or a calibration."""
    runtime.warm_up(registry.keys("eliret"))
    offline = settings.get().offline
    present = [key for key in photos.DEFAULT_MODELS if health.weights_state(registry.get(key), offline) == "present"]
    runtime.warm_up(present)


def main() -> None:
    launch().block_thread()


if __name__ == "__main__":
    main()
