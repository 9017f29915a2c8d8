"""``python -m monitor.settings --schema [PATH]``: write the JSON Schema of the settings
file (default ``config/envmon.schema.json``); ``--check``: exit 1 when the published file
differs from the model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.settings.reference import SCHEMA_PATH, schema_text, write_schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.settings", description="The settings file's JSON Schema."
    )
    parser.add_argument("--schema", action="store_true", required=True, help="write it")
    parser.add_argument("path", nargs="?", type=Path, default=SCHEMA_PATH)
    parser.add_argument(
        "--check", action="store_true", help="only compare, exit 1 when the file differs"
    )
    args = parser.parse_args(argv)
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != schema_text():
            sys.stderr.write(
                f"{args.path} differs from the settings model; run {parser.prog} --schema\n"
            )
            return 1
        return 0
    sys.stdout.write(f"{write_schema(args.path)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
