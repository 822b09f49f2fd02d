"""Tab 7: train the FCN or the U-Net live and watch it learn (issue 15).

The training itself is `segdemo.live_training`; this module lays out the controls, streams each
epoch's loss curves and outputs, and enforces the classroom rules:
- one training at a time for the whole server: its own queue (`concurrency_id="training"`,
  `concurrency_limit=1`), and a check before it starts that tells a second student at once that
  a training is running (every open page also shows it, refreshed by a timer);
- inference keeps priority: at the end of every batch the training sleeps while any other queue
  of the app has a request running or waiting (measured by `python -m bench.training_priority`);
- Stop ends the run at the end of the current batch, and so does closing the browser (the page's
  unload event; the server also stops iterating a run whose client went away);
- the trained model stays in this browser's session only (a gr.State), where the comparison tabs
  (`ui.comparison`) add it as one more row; committed weights are never written.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections.abc import Callable

import gradio as gr
import numpy as np
import pandas as pd

from segdemo import compare, images, live_training, metrics
from ui import common, i18n
from ui.i18n import t

TRAINING_QUEUE = "training"
STATUS_REFRESH_S = 3.0  # while the Train tab is open
TAB_ID = "train"
PAUSE_GRACE_S = 1.0
DEFAULT_EPOCHS = {"fcn": 60, "unet": 25}
CAPS = live_training.EPOCH_CAPS

TITLE_KEY, INTRO_KEY = "sd_train_tab", "sd_train_intro"  # for the browser test (see ui/tabs/__init__.py)
STRINGS = i18n.register(
    {
        "sd_train_tab": ("7 · Train", "7 · Treinar"),
        "sd_train_intro": (
            (
                "**Train a network yourself and watch it learn.** Choose the FCN (lecture program 2) or the U-Net (program 4), "
                "with or without the lecture's data augmentation (random shifts up to ±70 % and mirror images), and press Train. "
                "After every epoch the training and validation loss (MSE) are drawn, and the network's grey and binarized outputs on "
                "a centred test image and on the large *maior2* are shown. See for yourself what the lecture says: the FCN learns "
                "slowly (the committed one took 1000 epochs), the U-Net without augmentation memorises its 100 training pairs (the "
                "training loss keeps falling, the validation loss does not), and only a model trained with augmentation finds the "
                "off-centre objects of *maior2*. One training runs at a time on this server, and the other tabs' requests go first."
            ),
            (
                "**Treine uma rede você mesmo e veja-a aprender.** Escolha a FCN (programa 2 da aula) ou a U-Net (programa 4), com "
                "ou sem o aumento de dados da aula (deslocamentos aleatórios de até ±70 % e espelhamentos), e aperte Treinar. Depois "
                "de cada época aparecem a perda (MSE) de treino e de validação e as saídas em níveis de cinza e binarizada da rede "
                "numa imagem de teste centralizada e na imagem grande *maior2*. Confira o que a aula diz: a FCN aprende devagar (a "
                "do app levou 1000 épocas), a U-Net sem aumento de dados decora seus 100 pares de treino (a perda de treino continua "
                "caindo, a de validação não) e só um modelo treinado com aumento de dados acha os objetos fora do centro da "
                "*maior2*. Um treino roda por vez neste servidor, e os pedidos das outras abas passam na frente."
            ),
        ),
        "sd_train_model": ("Network", "Rede"),
        "sd_train_fcn": ("FCN (program 2)", "FCN (programa 2)"),
        "sd_train_unet": ("U-Net (program 4)", "U-Net (programa 4)"),
        "sd_train_augmentation": (
            "The lecture's data augmentation (shifts ±70 %, mirror images)",
            "Aumento de dados da aula (deslocamentos de ±70 %, espelhamentos)",
        ),
        "sd_train_epochs": ("Epochs", "Épocas"),
        "sd_train_epochs_info": (
            f"At most {CAPS['fcn']} for the FCN and {CAPS['unet']} for the U-Net: about a minute on this server's CPU.",
            f"No máximo {CAPS['fcn']} para a FCN e {CAPS['unet']} para a U-Net: cerca de um minuto na CPU deste servidor.",
        ),
        "sd_train_seed": ("Seed", "Semente"),
        "sd_train_init": ("Start from", "Começar de"),
        "sd_train_random": ("random weights", "pesos aleatórios"),
        "sd_train_committed": ("the app's trained weights (a copy)", "os pesos treinados do app (uma cópia)"),
        "sd_train_button": ("Train", "Treinar"),
        "sd_train_stop": ("Stop", "Parar"),
        "sd_train_loss": (
            "Loss (MSE) per epoch: training in blue, validation in orange",
            "Perda (MSE) por época: treino em azul, validação em laranja",
        ),
        "sd_train_outputs": ("Outputs after the last epoch", "Saídas depois da última época"),
        "sd_train_epoch_axis": ("epoch", "época"),
        "sd_train_curve": ("curve", "curva"),
        "sd_train_training": ("training", "treino"),
        "sd_train_validation": ("validation", "validação"),
        "sd_train_col_input": ("input", "entrada"),
        "sd_train_col_truth": ("ideal output", "saída ideal"),
        "sd_train_col_grey": ("grey output", "saída em cinza"),
        "sd_train_col_binary": ("binarized output", "saída binarizada"),
        "sd_train_busy": (
            "A training is running on this server (another student's or yours): one at a time. Wait until it ends, then press Train again.",
            "Há um treino rodando neste servidor (de outro aluno ou seu): um por vez. Espere terminar e aperte Treinar de novo.",
        ),
        "sd_train_running_other": (
            "A training is running on this server: {model}, epoch {epoch} of {epochs}, {seconds} s so far.",
            "Há um treino rodando neste servidor: {model}, época {epoch} de {epochs}, {seconds} s até agora.",
        ),
        "sd_train_idle": ("No training is running: yours can start.", "Nenhum treino rodando: o seu pode começar."),
        "sd_train_status": ("Your training", "Seu treino"),
        "sd_train_starting": (
            "Building the network and its training graph (a few seconds before the first epoch)…",
            "Montando a rede e o grafo de treino (alguns segundos antes da primeira época)…",
        ),
        "sd_train_progress": (
            "Epoch {epoch} of {epochs}: training loss {loss}, validation loss {val_loss} ({seconds} s).",
            "Época {epoch} de {epochs}: perda de treino {loss}, perda de validação {val_loss} ({seconds} s).",
        ),
        "sd_train_paused": (
            " Paused {paused} s so that other students' requests ran first.",
            " Pausado por {paused} s para os pedidos de outros alunos passarem na frente.",
        ),
        "sd_train_finished": (
            "Done: epoch {epoch} of {epochs} in {seconds} s.",
            "Pronto: época {epoch} de {epochs} em {seconds} s.",
        ),
        "sd_train_stopped": (
            "Stopped after epoch {epoch} of {epochs} ({seconds} s).",
            "Parado depois da época {epoch} de {epochs} ({seconds} s).",
        ),
        "sd_train_stopped_early": ("Stopped before the first epoch ended.", "Parado antes do fim da primeira época."),
        "sd_train_time_limit": (
            "Ended at the time limit after epoch {epoch} of {epochs} ({seconds} s): the server is busy.",
            "Encerrado no limite de tempo depois da época {epoch} de {epochs} ({seconds} s): o servidor está ocupado.",
        ),
        "sd_train_kept": (
            "Your model is now in the comparisons of tabs 1 and 2, as the last row, for this browser only.",
            "Seu modelo agora aparece nas comparações das abas 1 e 2, na última linha, só neste navegador.",
        ),
        "sd_train_nothing_kept": (
            "No epoch was completed: there is no model to keep.",
            "Nenhuma época foi concluída: não há modelo para guardar.",
        ),
        "sd_train_data_eliret": (
            "Data: the 100 eliret training pairs; validation on the 50 validation pairs.",
            "Dados: os 100 pares de treino do eliret; validação nos 50 pares de validação.",
        ),
        "sd_train_data_generated": (
            (
                "Data: the eliret dataset is not on this server, so 100 centred pairs were generated the way the course made "
                "eliret's; validation on the real eliret pairs shipped with the app."
            ),
            (
                "Dados: o conjunto eliret não está neste servidor, então foram gerados 100 pares centralizados como o curso gerou os "
                "do eliret; validação nos pares reais do eliret que vêm com o app."
            ),
        ),
        "sd_train_session_title": ("Yours: {model}, {epochs} ep.{augmented}", "Seu: {model}, {epochs} ép.{augmented}"),
        "sd_train_session_aug": (", augmented", ", com aumento de dados"),
        "sd_train_session_note": ("trained in this browser (Train tab)", "treinado neste navegador (aba Treinar)"),
        "sd_train_bad_request": ("Cannot train with these settings: {reason}", "Não dá para treinar com estes valores: {reason}"),
    }
)

ARCHITECTURE_NAMES = {"fcn": "FCN", "unet": "U-Net"}
COLUMN_KEYS = ("sd_train_col_input", "sd_train_col_truth", "sd_train_col_grey", "sd_train_col_binary")

# Stop events of the runs in progress, by browser session (Stop and closing the page set them).
_stops: dict[str, threading.Event] = {}
_stops_lock = threading.Lock()
# One gr.State per app (Blocks) for the model trained in each browser session: the comparison tabs read it.
_session_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_state() -> gr.State:
    """The gr.State holding this browser session's trained model (`live_training.TrainedModel` or None).

    Created, inside the app being built, by whichever tab asks first; the comparison tabs pass it
    to their handlers. Raises ValueError outside a gr.Blocks.
    """
    root = gr.context.Context.root_block
    if root is None:
        raise ValueError("session_state() must be called while the app's gr.Blocks is being built.")
    if root not in _session_states:
        _session_states[root] = gr.State(None)
    return _session_states[root]


def session_title(trained: live_training.TrainedModel, language: str) -> str:
    """The trained model's name in the comparison: "Yours: U-Net, 30 epochs, augmented"."""
    augmented = i18n.text("sd_train_session_aug", language) if trained.request.augmentation else ""
    return i18n.text(
        "sd_train_session_title",
        language,
        model=ARCHITECTURE_NAMES[trained.request.model],
        epochs=trained.epochs,
        augmented=augmented,
    )


def session_comparison(image, truth, threshold, rows: list, table: list[list], trained, language: str, captions: dict):
    """The comparison's figure and table with one more row: the model trained in this browser.

    Args:
        image, truth: the comparison's inputs (truth may be None).
        threshold: the library threshold the other rows used.
        rows: `compare.ComparisonRow`s of the registry models; table: their table rows (already translated).
        trained: the session's `live_training.TrainedModel`.
        captions: the figure's words in `language`.

    Returns:
        (figure as a uint8 RGB array, table rows).
    """
    pixels = images.load(image)
    truth_mask = compare.load_truth(truth) if truth is not None else None
    prediction = trained.predict(pixels, threshold)
    mse = iou = None
    if truth_mask is not None:
        mse, iou = metrics.mse(prediction.raw, truth_mask), metrics.iou(prediction.labels, truth_mask)
    title = session_title(trained, language)
    own = compare.ComparisonRow(trained.spec.key, title, prediction, mse, iou)
    # Titles go into the rows themselves: the session row shares its registry key with a registry row.
    titled = [dataclasses.replace(row, title=common.model_title(row.key, language)) for row in rows]
    figure = compare.figure(pixels, truth_mask, [*titled, own], captions)
    cells = compare.table([own])[0]
    cells[0], cells[-1] = title, i18n.text("sd_train_session_note", language)
    return figure, [*table, cells]


def others_waiting(blocks: gr.Blocks, grace_s: float = PAUSE_GRACE_S) -> Callable[[], bool]:
    """A function that says whether any queue of the app other than the training's has a
    request running or waiting, or had one in the last `grace_s` seconds (the training then
    sleeps at the end of its batch).

    The grace covers what follows a queue event: its answer streamed to the browser and the
    result image downloaded. Both run on the server's event loop, which shares Python's GIL with
    the training thread: without the grace a /compare took 3.8× its idle time during a training.
    """
    last_busy = [-float("inf")]

    def check() -> bool:
        queue = getattr(blocks, "_queue", None)
        if queue is None:
            return False
        now = time.monotonic()
        # list() copies the dict in one step (the event loop's thread may add a queue meanwhile).
        for concurrency_id, waiting in list(queue.event_queue_per_concurrency_id.items()):
            if concurrency_id != TRAINING_QUEUE and (waiting.queue or waiting.current_concurrency > 0):
                last_busy[0] = now
                return True
        return now - last_busy[0] < grace_s

    return check


def server_status(request: gr.Request = None) -> str:
    """The status line every open page shows: whether a training is running, and where."""
    language = i18n.language(request)
    current = live_training.running()
    if current is None:
        return i18n.text("sd_train_idle", language)
    return i18n.text(
        "sd_train_running_other",
        language,
        model=ARCHITECTURE_NAMES[current["model"]],
        epoch=current["epoch"],
        epochs=current["epochs"],
        seconds=round(time.monotonic() - current["started"]),
    )


def status_while_open(event: gr.SelectData, request: gr.Request = None):
    """The page's tabs were switched: the status line's timer runs only while the Train tab is open
    (an idle page on another tab makes no requests), and opening the tab refreshes the line at once."""
    opened = getattr(event, "id", None) == TAB_ID
    return gr.Timer(active=opened), server_status(request) if opened else gr.skip()


def check_free(request: gr.Request = None) -> None:
    """Runs before a training is queued: refuses at once, with a clear message, while one runs."""
    if live_training.running() is not None:
        raise common.error("sd_train_busy", i18n.language(request))


def stop_training(request: gr.Request = None) -> None:
    """Stop button and page unload: the session's run ends at the end of its current batch."""
    session = getattr(request, "session_hash", None)
    with _stops_lock:
        event = _stops.get(session)
    if event is not None:
        event.set()


def loss_plot(update: live_training.EpochUpdate | None, language: str) -> gr.LinePlot:
    """The loss curves so far (long format: epoch, MSE, curve), with axis words in `language`;
    `update` None: an empty chart."""
    training, validation = i18n.text("sd_train_training", language), i18n.text("sd_train_validation", language)
    if update is None:
        # No points yet: None, not an empty frame (given an empty frame with its colour map first,
        # the page's chart drew none of the later points; the browser test checks the curves).
        return gr.LinePlot(value=None, x="epoch", y="MSE", color="curve")
    losses = (update.loss, update.val_loss)
    frame = pd.DataFrame(
        {
            "epoch": [epoch for series in losses for epoch in range(1, len(series) + 1)],
            "MSE": [float(value) for series in losses for value in series],
            "curve": [name for name, series in zip((training, validation), losses) for _ in series],
        }
    )
    return gr.LinePlot(
        value=frame,
        x="epoch",
        y="MSE",
        color="curve",
        x_title=i18n.text("sd_train_epoch_axis", language),
        color_title=i18n.text("sd_train_curve", language),
        color_map={training: "#1f77b4", validation: "#ff7f0e"},  # the colours the label names
    )


def progress_text(update: live_training.EpochUpdate, language: str) -> str:
    """The status of this browser's run after an epoch, or its final words."""
    values = {"epoch": update.epoch, "epochs": update.epochs, "seconds": f"{update.seconds:.0f}"}
    if update.state == live_training.RUNNING:
        text = i18n.text(
            "sd_train_progress", language, loss=f"{update.loss[-1]:.4f}", val_loss=f"{update.val_loss[-1]:.4f}", **values
        )
    else:
        key = {live_training.FINISHED: "sd_train_finished", live_training.STOPPED: "sd_train_stopped"}.get(
            update.state, "sd_train_time_limit"
        )
        text = i18n.text(key if update.epoch else "sd_train_stopped_early", language, **values)
        text += " " + i18n.text("sd_train_kept" if update.trained is not None else "sd_train_nothing_kept", language)
    if update.paused_seconds >= 0.1:
        text += i18n.text("sd_train_paused", language, paused=f"{update.paused_seconds:.1f}")
    data_key = "sd_train_data_eliret" if update.data_source == "eliret" else "sd_train_data_generated"
    return f"{text}\n\n{i18n.text(data_key, language)}"


def outputs_png(update: live_training.EpochUpdate, language: str) -> str:
    return common.png_file(live_training.outputs_figure(update.displays, [i18n.text(key, language) for key in COLUMN_KEYS]))


def make_runner(blocks: gr.Blocks):
    """The Train handler (a generator) for the app `blocks`."""
    yield_to = others_waiting(blocks)

    def train(model, augmentation, epochs, seed, init, request: gr.Request = None):
        """Streams (loss curves, outputs figure, status, session model) after every epoch."""
        language = i18n.language(request)
        try:
            training_request = live_training.TrainingRequest(
                model, bool(augmentation), int(epochs) if isinstance(epochs, (int, float)) else epochs, int(seed or 0), init
            )
        except (ValueError, TypeError, OverflowError) as failure:
            raise common.error("sd_train_bad_request", language, reason=str(failure)) from None
        session = getattr(request, "session_hash", None) or f"anonymous-{id(request)}"
        stop = threading.Event()
        with _stops_lock:
            _stops[session] = stop
        try:
            yield loss_plot(None, language), None, i18n.text("sd_train_starting", language), gr.skip()
            run = live_training.train(training_request, stop, yield_to)
            try:
                with common.user_errors(language):
                    try:
                        for update in run:
                            figure = outputs_png(update, language)
                            kept = update.trained if update.done and update.trained is not None else gr.skip()
                            yield loss_plot(update, language), figure, progress_text(update, language), kept
                    except live_training.TrainingBusyError:
                        raise common.error("sd_train_busy", language) from None
            finally:
                run.close()  # a client that went away closes this generator: the training ends with it
        finally:
            with _stops_lock:
                if _stops.get(session) is stop:
                    del _stops[session]

    train.__name__ = "train_network"
    return train


def epochs_for(model: str, epochs) -> dict:
    """The epochs slider for another network: its cap, and the value kept within it."""
    cap = live_training.EPOCH_CAPS.get(model, 1)
    value = int(np.clip(epochs if isinstance(epochs, (int, float)) else DEFAULT_EPOCHS.get(model, 1), 1, cap))
    return gr.update(maximum=cap, value=value)


def build() -> None:
    """The tab: network, augmentation, epochs, seed, start; Train and Stop; streamed curves and outputs."""
    blocks = gr.context.Context.root_block
    tabs = gr.context.Context.block
    if not isinstance(tabs, gr.Tabs):
        raise ValueError("The Train tab is built inside the page's gr.Tabs (its status line follows which tab is open).")
    with gr.Tab(t(TITLE_KEY), id=TAB_ID):
        gr.Markdown(t(INTRO_KEY))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                model = gr.Radio(
                    [(t("sd_train_fcn"), "fcn"), (t("sd_train_unet"), "unet")], value="unet", label=t("sd_train_model")
                )
                augmentation = gr.Checkbox(value=False, label=t("sd_train_augmentation"))
                # The widest cap here (the server checks a value against it); the chosen network's cap is
                # set on the page when it loads and whenever the network changes.
                epochs = gr.Slider(
                    1,
                    max(CAPS.values()),
                    value=DEFAULT_EPOCHS["unet"],
                    step=1,
                    label=t("sd_train_epochs"),
                    info=t("sd_train_epochs_info"),
                    elem_id="sd-train-epochs",
                )
                seed = gr.Number(value=1, precision=0, minimum=0, label=t("sd_train_seed"))
                init = gr.Radio(
                    [(t("sd_train_random"), "random"), (t("sd_train_committed"), "committed")],
                    value="random",
                    label=t("sd_train_init"),
                )
                with gr.Row():
                    train_button = gr.Button(t("sd_train_button"), variant="primary", elem_id="sd-train-button")
                    stop_button = gr.Button(t("sd_train_stop"), variant="stop", elem_id="sd-train-stop")
                server = gr.Markdown(elem_id="sd-train-server-status")
            with gr.Column(scale=2, min_width=300):
                status = gr.Markdown(label=t("sd_train_status"), elem_id="sd-train-status")
                plot = gr.LinePlot(
                    x="epoch", y="MSE", color="curve", label=t("sd_train_loss"), height=260, elem_id="sd-train-plot"
                )
                outputs = gr.Image(label=t("sd_train_outputs"), format="png", interactive=False)
    state = session_state()
    model.change(epochs_for, [model, epochs], epochs, queue=False, api_visibility="private")
    blocks.load(epochs_for, [model, epochs], epochs, queue=False, api_visibility="private")
    # A quick check outside the queues refuses a second training at once; the training's own
    # queue (limit 1) keeps the rule if two presses pass the check together.
    check = train_button.click(check_free, None, None, queue=False, api_name="training_free")
    check.success(
        make_runner(blocks),
        [model, augmentation, epochs, seed, init],
        [plot, outputs, status, state],
        api_name="train",
        concurrency_id=TRAINING_QUEUE,
        concurrency_limit=1,
        show_progress="minimal",
    )
    stop_button.click(stop_training, None, None, queue=False, api_name="stop_training")
    # The status line: filled when the page loads, then refreshed every few seconds only while this tab
    # is open (a timer on every open page would make a class of idle students poll the server).
    timer = gr.Timer(STATUS_REFRESH_S, active=False)
    timer.tick(server_status, None, server, queue=False, api_visibility="private", show_progress="hidden")
    blocks.load(server_status, None, server, queue=False, api_visibility="private", show_progress="hidden")
    tabs.select(status_while_open, None, [timer, server], queue=False, api_visibility="private", show_progress="hidden")
    # Closing or reloading the page stops this session's run at the end of its batch.
    blocks.unload(stop_training)
