"""Print the runtime dependencies of pyproject.toml, one per line (used by the Dockerfile).

The image installs them with ``pip install -c requirements.lock -r -``: the project's own
requirements, at the exact versions of the lock file, without the dev and bench extras.
Run: ``python docker/requirements.py [pyproject.toml]``.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def runtime_requirements(pyproject: Path) -> list[str]:
    """``[project] dependencies`` of the given pyproject.toml."""
    with pyproject.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("pyproject.toml")
    sys.stdout.write("".join(f"{line}\n" for line in runtime_requirements(path)))
