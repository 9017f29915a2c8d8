"""Errors envmon raises on purpose, and what each one means for the caller.

======================  ==================================================================
Error                   When
======================  ==================================================================
``EnvmonError``         base of every error below; the CLI prints its message on one line
``ConfigError``         the settings file or environment is wrong; carries *all* problems
                        found, so an operator fixes them in one go (CLI exit code 2)
``InputError``          a file given on the command line cannot be used as it is (unknown
                        columns only, bad header, empty file …); exit code 2
======================  ==================================================================

Domain functions (``monitor.domain``) raise plain :class:`ValueError` with a message that
names the value and what was expected; they never log.
"""

from __future__ import annotations

from collections.abc import Iterable


class EnvmonError(Exception):
    """Base of the errors envmon raises on purpose."""

    exit_code = 1


class ConfigError(EnvmonError, ValueError):
    """The configuration is unusable; ``problems`` lists every problem found."""

    exit_code = 2

    def __init__(self, problems: Iterable[str], source: str = "configuration") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class InputError(EnvmonError, ValueError):
    """An input file cannot be used; the message says which value and what was expected."""

    exit_code = 2
