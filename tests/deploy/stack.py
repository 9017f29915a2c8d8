"""Reading the deployment files as Docker would: compose interpolation, .env files,
Dockerfile instructions and .dockerignore rules (the subset these files use)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

#: ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?error}``, ``${NAME?error}``
#: (Compose specification, "Interpolation"); ``$$`` is a literal ``$``.
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(ValueError):
    """A required variable (``${NAME:?message}``) is unset or empty."""


def compose_file() -> dict[str, Any]:
    """docker-compose.yml as parsed YAML, before interpolation."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def strings(node: object) -> Iterator[str]:
    """Every string (keys and values) in a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def variables(text: str) -> list[tuple[str, str, str]]:
    """``(name, operator, argument)`` of each variable used in a string."""
    return [
        (m.group(1), m.group(2) or "", m.group(3) or "")
        for m in _VARIABLE.finditer(text)
        if m.group(1)
    ]


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of one string, for the forms listed at ``_VARIABLE``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name)
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        if op.endswith("-") and unset:
            return arg
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    """A parsed YAML tree with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: interpolated(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolated(v, env) for v in node]
    return node


def env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a .env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME=value: {line!r}"
            values[name.strip()] = value
    return values


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a mapping (both the map and the list syntax)."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.partition("=")[::2] for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword, arguments, and the comment lines above it."""

    keyword: str
    arguments: str
    comments: tuple[str, ...]

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, else ``None``."""
        text = self.arguments
        if text.startswith("CMD ") and self.keyword == "HEALTHCHECK":
            text = text[4:]
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) else None


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined."""
    instructions: list[Instruction] = []
    comments: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        if not stripped and not pending:
            comments = []
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = " ".join((pending + stripped).split())
        pending = ""
        keyword, _, arguments = full.partition(" ")
        if keyword.upper() == "HEALTHCHECK":  # options first, then CMD
            words = arguments.split(" ")
            while words and words[0].startswith("--"):
                words.pop(0)
            arguments = " ".join(words)
        instructions.append(Instruction(keyword.upper(), arguments, tuple(comments)))
        comments = []
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each starts with FROM)."""
    groups: list[list[Instruction]] = []
    for item in instructions:
        if item.keyword == "FROM":
            groups.append([])
        groups[-1].append(item)
    return groups


def copy_sources(instruction: Instruction) -> list[str]:
    """Sources of a COPY from the build context (not ``--from`` a stage)."""
    words = shlex.split(instruction.arguments)
    if any(w.startswith("--from=") for w in words):
        return []
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


def dockerignored(path: str, rules: list[str]) -> bool:
    """Whether .dockerignore ``rules`` leave ``path`` out of the build context: the last
    rule matching the path or one of its parent folders decides (``!`` re-includes)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.strip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatchcase(p.split("/")[-1], pattern[3:]) for p in prefixes)
        else:
            hit = any(
                fnmatchcase(p, pattern) and p.count("/") == pattern.count("/") for p in prefixes
            )
        if hit:
            excluded = not negate
    return excluded


def dockerignore_rules() -> list[str]:
    """The rules of .dockerignore, in order."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
