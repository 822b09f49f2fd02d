"""The Gradio UI of segdemo: one module per tab under `ui.tabs`, shared pieces in `ui.common`,
Portuguese and English in `ui.i18n`. `app.py` composes the tabs and launches the server."""
