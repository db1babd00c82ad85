"""Census traffic replayed through a model server: one person a request, the labels later as feedback.

The rows of a span are drawn with a fixed seed (the same people every run); each is sent as an
Open Inference Protocol request with its own request id, and its label (``employed``) is held back
until :meth:`TrafficClient.send_labels` posts it to the feedback endpoint, as a survey answer
arriving after the prediction was served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd

from loopml.errors import InvalidState

__all__ = ["Batch", "TrafficClient", "labour_shock", "sample_year"]

LABEL = "employed"
_LABEL_BATCH = 500


def sample_year(data: pd.DataFrame, rows: int, *, seed: int) -> pd.DataFrame:
    """``rows`` people of one year's survey, drawn with ``seed`` (the label still attached)."""
    if rows > len(data):
        raise ValueError(f"Cannot draw {rows} rows from a span of {len(data)}.")
    return data.sample(n=rows, random_state=seed).reset_index(drop=True)


def labour_shock(rows: pd.DataFrame, *, under: int, share: float, seed: int) -> pd.DataFrame:
    """The labels after a shock: ``share`` of the employed people younger than ``under`` lose their job.

    Only the labels change: the survey answers (the model's inputs) look exactly as before, so the
    shock shows in the online accuracy once labels arrive, not in input drift.
    """
    rng = np.random.default_rng(seed)
    hit = (rows["AGEP"] < under) & (rows[LABEL] == 1) & (rng.uniform(size=len(rows)) < share)
    return rows.assign(**{LABEL: rows[LABEL].where(~hit, 0)})


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Requests sent back to back: when they started and ended, their ids and the held-back labels."""

    start: dt.datetime
    end: dt.datetime
    request_ids: tuple[str, ...]
    labels: tuple[int, ...]
    predictions: tuple[int, ...]

    @property
    def accuracy(self) -> float:
        """The share of answers equal to the (held-back) label."""
        hits = sum(p == y for p, y in zip(self.predictions, self.labels, strict=True))
        return hits / len(self.labels) if self.labels else 0.0


def _datatype(series: pd.Series) -> str:
    return "INT64" if pd.api.types.is_integer_dtype(series) else "FP64"


class TrafficClient:
    """Sends census rows to one deployment of a model server and posts their labels later.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8080``.
        deployment: The deployment (or model) name in ``/v2/models/{name}``.
        features: The columns the model takes (the label is never sent).
        timeout_s: Per request.
        concurrency: Requests in flight at once (the server batches concurrent ones).
    """

    def __init__(
        self,
        base_url: str,
        deployment: str,
        *,
        features: Sequence[str],
        timeout_s: float = 30.0,
        concurrency: int = 4,
    ) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.Client(base_url=base_url, timeout=timeout_s, limits=limits)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="census-traffic")
        self._path = f"/v2/models/{deployment}"
        self._features = tuple(features)

    def __enter__(self) -> TrafficClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(self._path + path, json=body)
        except httpx.HTTPError as err:
            raise InvalidState(f"The model server did not answer {path}: {err}.") from err
        if response.status_code != 200:
            raise InvalidState(
                f"The model server answered {path} with {response.status_code}: {response.text[:300]}"
            )
        answer: dict[str, Any] = response.json()
        return answer

    def send(self, rows: pd.DataFrame, *, prefix: str) -> Batch:
        """One request per row (ids ``{prefix}-{i:06d}``); the labels are kept for later."""
        columns = [(c, _datatype(rows[c]), rows[c].tolist()) for c in self._features]
        ids = [f"{prefix}-{i:06d}" for i in range(len(rows))]

        def one(i: int) -> int:
            body = {
                "id": ids[i],
                "inputs": [{"name": c, "shape": [1], "datatype": t, "data": [v[i]]} for c, t, v in columns],
            }
            return int(self._post("/infer", body)["outputs"][0]["data"][0])

        start = dt.datetime.now(dt.UTC)
        predictions = list(self._pool.map(one, range(len(rows))))
        end = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=1)
        return Batch(
            start=start,
            end=end,
            request_ids=tuple(ids),
            labels=tuple(int(v) for v in rows[LABEL]),
            predictions=tuple(predictions),
        )

    def send_labels(self, batch: Batch) -> int:
        """Post the labels of ``batch`` to the feedback endpoint; returns how many were stored anew."""
        stored = 0
        pairs = list(zip(batch.request_ids, batch.labels, strict=True))
        for k in range(0, len(pairs), _LABEL_BATCH):
            labels = [{"request_id": r, "label": y, "row": 0} for r, y in pairs[k : k + _LABEL_BATCH]]
            answer = self._post("/feedback", {"labels": labels})
            stored += int(answer.get("inserted", 0)) + int(answer.get("replaced", 0))
        return stored
