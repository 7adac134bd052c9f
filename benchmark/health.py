"""Run health: how many clusters a run uses, and whether it collapsed.

A run is *collapsed* when its clustering is degenerate: it uses at most k/2 of the k clusters
(half the classes or more merged away, so ACC cannot exceed about one half) or its NMI is below
5 (percent). Its scores then measure the collapse, not a clustering, and the tables say so
instead of ranking it as a low score. A run that leaves a cluster or two empty (8 of 10) is a
clustering with merged classes, not a collapse: `clusters_used` reports it in every record and
table, `collapsed` does not. For odd k, "at most k/2" is at most ⌊k/2⌋ (2 of 5, 10 of 21).
"""

from __future__ import annotations

from typing import Any

import numpy as np

COLLAPSE_NMI = 5.0  # percent
COLLAPSE_RULE = "at most k/2 clusters used, or NMI < 5"  # the rule, as the legends state it


def clusters_used(predicted: np.ndarray) -> int:
    """Distinct cluster ids among the predictions."""
    return int(np.unique(np.asarray(predicted)).size)


def collapse_reasons(used: int | None, n_clusters: int, nmi: float | None) -> list[str]:
    """Why a clustering is collapsed (empty when it is not): the one place the rule lives.
    `used` or `nmi` None (unknown) is not a reason."""
    reasons = []
    if used is not None and 2 * used <= n_clusters:
        reasons.append(f"uses {used} of {n_clusters} clusters (at most k/2)")
    if nmi is not None and nmi < COLLAPSE_NMI:
        reasons.append(f"NMI {nmi:.1f} < {COLLAPSE_NMI:g}")
    return reasons


def run_health(predicted: np.ndarray, n_clusters: int, nmi: float | None) -> dict[str, Any]:
    """`clusters_used`, `n_clusters`, `collapsed` and the reason (None when healthy)."""
    used = clusters_used(predicted)
    reasons = collapse_reasons(used, n_clusters, nmi)
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
    """A record's health, `collapsed` always by the rule above: a stored health keeps its
    cluster count and has the flag read again from it and the record's NMI (a record written
    under an earlier rule reads as the tables' legend says); records written before run health
    (schema version 1) get what can be told from them: the baselines' cluster count, and
    NMI < 5 (else unknown, None)."""
    nmi = (record.get("metrics") or {}).get("NMI")
    if "health" in record:
        stored = record["health"]
        if stored.get("clusters_used") is None:  # no clustering: nothing to read again
            return stored
        reasons = collapse_reasons(stored["clusters_used"], int(stored["n_clusters"]), nmi)
        return {**stored, "collapsed": bool(reasons), "collapse_reason": "; ".join(reasons) or None}
    k = int(record["data"]["n_clusters"])
    if record["status"] not in ("done", "stopped"):
        return unknown_health(k)
    used = (record.get("diagnostics") or {}).get("n_clusters_found")
    reasons = collapse_reasons(used, k, nmi)
    known = bool(reasons) or used is not None
    return {
        "clusters_used": used,
        "n_clusters": k,
        "collapsed": bool(reasons) if known else None,
        "collapse_reason": "; ".join(reasons) or None,
    }
