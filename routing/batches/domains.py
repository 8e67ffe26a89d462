"""Domain-prefix coverage, the one rule: a prefix covers the domain of that path and every domain
below it (``llmbar`` covers ``llmbar/natural`` but not ``llmbarx``); slashes around a prefix do
not count. Credentials, gold accuracy and few-shot scopes all use it; the reviewers' queue embeds
``prefix_q`` compiled to SQL (reviewers/services/pool.py). ``path_covered`` is the same rule for
values in memory; tests/routing/batches/test_domains.py and tests/reviewers/test_fast_path.py hold
the two to one answer (the latter on generated rosters).
"""

from __future__ import annotations

from django.db.models import Q


def path_covered(path: str, prefix: str) -> bool:
    """Whether ``prefix`` covers the domain ``path``."""
    prefix = prefix.strip("/")
    return path == prefix or path.startswith(prefix + "/")


def prefix_q(prefix: str, field: str) -> Q:
    """``path_covered`` as a filter on the domain path in ``field``."""
    prefix = prefix.strip("/")
    return Q(**{field: prefix}) | Q(**{f"{field}__startswith": prefix + "/"})
