"""Run health: how many clusters a run uses, and whether it collapsed.

A run is *collapsed* when it uses fewer than k − 1 clusters or its NMI is below 5 (percent):
its ACC is then the share of the largest classes it happens to cover, not a clustering score,
and the tables say so instead of ranking it as a low score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

COLLAPSE_NMI = 5.0  # percent


def clusters_used(predicted: np.ndarray) -> int:
    """Distinct cluster ids among the predictions."""
    return int(np.unique(np.asarray(predicted)).size)


def run_health(predicted: np.ndarray, n_clusters: int, nmi: float | None) -> dict[str, Any]:
    """`clusters_used`, `n_clusters`, `collapsed` and the reason (None when healthy)."""
    used = clusters_used(predicted)
    reasons = []
    if used < n_clusters - 1:
        reasons.append(f"uses {used} of {n_clusters} clusters (fewer than k − 1)")
    if nmi is not None and nmi < COLLAPSE_NMI:
        reasons.append(f"NMI {nmi:.1f} < {COLLAPSE_NMI:g}")
    return {
        "clusters_used": used,
        "n_clusters": int(n_clusters),
        "collapsed": bool(reasons),
        "collapse_reason": "; ".join(reasons) or None,
    }


def unknown_health(n_clusters: int) -> dict[str, Any]:
    """Health of a run that produced no clustering (diverged, error)."""
    return {
        "clusters_used": None,
        "n_clusters": int(n_clusters),
        "collapsed": None,
        "collapse_reason": None,
    }


def record_health(record: dict[str, Any]) -> dict[str, Any]:
    """A record's health; records written before run health (schema version 1) get what can
    be told from them: the baselines' cluster count, and NMI < 5 (else unknown, None)."""
    if "health" in record:
        return record["health"]
    k = int(record["data"]["n_clusters"])
    if record["status"] not in ("done", "stopped"):
        return unknown_health(k)
    used = (record.get("diagnostics") or {}).get("n_clusters_found")
    nmi = record["metrics"].get("NMI")
    reasons = []
    if used is not None and used < k - 1:
        reasons.append(f"uses {used} of {k} clusters (fewer than k − 1)")
    if nmi is not None and nmi < COLLAPSE_NMI:
        reasons.append(f"NMI {nmi:.1f} < {COLLAPSE_NMI:g}")
    known = bool(reasons) or used is not None
    return {
        "clusters_used": used,
        "n_clusters": k,
        "collapsed": bool(reasons) if known else None,
        "collapse_reason": "; ".join(reasons) or None,
    }
