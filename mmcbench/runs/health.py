"""Run health: how many clusters a run uses, and whether it collapsed.

The rule reads the cluster sizes only (no label), so that it can be judged at any epoch a
selection protocol reports (the histories keep `clusters_effective` per epoch). The effective
number of clusters is exp(H(sizes)), H the entropy of the predicted cluster-size distribution:
k for k equal clusters, 1 when every sample is in one cluster. A run is *collapsed* when it is
below max(1.5, k/4): most samples sit in one or two clusters, and its scores measure that, not a
clustering (uniform soft assignments put every argmax in one cluster: 1.0). What it does and
does not flag, with k = 10 (tests/test_metrics.py):

- one cluster of 1,865 samples and nine of 15 (ACC 16.8): 1.49, collapsed;
- a clean merge of class pairs into 5 equal clusters (NMI 82): 5.0, a clustering with merged
  classes, not a collapse; an honest run using 8 of 10 clusters: about 8, healthy;
- one cluster with 80 % of the samples and the rest spread evenly: 2.56, healthy (85 %: 2.12,
  collapsed).

The bound k/4 is the suite's choice, stated, not a measured optimum; max(1.5, ·) keeps k = 2–5
meaningful (everything in one cluster is collapsed, an 80/20 split of two is not).
`clusters_used` (distinct ids) is reported beside it in every record and table. Records written
before `clusters_effective` was stored keep an unknown flag unless they used a single cluster.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

COLLAPSE_FLOOR = 1.5  # the least effective number of clusters any k needs
COLLAPSE_SHARE = 0.25  # … and the share of k
COLLAPSE_RULE = "effective number of clusters exp(H(sizes)) < max(1.5, k/4)"  # as legends say


def clusters_used(predicted: np.ndarray) -> int:
    """Distinct cluster ids among the predictions."""
    return int(np.unique(np.asarray(predicted)).size)


def effective_clusters(predicted: np.ndarray) -> float:
    """exp of the entropy (nats) of the predicted clusters' size distribution."""
    _, counts = np.unique(np.asarray(predicted), return_counts=True)
    shares = counts / counts.sum()
    return float(math.exp(-(shares * np.log(shares)).sum()))


def collapse_bound(n_clusters: int) -> float:
    """The effective number of clusters below which a clustering of k clusters is collapsed."""
    return max(COLLAPSE_FLOOR, COLLAPSE_SHARE * n_clusters)


def is_collapsed(effective: float | None, n_clusters: int, used: int | None = None) -> bool | None:
    """The rule (None: unknown, no effective number and more than one cluster used)."""
    if effective is None or (isinstance(effective, float) and math.isnan(effective)):
        return True if used == 1 else None
    return bool(effective < collapse_bound(n_clusters))


def collapse_reason(effective: float | None, n_clusters: int, used: int | None) -> str | None:
    """Why a clustering is collapsed (None when it is not or it is unknown)."""
    if not is_collapsed(effective, n_clusters, used):
        return None
    if effective is None:
        return f"uses 1 of {n_clusters} clusters"
    return (
        f"effective number of clusters {effective:.2f} < {collapse_bound(n_clusters):g} "
        f"(max(1.5, k/4), k = {n_clusters})"
    )


def run_health(predicted: np.ndarray, n_clusters: int) -> dict[str, Any]:
    """`clusters_used`, `clusters_effective`, `n_clusters`, `collapsed` and the reason (None
    when healthy)."""
    used = clusters_used(predicted)
    effective = effective_clusters(predicted)
    return {
        "clusters_used": used,
        "clusters_effective": effective,
        "n_clusters": int(n_clusters),
        "collapsed": bool(is_collapsed(effective, n_clusters, used)),
        "collapse_reason": collapse_reason(effective, n_clusters, used),
    }


def unknown_health(n_clusters: int) -> dict[str, Any]:
    """Health of a run that produced no clustering (diverged, error)."""
    return {
        "clusters_used": None,
        "clusters_effective": None,
        "n_clusters": int(n_clusters),
        "collapsed": None,
        "collapse_reason": None,
    }


def record_health(record: dict[str, Any]) -> dict[str, Any]:
    """A record's health, `collapsed` always by the rule above, read again from its stored
    cluster counts (a record written under an earlier rule reads as the legends say); records
    without a stored effective number are collapsed when they used one cluster, else unknown
    (None); records written before run health (schema version 1) read the baselines' count."""
    if "health" in record:
        stored = record["health"]
        if stored.get("clusters_used") is None:  # no clustering: nothing to read again
            return stored
        k = int(stored["n_clusters"])
        used, effective = stored["clusters_used"], stored.get("clusters_effective")
    else:
        k = int(record["data"]["n_clusters"])
        if record["status"] not in ("done", "stopped"):
            return unknown_health(k)
        used = (record.get("diagnostics") or {}).get("n_clusters_found")
        effective = None
    return {
        "clusters_used": used,
        "clusters_effective": effective,
        "n_clusters": k,
        "collapsed": is_collapsed(effective, k, used),
        "collapse_reason": collapse_reason(effective, k, used),
    }
