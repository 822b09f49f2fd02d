"""Converts the published PSPNet weights to Keras 3 and publishes them to a Hugging Face Hub repository.

The published PSPNet files (`pspnet101_voc2012.h5`, `pspnet50_ade20k.h5`,
`pspnet101_cityscapes.h5`) are Keras-2 HDF5 files hosted on Dropbox. This script builds each
network from the registry, loads the Keras-2 file into it (every layer is checked), saves the
Keras 3 `.weights.h5` conversion, uploads all conversions to one Hub repository in ONE commit
and pins that commit in `weights/manifest.json` (`converted.sha256`, `hub.repo_id`,
`hub.revision`). From then on `segdemo.weights.resolve_published` fetches the conversion from
the Hub (checksum-checked) before it tries Dropbox, so a Hugging Face Space does not depend on it.

Usage:
    python -m train.publish_pspnet --repo-id OWNER/NAME                # all three models
    python -m train.publish_pspnet --repo-id OWNER/NAME --models pspnet_ade20k --source-dir ~/pspnet
    python -m train.publish_pspnet --no-upload                         # convert, print checksums only

Without `--source-dir` each Keras-2 file is resolved as the app does (weights folder, cache,
then the published URLs: this may download up to 700 MB). The token comes from `--token` or
from huggingface_hub's usual places (HF_TOKEN, `hf auth login`); HF_ENDPOINT is respected.
The script prints the README front-matter lines (`models:`, `preload_from_hub:`) a Space needs;
it does not edit README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from segdemo import registry, settings, weights
from segdemo.download import sha256_of

PSPNET_KEYS = tuple(registry.keys("pspnet"))  # pspnet_voc, pspnet_ade20k, pspnet_cityscapes
OUTPUT_SUBDIR = "converted-for-hub"  # default output: <cache>/converted-for-hub
REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
COMMIT_OID_PATTERN = re.compile(r"^[0-9a-f]{40}$")
COMMIT_MESSAGE = "Keras 3 conversions of the published PSPNet weights"
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class Conversion:
    """One converted weights file, ready to upload."""

    key: str  # registry key, e.g. "pspnet_ade20k"
    entry: str  # manifest entry, e.g. "pspnet50_ade20k"
    path: Path  # the Keras 3 .weights.h5 file
    sha256: str
    source: Path  # the Keras-2 file it came from
    source_sha256: str


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m train.publish_pspnet",
        description="Convert the published PSPNet Keras-2 weights to Keras 3 and publish them to a Hugging Face Hub repository.",
    )
    parser.add_argument(
        "--source-dir",
        type=Path,
        help="folder holding the published Keras-2 files (pspnet101_voc2012.h5, ...); "
        "default: resolve each as the app does (may download)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(PSPNET_KEYS),
        metavar="KEY",
        help=f"registry keys to publish (space- or comma-separated; default: {' '.join(PSPNET_KEYS)})",
    )
    parser.add_argument("--output", type=Path, help=f"where the conversions are written (default: <cache>/{OUTPUT_SUBDIR})")
    parser.add_argument("--repo-id", help="Hub model repository OWNER/NAME (required unless --no-upload)")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or the token saved by `hf auth login`)")
    parser.add_argument("--private", action="store_true", help="create the repository as private (a Space then needs a token)")
    parser.add_argument("--no-upload", action="store_true", help="convert and print checksums only; the manifest is not changed")
    parser.add_argument(
        "--manifest", type=Path, default=weights.MANIFEST_PATH, help="the manifest to update (default: %(default)s)"
    )
    return parser.parse_args(argv)


def selected_models(values: list[str]) -> list[str]:
    """The registry keys asked for, in the given order, without repeats.

    Raises:
        ValueError: for a key that is unknown or not a PSPNet.
    """
    keys = [key for value in values for key in value.replace(",", " ").split()]
    if not keys:
        raise ValueError(f"--models needs at least one of: {', '.join(PSPNET_KEYS)}")
    for key in keys:
        if key not in PSPNET_KEYS:
            kind = "is not a PSPNet model" if key in registry.REGISTRY else "is not a registry key"
            raise ValueError(f"--models: {key!r} {kind}; choose from {', '.join(PSPNET_KEYS)}")
    return list(dict.fromkeys(keys))


def read_manifest(path: Path, keys: list[str]) -> dict:
    """The whole manifest document, after checking it has an entry for each model.

    Raises:
        ValueError: when the file is missing, not JSON, or lacks an entry.
    """
    if not path.is_file():
        raise ValueError(f"No manifest at {path}")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    entries = document.get("published") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise ValueError(f"{path} has no 'published' section")
    for key in keys:
        name = registry.get(key).published_weights
        entry = entries.get(name)
        if not isinstance(entry, dict) or "file" not in entry or "file" not in entry.get("converted", {}):
            raise ValueError(f"{path} has no complete entry {name!r} (needed by {key}): 'file' and 'converted.file' are required")
    return document


def check_options(options: argparse.Namespace) -> tuple[list[str], dict]:
    """Checks everything that can be checked before any heavy work.

    Returns:
        (registry keys, manifest document).

    Raises:
        ValueError: naming the option that is wrong.
    """
    keys = selected_models(options.models)
    if not options.no_upload:
        if not options.repo_id:
            raise ValueError("--repo-id OWNER/NAME is required (or pass --no-upload to convert only)")
        if not REPO_ID_PATTERN.match(options.repo_id):
            raise ValueError(f"--repo-id must look like OWNER/NAME, got {options.repo_id!r}")
    document = read_manifest(options.manifest, keys)
    if options.source_dir is not None:
        if not options.source_dir.is_dir():
            raise ValueError(f"--source-dir {options.source_dir} is not a folder")
        names = [document["published"][registry.get(key).published_weights]["file"] for key in keys]
        missing = [name for name in names if not (options.source_dir / name).is_file()]
        if missing:
            raise ValueError(f"--source-dir {options.source_dir} lacks {', '.join(missing)}")
    return keys, document


def source_file(key: str, entry: dict, source_dir: Path | None) -> tuple[weights.WeightsFile, str]:
    """The Keras-2 file of one model and its sha256: from --source-dir, or resolved as the app
    does (weights folder, cache, Hub, published URLs).

    Raises:
        ValueError: when the manifest knows the file's sha256 and the file does not match.
    """
    if source_dir is not None:
        found = weights.WeightsFile(source_dir / entry["file"], weights.LEGACY, entry.get("sha256"))
    else:
        reported = set()

        def progress(done: int, total: int | None) -> None:
            tenth = done * 10 // total if total else None
            if tenth is not None and tenth not in reported:
                reported.add(tenth)
                print(f"    downloaded {done / MEGABYTE:.0f} of {total / MEGABYTE:.0f} MB", flush=True)

        found = weights.resolve_published(entry, registry.get(key).title, progress=progress)
    digest = weights.file_digest(found.path)  # remembered: resolve_published may have hashed it already
    if found.sha256 and digest != found.sha256:
        raise ValueError(f"{found.path} has sha256 {digest}; the manifest expects {found.sha256}")
    return found, digest


def convert(key: str, entry_name: str, entry: dict, source_dir: Path | None, output: Path) -> Conversion:
    """Builds one network, loads its published weights and saves the Keras 3 conversion."""
    from segdemo import architectures, legacy_h5

    spec = registry.get(key)
    started = time.perf_counter()
    source, source_sha256 = source_file(key, entry, source_dir)
    print(f"  source: {source.path} ({source.path.stat().st_size / MEGABYTE:.1f} MB)", flush=True)
    # The weights are the same for both pipelines; the default one is built.
    model = architectures.build(spec.architecture, **spec.arch_kwargs)
    if source.layout == weights.LEGACY:
        report = legacy_h5.load_legacy_weights(model, source.path)
        print(f"  loaded {report.arrays_set} arrays into {report.layers_set} layers ({report.layout} layout)", flush=True)
    else:  # the weights folder or the Hub already holds a conversion: re-save it
        model.load_weights(source.path)
        print("  loaded an existing Keras 3 conversion", flush=True)
    output.mkdir(parents=True, exist_ok=True)
    target = output / entry["converted"]["file"]
    partial = target.with_name(target.name.removesuffix(".weights.h5") + ".part.weights.h5")
    model.save_weights(partial)
    os.replace(partial, target)
    del model
    gc.collect()  # a PSPNet-101 holds 250 MB of arrays: free them before the next model
    digest = sha256_of(target)
    print(f"  wrote {target} ({target.stat().st_size / MEGABYTE:.1f} MB) in {time.perf_counter() - started:.1f} s", flush=True)
    return Conversion(key, entry_name, target, digest, source.path, source_sha256)


def upload(conversions: list[Conversion], repo_id: str, token: str | None, private: bool) -> str:
    """Creates the repository when needed and commits every conversion in one commit.

    Returns:
        The commit sha (40 hex digits), to pin as the manifest's revision.
    """
    from huggingface_hub import CommitOperationAdd, HfApi, constants

    api = HfApi(endpoint=constants.ENDPOINT, token=token)  # constants.ENDPOINT follows HF_ENDPOINT
    url = api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    print(f"repository: {url}", flush=True)
    total = sum(conversion.path.stat().st_size for conversion in conversions)
    print(f"uploading {len(conversions)} file(s), {total / MEGABYTE:.0f} MB, in one commit ...", flush=True)
    started = time.perf_counter()
    description = "\n".join(
        f"- {c.path.name}: sha256 {c.sha256}, from {c.source.name} (sha256 {c.source_sha256})" for c in conversions
    )
    operations = [CommitOperationAdd(path_in_repo=c.path.name, path_or_fileobj=str(c.path)) for c in conversions]
    info = api.create_commit(
        repo_id, operations, commit_message=COMMIT_MESSAGE, commit_description=description, repo_type="model"
    )
    if not COMMIT_OID_PATTERN.match(info.oid or ""):
        raise RuntimeError(f"The Hub answered the commit with {info.oid!r}, not a commit sha")
    print(f"committed {info.oid} ({info.commit_url}) in {time.perf_counter() - started:.1f} s", flush=True)
    return info.oid


def format_manifest(value, depth: int = 0) -> str:
    """JSON in the manifest's own style: two-space indent, lists one item a line, objects of
    plain values (`converted`, `hub`) on one line."""
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict) and any(isinstance(item, (dict, list)) for item in value.values()):
        lines = [f"{inner}{json.dumps(name)}: {format_manifest(item, depth + 1)}" for name, item in value.items()]
        return "{\n" + ",\n".join(lines) + f"\n{outer}}}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(inner + format_manifest(item, depth + 1) for item in value) + f"\n{outer}]"
    return json.dumps(value, ensure_ascii=False)


def update_manifest(path: Path, document: dict, conversions: list[Conversion], repo_id: str, revision: str) -> None:
    """Records each conversion's sha256 and the pinned Hub commit; everything else is kept.
    Written to a temporary file beside the manifest and renamed, so it is never half-written."""
    for conversion in conversions:
        entry = document["published"][conversion.entry]
        entry["converted"]["sha256"] = conversion.sha256
        entry["hub"] = {**(entry.get("hub") or {}), "repo_id": repo_id, "revision": revision}
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_text(format_manifest(document) + "\n")
    os.replace(partial, path)


def space_front_matter(document: dict) -> str:
    """The `models:` and `preload_from_hub:` lines of a Space's README front matter, for every
    manifest entry published on the Hub (grouped by repository and pinned commit)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in document["published"].values():
        hub = entry.get("hub") or {}
        if hub.get("repo_id") and hub.get("revision") and entry["converted"].get("sha256"):
            groups.setdefault((hub["repo_id"], hub["revision"]), []).append(entry["converted"]["file"])
    if not groups:
        return ""
    repos = list(dict.fromkeys(repo for repo, _ in groups))
    lines = ["models:", *(f"  - {repo}" for repo in repos), "preload_from_hub:"]
    lines += [f"  - {repo} {','.join(files)} {revision}" for (repo, revision), files in groups.items()]
    return "\n".join(lines)


def publish(options: argparse.Namespace) -> list[Conversion]:
    """Runs the whole publication; see the module docstring."""
    keys, document = check_options(options)
    output = options.output or settings.cache_dir() / OUTPUT_SUBDIR
    conversions = []
    for number, key in enumerate(keys, 1):
        name = registry.get(key).published_weights
        print(f"[{number}/{len(keys)}] {key}: converting {document['published'][name]['file']}", flush=True)
        conversions.append(convert(key, name, document["published"][name], options.source_dir, output))

    print("\nsha256 of the conversions:")
    for conversion in conversions:
        print(f"  {conversion.sha256}  {conversion.path.name}  (source {conversion.source.name}: {conversion.source_sha256})")
    if options.no_upload:
        print(f"\n--no-upload: nothing uploaded, {options.manifest} not changed.")
        return conversions

    revision = upload(conversions, options.repo_id, options.token, options.private)
    update_manifest(options.manifest, document, conversions, options.repo_id, revision)
    print(
        f"\n{options.manifest}: {len(conversions)} entr{'y' if len(conversions) == 1 else 'ies'} now pinned to {options.repo_id}@{revision}"
    )
    print("\nREADME front matter for a Hugging Face Space (this script does not edit README.md):")
    print(space_front_matter(document))
    if options.private:
        print("\nThe repository is private: give the Space an HF_TOKEN secret that can read it.")
    return conversions


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    try:
        publish(options)
    except ValueError as error:  # bad input: options, manifest, a source file that does not fit
        print(f"python -m train.publish_pspnet: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as error:  # the Hub's HTTP errors (401, 403, ...) and network failures are OSErrors
        print(f"python -m train.publish_pspnet: {type(error).__name__}: {error}\nThe manifest was not changed.", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
