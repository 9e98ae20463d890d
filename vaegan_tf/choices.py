"""The one validator of the suite's enum-like string settings (strategies, data sources, model
architectures, presets, losses, ...): an unknown value fails at once, naming every valid one."""

from __future__ import annotations

from collections.abc import Iterable


def check_choice(
    value, choices: Iterable, what: str, *, error: type[Exception] = ValueError, hint: str = ""
):
    """`value` if it is one of `choices`; else raises `error` ("unknown <what> 'x'; choose one of
    a, b, c" and `hint`)."""
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(str(choice) for choice in choices)
        raise error(f"unknown {what} {value!r}; choose one of {listed}{hint}")
    return value
