"""A small platform to look at: users of each role, an open and a restricted experiment, runs whose
names, params and tags carry markup, nested runs and long metric histories."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.store.entities import Metric

#: Names that must render as text, never as markup or script.
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
XSS_NAME = "<img src=x onerror=alert(1)>"  # experiment and model names may not hold a slash


@dataclass
class World:
    url: str
    store: Any
    home: Path
    tokens: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)


def populate(s: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Fill the store ``s``; returns (tokens by user, ids of the records by what they are)."""
    auth = AuthService(s)
    tokens = {}
    for name, role in (("root", Role.ADMIN), ("ed", Role.EDITOR), ("vi", Role.VIEWER)):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    ids: dict[str, str] = {}
    exp = s.experiments.create(f"open {XSS_NAME}")
    secret = s.experiments.create("secret")
    auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key=secret.experiment_id), "write")
    ids["experiment"], ids["secret"] = exp.experiment_id, secret.experiment_id
    parent = s.runs.create(exp.experiment_id, name=f"parent {XSS}".replace("/", "-"))
    s.runs.log_batch(
        parent.run_id,
        metrics=[Metric(key="loss", value=1.0 / (i + 1), step=i, timestamp=i) for i in range(2_000)],
        params={"lr": "0.1", "model": XSS},
        tags={"note": XSS},
    )
    s.runs.set_reproducibility(parent.run_id, {"git": {"commit": "abc", "dirty": False}, "note": XSS})
    child = s.runs.create(exp.experiment_id, name="child", parent_run_id=parent.run_id)
    s.runs.log_batch(
        child.run_id,
        metrics=[Metric(key="loss", value=2.0 / (i + 1), step=i, timestamp=i) for i in range(100)],
        params={"lr": "0.2", "model": XSS},
    )
    hidden = s.runs.create(secret.experiment_id, name="hidden-run")
    s.runs.log_batch(hidden.run_id, metrics=[Metric(key="loss", value=0.5, timestamp=0)], params={"lr": "9"})
    ids["parent"], ids["child"], ids["hidden"] = parent.run_id, child.run_id, hidden.run_id
    return tokens, ids


def login(client: httpx.Client, token: str, *, next_page: str = "/ui/experiments") -> httpx.Response:
    """Log ``client`` in through the form (its CSRF cookie and field included)."""
    form = client.get("/ui/login")
    csrf = csrf_in(form.text)
    return client.post("/ui/login", data={"token": token, "csrf": csrf, "next": next_page})


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)
