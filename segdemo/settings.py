"""The app's settings: one `Settings` object, read from environment variables and validated.

| variable | meaning | default |
| --- | --- | --- |
| SEGDEMO_DATA_DIR | a folder with local copies of the datasets (`eliret/`, `membrane/`, `photos/`) | none |
| SEGDEMO_CACHE_DIR | where downloaded datasets and weights are kept | ~/.cache/segdemo |
| SEGDEMO_WEIGHTS_DIR | one or more folders (os.pathsep between them) searched for weights before the repository's `weights/` | none |
| SEGDEMO_MAX_MODELS | models kept in memory at once, an integer >= 1 | 6 |
| SEGDEMO_QUEUE_SIZE | requests that may wait for the inference worker, an integer >= 1 | 64 |
| SEGDEMO_OFFLINE | 1/true/yes: never download; the Hub is asked with `local_files_only=True` | off |
| HF_HUB_OFFLINE | huggingface_hub's own offline switch; it means the same here | off |
| SEGDEMO_HF_REPO, SEGDEMO_HF_REVISION | the Hub repository (OWNER/NAME) and revision holding the PSPNet conversions | the manifest's |
| SEGDEMO_PRECISION | "exact" (float32) or "fast" (PSPNets in int8 or bfloat16 where that keeps their answers) | fast where it can be fast (see `_precision`) |
| SEGDEMO_OUTPUT_CACHE_MB | megabytes of network outputs kept for re-rendering (`segdemo.output_cache`), a whole number >= 0 | 512 |
| SEGDEMO_WORKERS | requests whose networks run at the same time, an integer >= 1 | from the usable cores (segdemo.cpu) |
| SEGDEMO_ENGINE | "auto" (OpenVINO where installed, measured against TensorFlow), "tensorflow" or "openvino" | auto |

`get()` parses the environment once and returns the same frozen object until one of these
variables changes (tests change them between cases); a bad value raises `SettingsError`, a
`ValueError` that names the variable and says what it accepts. Nothing is read at import.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from segdemo import cpu, engines

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_WEIGHTS = PROJECT_ROOT / "weights"
DEFAULT_MAX_MODELS = 6
DEFAULT_QUEUE_SIZE = 64
DEFAULT_OUTPUT_CACHE_MB = 512
VARIABLES = (
    "SEGDEMO_DATA_DIR",
    "SEGDEMO_CACHE_DIR",
    "SEGDEMO_WEIGHTS_DIR",
    "SEGDEMO_MAX_MODELS",
    "SEGDEMO_QUEUE_SIZE",
    "SEGDEMO_OFFLINE",
    "HF_HUB_OFFLINE",
    "SEGDEMO_HF_REPO",
    "SEGDEMO_HF_REVISION",
    "SEGDEMO_PRECISION",
    "SEGDEMO_OUTPUT_CACHE_MB",
    "SEGDEMO_WORKERS",
    "SEGDEMO_ENGINE",
)
PRECISIONS = ("exact", "fast")
ENGINES = ("auto", "tensorflow", "openvino")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags that mean native bfloat16 arithmetic (AVX-512 BF16, AMX)."""
DECIDING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
"""The CPU flags that decide how fast int8 and bfloat16 run (reported by /health, kept with each verdict)."""
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class SettingsError(ValueError):
    """An environment variable holds a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the app, validated.

    Attributes:
        data_dir: local copies of the datasets, or None.
        cache_dir: downloads and converted weights.
        weights_dirs: folders searched for weights, in order; the repository's `weights/` is
            always the last, so the shipped models keep working whatever SEGDEMO_WEIGHTS_DIR says.
        max_models: models kept in memory at once.
        queue_size: requests that may wait for the inference worker.
        offline: no download of any kind (datasets, weight URLs, the Hub); the Hub cache is still read.
        hf_repo: the Hub repository named by SEGDEMO_HF_REPO, or None (then the manifest's).
        hf_revision: the revision named by SEGDEMO_HF_REVISION, or None (then the manifest's).
        precision: "exact" (float32 everywhere) or "fast" (the PSPNets may compute in int8 or bfloat16).
        output_cache_mb: megabytes of network outputs kept for re-rendering (0: none kept).
        workers: inference requests that run at the same time (Gradio's concurrency for them).
        engine: "auto", "tensorflow" or "openvino": which engines may run the PSPNets.
    """

    data_dir: Path | None
    cache_dir: Path
    weights_dirs: tuple[Path, ...]
    max_models: int
    queue_size: int
    offline: bool
    hf_repo: str | None
    hf_revision: str | None
    precision: str = "exact"
    output_cache_mb: int = DEFAULT_OUTPUT_CACHE_MB
    workers: int = 1
    engine: str = "auto"

    @property
    def weights_dir(self) -> Path:
        """The first weights folder: where training writes and where the messages say to put files."""
        return self.weights_dirs[0]


def _positive_int(environ, name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number; use an integer of at least 1 (default {default}).") from None
    if value < 1:
        raise SettingsError(f"{name}={value} is too small; use an integer of at least 1 (default {default}).")
    return value


def _whole_number(environ, name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise SettingsError(f"{name}={text!r} is not a whole number; use an integer of at least 0 (default {default}).")
    return int(text)


def _switch(environ, name: str) -> bool:
    text = environ.get(name, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{name}={environ[name]!r} is not a switch; use 1 (on) or 0 (off).")


def _folder(environ, name: str) -> Path | None:
    text = environ.get(name, "").strip()
    return Path(text).expanduser() if text else None


def _cpuinfo_value(names: tuple[str, ...], cpuinfo: str | None) -> str | None:
    """The first /proc/cpuinfo (or the given text's) field named one of `names`; None where there is
    none or the file cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in names:
            return value
    return None


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags, from /proc/cpuinfo (or the given text); empty where it cannot be read."""
    return frozenset((_cpuinfo_value(("flags", "Features"), cpuinfo) or "").split())


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name, from /proc/cpuinfo (or the given text); "" where it cannot be read."""
    return (_cpuinfo_value(("model name",), cpuinfo) or "").strip()


def machine() -> str:
    """What a measured verdict depends on (`segdemo.engines`): the CPU's model, the cores this process
    may use and the flags that decide how fast int8 and bfloat16 run. A Space's persistent storage
    outlives a change of hardware; a verdict taken on another machine is measured again."""
    present = sorted(cpu_flags() & set(DECIDING_FLAGS))
    return f"{cpu_model() or 'unknown CPU'}; {cpu.usable_cores()} cores; {' '.join(present) or 'none of ' + ' '.join(DECIDING_FLAGS)}"


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU computes in bfloat16 natively (never emulated: without it bfloat16 is slower)."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def _engine(environ) -> str:
    text = environ.get("SEGDEMO_ENGINE", "").strip().lower() or "auto"
    if text not in ENGINES:
        raise SettingsError(f"SEGDEMO_ENGINE={environ['SEGDEMO_ENGINE']!r} is not an engine; use auto, tensorflow or openvino.")
    if text == "openvino" and not _openvino_installed():
        raise SettingsError("SEGDEMO_ENGINE=openvino, but OpenVINO is not installed (pip install -r requirements.txt); use auto.")
    return text


def _openvino_installed() -> bool:
    """OpenVINO and NNCF both importable: what int8 needs (`segdemo.engines`)."""
    return engines.openvino_installed() and engines.nncf_installed()


def _precision(environ, flags: frozenset[str] | None = None, engine: str = "auto") -> str:
    """ "fast" unless told otherwise wherever something can make the PSPNets fast: int8 through OpenVINO
    (any x86 CPU; each network switches only once its int8 model passes the agreement guard and is at
    least 1.5× faster, `segdemo.engines`), or native bfloat16. Elsewhere "fast" would be slower than
    float32 (emulated bfloat16), so it is refused."""
    text = environ.get("SEGDEMO_PRECISION", "").strip().lower()
    possible = native_bf16(flags) or (engine != "tensorflow" and _openvino_installed())
    if not text:
        return "fast" if possible else "exact"
    if text not in PRECISIONS:
        raise SettingsError(f"SEGDEMO_PRECISION={environ['SEGDEMO_PRECISION']!r} is not a precision; use exact or fast.")
    if text == "fast" and not possible:
        raise SettingsError(
            "SEGDEMO_PRECISION=fast needs OpenVINO (int8) or a CPU with native bfloat16 (flag avx512_bf16 or amx_bf16), and "
            "this machine has neither: emulated bfloat16 would be slower than float32. Use exact."
        )
    return text


def from_environ(environ=None, flags: frozenset[str] | None = None) -> Settings:
    """Reads and validates the settings from `environ` (default: os.environ).

    Args:
        environ: the variables (default: os.environ).
        flags: the CPU's feature flags (default: read from /proc/cpuinfo).

    Raises:
        SettingsError: naming the variable whose value cannot be used.
    """
    environ = os.environ if environ is None else environ
    data_dir = _folder(environ, "SEGDEMO_DATA_DIR")
    if data_dir is not None and not data_dir.is_dir():
        raise SettingsError(
            f"SEGDEMO_DATA_DIR={str(data_dir)!r} is not a folder; point it at the folder holding eliret/, membrane/, photos/."
        )
    cache_dir = _folder(environ, "SEGDEMO_CACHE_DIR") or Path.home() / ".cache" / "segdemo"
    if cache_dir.exists() and not cache_dir.is_dir():
        raise SettingsError(f"SEGDEMO_CACHE_DIR={str(cache_dir)!r} exists and is not a folder.")
    named = [Path(part).expanduser() for part in environ.get("SEGDEMO_WEIGHTS_DIR", "").split(os.pathsep) if part.strip()]
    for folder in named:
        if folder.exists() and not folder.is_dir():
            raise SettingsError(f"SEGDEMO_WEIGHTS_DIR names {str(folder)!r}, which is not a folder.")
    weights_dirs = tuple(dict.fromkeys([*named, REPOSITORY_WEIGHTS]))
    hf_repo = environ.get("SEGDEMO_HF_REPO", "").strip() or None
    if hf_repo is not None and not _REPO_ID.match(hf_repo):
        raise SettingsError(f"SEGDEMO_HF_REPO={hf_repo!r} is not a Hub repository id; use OWNER/NAME.")
    return Settings(
        data_dir=data_dir,
        cache_dir=cache_dir,
        weights_dirs=weights_dirs,
        max_models=_positive_int(environ, "SEGDEMO_MAX_MODELS", DEFAULT_MAX_MODELS),
        queue_size=_positive_int(environ, "SEGDEMO_QUEUE_SIZE", DEFAULT_QUEUE_SIZE),
        offline=_switch(environ, "SEGDEMO_OFFLINE") or _switch(environ, "HF_HUB_OFFLINE"),
        hf_repo=hf_repo,
        hf_revision=environ.get("SEGDEMO_HF_REVISION", "").strip() or None,
        precision=_precision(environ, flags, _engine(environ)),
        output_cache_mb=_whole_number(environ, "SEGDEMO_OUTPUT_CACHE_MB", DEFAULT_OUTPUT_CACHE_MB),
        workers=_positive_int(environ, "SEGDEMO_WORKERS", cpu.default_workers(cpu.usable_cores())),
        engine=_engine(environ),
    )


_lock = threading.Lock()
_current: tuple[tuple[str | None, ...], Settings] | None = None


def get() -> Settings:
    """The settings of this process, parsed once (again only when one of VARIABLES changes).

    Raises:
        SettingsError: naming the variable whose value cannot be used.
    """
    global _current
    values = tuple(os.environ.get(name) for name in VARIABLES)
    current = _current
    if current is not None and current[0] == values:
        return current[1]
    with _lock:
        parsed = from_environ()
        _current = (values, parsed)
    return parsed


def data_dir() -> Path | None:
    """The local dataset folder named by SEGDEMO_DATA_DIR, or None."""
    return get().data_dir


def cache_dir() -> Path:
    """The folder for downloads and caches."""
    return get().cache_dir


def weights_dir() -> Path:
    """The first weights folder (where training writes)."""
    return get().weights_dir


def weights_dirs() -> tuple[Path, ...]:
    """Every folder searched for weights, in order; the repository's `weights/` last."""
    return get().weights_dirs
