"""The Colab notebook runs top to bottom in a real Jupyter kernel, and the app it starts answers.

Its test mode (SEGDEMO_NOTEBOOK_TEST=1) skips what needs Colab and the internet: the clone (the
kernel works in this checkout), the install and the public share link. Every other cell runs as a
teacher runs it: TensorFlow and the device check, the PSPNet weights (offline here: the cell says
which are missing), the app's launch. While the kernel still holds the app, this test asks its
/health and one /predict through gradio_client.
"""

from __future__ import annotations

import json
import os
import platform
import urllib.request
from pathlib import Path

import pytest
from app_server import free_port
from gradio_client import Client, handle_file
from PIL import Image

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "colab" / "segdemo_colab.ipynb"


def outputs_text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def test_the_notebook_is_bilingual_and_colab_ready():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert any("Português" in text and "English" in text for text in markdown)
    assert notebook.metadata.get("accelerator") == "GPU"
    # Never requirements.txt on Colab: it would replace Colab's CUDA TensorFlow with tensorflow-cpu.
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "requirements-colab.txt" in sources and "requirements.txt" not in sources.replace("requirements-colab.txt", "")
    assert "tensorflow-cpu" not in (ROOT / "requirements-colab.txt").read_text().split("#")[0]
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "committed with outputs"


def test_the_notebook_runs_and_its_app_answers(tmp_path, eliret_dir):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    port = free_port()
    env = {
        **os.environ,
        "SEGDEMO_NOTEBOOK_TEST": "1",
        "SEGDEMO_NOTEBOOK_PROJECT": str(ROOT),
        "SEGDEMO_OFFLINE": "1",
        "SEGDEMO_CACHE_DIR": str(tmp_path / "cache"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel(env=env, cwd=str(tmp_path)):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        printed = "\n".join(outputs_text(cell) for cell in notebook.cells)
        # The kernel is this interpreter (its virtual environment): the versions under test are the ones checked.
        assert f"Python {platform.python_version()}; Colab: False; test mode: True" in printed
        assert f"projeto / project: {ROOT}" in printed
        assert "No GPU" in printed or "GPU found" in printed
        # Offline with no PSPNet weights here: the weights cell says so for each network, and goes on.
        assert printed.count("pspnet_") >= 3
        url = f"http://127.0.0.1:{port}/"
        assert f"link for the students: {url}" in printed
        with urllib.request.urlopen(url + "health", timeout=60) as response:
            health = json.load(response)
        assert health["status"] == "ok"
        assert health["device"] == "CPU" or health["device"].startswith("GPU")
        assert health["workers"] >= 1 and health["cores"]["used"] >= 1
        overlay, summary = Client(url, verbose=False).predict(
            handle_file(str(eliret_dir / "075x.png")), "unet", 0.5, api_name="/predict"
        )
        with Image.open(overlay) as image:
            assert image.size[0] > 0
        assert summary
