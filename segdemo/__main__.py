"""segdemo's command line: `python -m segdemo engines --measure KEY [--pipeline P] [--precision fast]`.

The engines' measurement runs here rather than as `python -m segdemo.engines`: importing the package
imports `segdemo.engines` (through `predict` and `runtime`), so runpy would execute that module a
second time as `__main__`, two copies of one module in one process.
"""

from __future__ import annotations

import sys

COMMANDS = {"engines": "the engines' measurement of one network (segdemo.engines.main; --help for its options)"}


def main(argv: list[str] | None = None) -> int:
    """Runs COMMAND with the rest of `argv` (default: the command line); 2 and the usage for an unknown one."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        listing = "\n".join(f"  {name}: {text}" for name, text in COMMANDS.items())
        asked = bool(argv) and argv[0] in ("-h", "--help")
        print(f"usage: python -m segdemo COMMAND [options]\ncommands:\n{listing}", file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    from segdemo import engines

    return engines.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
