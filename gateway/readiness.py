"""What the configuration can answer, in words a new user can act on: printed at startup, and
named in the error a request gets when nothing in its chain is configured or reachable."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.catalog import Catalog, Chain

_MISSING_VARIABLE = re.compile(r"\b([A-Z][A-Z0-9_]+) is not set\b")
# Providers that answer without a key: best-effort, so the startup report says so.
_KEYLESS_TYPES = frozenset({"g4f", "duckduckgo"})


def missing_variables(problems: Iterable[str | None]) -> list[str]:
    """The environment variables named as missing in candidates' problems, in order."""
    names: dict[str, None] = {}
    for problem in problems:
        for name in _MISSING_VARIABLE.findall(problem or ""):
            names[name] = None
    return list(names)


def startup_report(catalog: Catalog) -> list[str]:
    """One line per virtual model: how many candidates can be used and which, or what to set;
    then the variables that would add candidates."""
    chains = [*catalog.virtual_models.values(), *([catalog.search] if catalog.search else [])]
    width = max((len(chain.name) for chain in chains), default=0)
    lines = ["virtual models (usable candidates / all):"]
    for chain in chains:
        lines.append(f"  {chain.name:<{width}}  {_chain_line(chain)}")
    missing = missing_variables(d.problem for d in catalog.deployments.values())
    if missing:
        lines.append(
            f"more candidates: set {', '.join(missing)} in .env (`gateway models` shows each "
            "chain, `gateway doctor --probe` checks each provider)"
        )
    return lines


def _chain_line(chain: Chain) -> str:
    usable = [c for c in chain.candidates if c.usable]
    count = f"{len(usable)}/{len(chain.candidates)}"
    if not usable:
        missing = missing_variables(c.problem for c in chain.candidates)
        needs = f"set {' or '.join(missing)}" if missing else "see `gateway models`"
        return f"{count}  cannot answer: {needs}"
    shown = ", ".join(c.ref for c in usable[:3]) + (", ..." if len(usable) > 3 else "")
    keyless = all(
        c.deployment is not None and c.deployment.provider_type.name in _KEYLESS_TYPES
        for c in usable
    )
    return f"{count}  {shown}" + ("  (keyless only: best-effort)" if keyless else "")
