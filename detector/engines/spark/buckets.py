"""The feature stage: every account's rows meet in one task, one row per account back.

The kept rows are grouped by ``bucket = hash(account_id) mod n`` and each bucket runs
``applyInPandas`` (:func:`bucket_task`): rows sorted back into file order,
:func:`detector.features.compute_bucket`, :func:`detector.coordination.bucket_evidence`
and :func:`detector.substreams.compute_substreams` on them, the same calls as in the
local engine. A task's output is one schema (:func:`bucket_schema`) holding three kinds
of rows: accounts (features, first request, request count, sparse hourly activity),
their evidence keys, and sub-streams. On the driver :func:`parts_from` and
:func:`substreams_from` turn the collected rows back into the local engine's feature
table, linking evidence and sub-streams.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import annotate as A
from detector import schema as S
from detector.coordination import HourlyActivity, bucket_evidence
from detector.engines.spark.layout import restore_annotated
from detector.engines.spark.staging import POSITION
from detector.features import Context, compute_bucket
from detector.substreams import SHAPE_COLUMNS, SubStreams, compute_substreams

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

__all__ = [
    "BUCKETS_PER_PARTITION",
    "BucketPlan",
    "bucket_schema",
    "bucket_task",
    "parts_from",
    "substreams_from",
]


BUCKETS_PER_PARTITION = 4
"""Account buckets per shuffle partition: evens out hash collisions of bucket ids."""


@dataclass(frozen=True)
class BucketPlan:
    """What a feature task needs (pickled into the task)."""

    context: Context
    feature_names: tuple[str, ...]
    coordination: bool


_SUB_TEXT = ("ss_parent", "ss_kind", *(f"ss_{t}" for t in A.LABEL_TEXTS))
"""Text columns of a sub-stream row (parent account, kind, label texts; "" elsewhere)."""


def bucket_schema(feature_names: Sequence[str]) -> StructType:
    """Rows out of a feature task: ``_row`` 0 = an account, 1 = one of its evidence keys,
    2 = a sub-stream (``account_id`` its sub-stream id, ``ss_*`` what it is)."""
    from pyspark.sql import types as T

    fields = [
        T.StructField("_bucket", T.IntegerType(), False),
        T.StructField("_row", T.ByteType(), False),
        T.StructField("_pos", T.IntegerType(), False),
        T.StructField(S.ACCOUNT_ID, T.StringType(), False),
    ]
    fields += [T.StructField(f"f{j}", T.DoubleType(), False) for j in range(len(feature_names))]
    fields += [
        T.StructField("first_ts", T.LongType(), False),
        T.StructField("requests", T.DoubleType(), False),
        T.StructField("h_idx", T.ArrayType(T.IntegerType(), False), False),
        T.StructField("h_val", T.ArrayType(T.FloatType(), False), False),
        T.StructField("ev_key", T.LongType(), False),
        T.StructField("ev_rows", T.DoubleType(), False),
        T.StructField("ev_share", T.DoubleType(), False),
        T.StructField("ev_kind", T.StringType(), False),
        T.StructField("ss_requests", T.LongType(), False),
        T.StructField("ss_share", T.DoubleType(), False),
        *(T.StructField(f"ss_{c}", T.DoubleType(), True) for c in SHAPE_COLUMNS),
    ]
    fields += [T.StructField(c, T.StringType(), False) for c in _SUB_TEXT]
    return T.StructType(fields)


def _bucket_rows(frame: pd.DataFrame, plan: BucketPlan) -> pd.DataFrame:
    """One bucket: rows back in file order, then ``compute_bucket`` and ``bucket_evidence``."""
    bucket = int(frame["_bucket"].iloc[0])
    frame = frame.sort_values(list(POSITION), kind="stable")
    ann = restore_annotated(frame)
    feats = compute_bucket(ann, plan.context)
    if tuple(feats.columns) != plan.feature_names:
        raise RuntimeError(
            f"bucket {bucket}: compute_bucket gave columns {list(feats.columns)}, "
            f"expected {list(plan.feature_names)}"
        )
    n = len(feats)
    ids = feats.index.to_numpy(dtype=object)
    cols: dict[str, Any] = {
        "_bucket": np.full(n, bucket, dtype=np.int32),
        "_row": np.zeros(n, dtype=np.int8),
        "_pos": np.arange(n, dtype=np.int32),
        S.ACCOUNT_ID: ids,
    }
    for j, name in enumerate(plan.feature_names):
        cols[f"f{j}"] = feats[name].to_numpy(dtype=np.float64)
    empty_i = np.empty(0, dtype=np.int32)
    empty_f = np.empty(0, dtype=np.float32)
    if plan.coordination:
        ev = bucket_evidence(ann, plan.context)
        if not np.array_equal(np.asarray(ev["accounts"], dtype=object), ids):
            raise RuntimeError(f"bucket {bucket}: evidence and features disagree on accounts")
        hourly: HourlyActivity = ev["hourly"]  # sorted by (row, hour)
        bounds = np.searchsorted(hourly.row, np.arange(n + 1))
        cols["first_ts"] = np.asarray(ev["first_ts"], dtype=np.int64)
        cols["requests"] = np.asarray(ev["requests"], dtype=np.float64)
        h_idx = hourly.hour.astype(np.int32)
        h_val = hourly.count.astype(np.float32)
        cols["h_idx"] = [h_idx[bounds[i] : bounds[i + 1]] for i in range(n)]
        cols["h_val"] = [h_val[bounds[i] : bounds[i + 1]] for i in range(n)]
        evidence = ev["evidence"]
    else:
        cols["first_ts"] = np.zeros(n, dtype=np.int64)
        cols["requests"] = np.zeros(n, dtype=np.float64)
        cols["h_idx"] = [empty_i] * n
        cols["h_val"] = [empty_f] * n
        evidence = pd.DataFrame({"key": [], "rows": [], "share": [], "kind": [], S.ACCOUNT_ID: []})
    cols.update(
        ev_key=np.zeros(n, dtype=np.int64),
        ev_rows=np.zeros(n, dtype=np.float64),
        ev_share=np.zeros(n, dtype=np.float64),
        ev_kind=np.full(n, "", dtype=object),
    )
    accounts = _with_sub_columns(pd.DataFrame(cols), None)
    subs = _sub_rows(compute_substreams(ann, plan.context), bucket, plan)
    k = len(evidence)
    if k == 0:
        return pd.concat([accounts, subs], ignore_index=True)
    ev_cols: dict[str, Any] = {
        "_bucket": np.full(k, bucket, dtype=np.int32),
        "_row": np.ones(k, dtype=np.int8),
        "_pos": np.arange(k, dtype=np.int32),
        S.ACCOUNT_ID: evidence[S.ACCOUNT_ID].to_numpy(dtype=object),
        **{f"f{j}": np.zeros(k) for j in range(len(plan.feature_names))},
        "first_ts": np.zeros(k, dtype=np.int64),
        "requests": np.zeros(k, dtype=np.float64),
        "h_idx": [empty_i] * k,
        "h_val": [empty_f] * k,
        "ev_key": np.asarray(evidence["key"], dtype=np.uint64).view(np.int64),
        "ev_rows": np.asarray(evidence["rows"], dtype=np.float64),
        "ev_share": np.asarray(evidence["share"], dtype=np.float64),
        "ev_kind": evidence["kind"].to_numpy(dtype=object),
    }
    ev_rows = _with_sub_columns(pd.DataFrame(ev_cols), None)
    return pd.concat([accounts, ev_rows, subs], ignore_index=True)


def _with_sub_columns(frame: pd.DataFrame, subs: SubStreams | None) -> pd.DataFrame:
    """``frame`` with the sub-stream columns: ``subs``' meta, or empty values."""
    n = len(frame)
    if subs is None:
        frame["ss_requests"] = np.zeros(n, dtype=np.int64)
        frame["ss_share"] = np.zeros(n, dtype=np.float64)
        for c in SHAPE_COLUMNS:
            frame[f"ss_{c}"] = np.zeros(n, dtype=np.float64)
        for c in _SUB_TEXT:
            frame[c] = np.full(n, "", dtype=object)
        return frame
    meta = subs.meta
    frame["ss_requests"] = meta["requests"].to_numpy(dtype=np.int64)
    frame["ss_share"] = meta["share"].to_numpy(dtype=np.float64)
    for c in SHAPE_COLUMNS:
        frame[f"ss_{c}"] = meta[c].to_numpy(dtype=np.float64)
    frame["ss_parent"] = meta[S.ACCOUNT_ID].to_numpy(dtype=object)
    frame["ss_kind"] = meta["kind"].to_numpy(dtype=object)
    for t in A.LABEL_TEXTS:
        frame[f"ss_{t}"] = meta[t].fillna("").to_numpy(dtype=object)
    return frame


def _sub_rows(subs: SubStreams, bucket: int, plan: BucketPlan) -> pd.DataFrame:
    """The ``_row`` 2 rows of a bucket's sub-streams."""
    k = len(subs)
    empty_i = np.empty(0, dtype=np.int32)
    empty_f = np.empty(0, dtype=np.float32)
    cols: dict[str, Any] = {
        "_bucket": np.full(k, bucket, dtype=np.int32),
        "_row": np.full(k, 2, dtype=np.int8),
        "_pos": np.arange(k, dtype=np.int32),
        S.ACCOUNT_ID: subs.features.index.to_numpy(dtype=object),
    }
    for j, name in enumerate(plan.feature_names):
        values = subs.features[name] if k else np.zeros(0)  # empty: no columns either
        cols[f"f{j}"] = np.asarray(values, dtype=np.float64)
    cols.update(
        first_ts=np.zeros(k, dtype=np.int64),
        requests=np.zeros(k, dtype=np.float64),
        h_idx=[empty_i] * k,
        h_val=[empty_f] * k,
        ev_key=np.zeros(k, dtype=np.int64),
        ev_rows=np.zeros(k, dtype=np.float64),
        ev_share=np.zeros(k, dtype=np.float64),
        ev_kind=np.full(k, "", dtype=object),
    )
    return _with_sub_columns(pd.DataFrame(cols), subs)


def bucket_task(plan: BucketPlan) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The ``applyInPandas`` function of the feature stage."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        return _bucket_rows(frame, plan)

    return run


def substreams_from(table: pa.Table, plan: BucketPlan) -> SubStreams:
    """The sub-streams from the collected task rows (``_row`` 2), sorted by id."""
    rows = table.filter(pa.array(table.column("_row").to_numpy() == 2))
    if rows.num_rows == 0:
        return SubStreams.empty()
    ids = np.asarray(rows.column(S.ACCOUNT_ID).to_pylist(), dtype=object)
    index = pd.Index(ids, name=S.ACCOUNT_ID)
    values = {name: rows.column(f"f{j}").to_numpy() for j, name in enumerate(plan.feature_names)}
    meta = pd.DataFrame(
        {
            S.ACCOUNT_ID: rows.column("ss_parent").to_pylist(),
            "kind": rows.column("ss_kind").to_pylist(),
            "requests": rows.column("ss_requests").to_numpy(),
            "share": rows.column("ss_share").to_numpy(),
            **{t: rows.column(f"ss_{t}").to_pylist() for t in A.LABEL_TEXTS},
            **{
                c: rows.column(f"ss_{c}").to_numpy(zero_copy_only=False).astype(np.float64)
                for c in SHAPE_COLUMNS
            },
        },
        index=index,
    )
    return SubStreams.concat([SubStreams(pd.DataFrame(values, index=index), meta)])


def parts_from(table: pa.Table, plan: BucketPlan) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The feature table and the evidence, from the collected task rows.

    The evidence comes back as *one* part, accounts in id order and each account's
    keys in the order its task produced them: the order the local engine has when the
    log fits one bucket, so the linking sums the same floats in the same order.
    """
    row = table.column("_row").to_numpy()
    acc = table.filter(pa.array(row == 0))
    ids = np.asarray(acc.column(S.ACCOUNT_ID).to_pylist(), dtype=object)
    order = np.argsort(ids, kind="stable")
    acc = acc.take(pa.array(order))
    ids = ids[order]
    values = {name: acc.column(f"f{j}").to_numpy() for j, name in enumerate(plan.feature_names)}
    features = pd.DataFrame(values, index=pd.Index(ids, name=S.ACCOUNT_ID))
    if not plan.coordination:
        return features, []
    n = len(ids)
    lengths = pc.list_value_length(acc.column("h_idx")).to_numpy(zero_copy_only=False)
    flat_idx = pc.list_flatten(acc.column("h_idx")).to_numpy(zero_copy_only=False)
    flat_val = pc.list_flatten(acc.column("h_val")).to_numpy(zero_copy_only=False)
    hourly = HourlyActivity(
        np.repeat(np.arange(n, dtype=np.int64), lengths),
        flat_idx.astype(np.int64),
        flat_val.astype(np.float64),
    )
    evt = table.filter(pa.array(row == 1))
    ev = evt.select([S.ACCOUNT_ID, "_pos", "ev_key", "ev_rows", "ev_share", "ev_kind"]).to_pandas()
    ev = ev.sort_values([S.ACCOUNT_ID, "_pos"], kind="stable")
    evidence = pd.DataFrame(
        {
            "key": ev["ev_key"].to_numpy(dtype=np.int64).view(np.uint64),
            "rows": ev["ev_rows"].to_numpy(dtype=np.float64),
            "share": ev["ev_share"].to_numpy(dtype=np.float64),
            "kind": ev["ev_kind"].to_numpy(dtype=object),
            S.ACCOUNT_ID: ev[S.ACCOUNT_ID].to_numpy(dtype=object),
        }
    )
    part = {
        "accounts": ids,
        "evidence": evidence,
        "hourly": hourly,
        "first_ts": acc.column("first_ts").to_numpy(),
        "requests": acc.column("requests").to_numpy(),
    }
    return features, [part]
