"""Prints the README's results table from weights/*.metrics.json (python -m bench.results_table)."""

from __future__ import annotations

import json

from segdemo import registry, settings


def main() -> None:
    print("| model | epochs | train time | valid MSE | test MSE | test IoU | large-image IoU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in registry.keys("eliret"):
        path = settings.weights_dir() / f"{key}.metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        print(
            f"| `{key}` | {m['epochs']} | {m['train_seconds'] / 60:.0f} min | {m['valid']['mse']:.4f} | {m['test']['mse']:.4f} "
            f"| {m['test']['iou']:.3f} | {m['large']['iou']:.3f} ({m['large']['count']} images) |"
        )
    print()
    print(
        "| model | epochs × steps | train time | valid loss | valid accuracy (128²) | membrane IoU | membrane F1 | accuracy at 512² |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in registry.keys("membrane"):
        path = settings.weights_dir() / f"{key}.metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        v = m["valid"]
        print(
            f"| `{key}` | {m['epochs']} × {m['steps_per_epoch']} | {m['train_seconds'] / 60:.0f} min | {v['loss']:.4f} | {v['accuracy']:.4f} "
            f"| {v['membrane_iou']:.3f} | {v['membrane_f1']:.3f} | {v['full_resolution']['accuracy']:.4f} |"
        )


if __name__ == "__main__":
    main()
