"""Tab 6: look inside the networks (issue 14): one module per view, as in `segdemo.inside`.

- `layers`: feature maps (a model's layers, one layer's channels);
- `skips`: the decoder with and without skip connections;
- `pyramid_pooling`: PSPNet's pyramid with branches switched off;
- `receptive`: the receptive field of the dilated ResNet, on the pyramid's photo;
- `blocks`: the lecture's building blocks on a tiny table of numbers;
- `cards`: model cards.

Everything is computed by `segdemo.inside` from the real models; these modules only lay out the
four sub-tabs and translate what the handlers write at run time. Each owns its `STRINGS`; the
tab's `STRINGS` below holds them all (the browser tests read the whole tab's text from it).
"""

from __future__ import annotations

import gradio as gr

from ui import i18n
from ui.i18n import t
from ui.tabs.inside import blocks, cards, layers, pyramid_pooling, receptive, skips

TITLE_KEY, INTRO_KEY = "sd_inside_tab", "sd_inside_intro"  # for the browser test (see ui/tabs/__init__.py)
_OWN = i18n.register(
    {
        "sd_inside_tab": ("6 · Look inside", "6 · Por dentro da rede"),
        "sd_inside_intro": (
            (
                "**Look inside the networks.** What each layer computes for your image, why skip connections matter, what "
                "PSPNet's pyramid pooling adds, what the building blocks of the lecture do to a few pixels, and what each model costs. "
                "Everything is computed by the same networks, with the same weights, as the other tabs."
            ),
            (
                "**Por dentro das redes.** O que cada camada calcula para a sua imagem, por que as conexões de atalho (skip) "
                "importam, o que a pirâmide de pooling da PSPNet acrescenta, o que os blocos básicos da aula fazem com alguns pixels "
                "e quanto custa cada modelo. Tudo é calculado pelas mesmas redes, com os mesmos pesos, das outras abas."
            ),
        ),
    }
)
STRINGS = {
    **_OWN,
    **layers.STRINGS,
    **skips.STRINGS,
    **pyramid_pooling.STRINGS,
    **receptive.STRINGS,
    **blocks.STRINGS,
    **cards.STRINGS,
}


def build() -> None:
    """The tab: four parts, each in its own sub-tab. The layer list is filled when the tab is opened
    (it needs TensorFlow, which the app loads after the page is up)."""
    with gr.Tab(t(TITLE_KEY), id="inside") as tab:
        gr.Markdown(t(INTRO_KEY))
        with gr.Tabs():
            with gr.Tab(t("sd_inside_fm_tab"), id="inside_features"):
                model, layer = layers.build()
                skips.build()
            with gr.Tab(t("sd_inside_pyr_tab"), id="inside_pyramid"):
                receptive.build(*pyramid_pooling.build())
            with gr.Tab(t("sd_inside_blocks_tab"), id="inside_blocks"):
                blocks.build()
            with gr.Tab(t("sd_inside_cards_tab"), id="inside_cards"):
                cards.build()
    tab.select(layers.layer_choices, model, layer, api_visibility="private", concurrency_id="inference")
