"""The closing summary of a DAG (Snakefile `onsuccess`)."""

from __future__ import annotations

import json

from mmcbench.summaries.outcome import count_runs, dag_summary


def record(path, status, collapsed=False):
    path.write_text(json.dumps({"status": status, "health": {"collapsed": collapsed}}))
    return path


def test_summary_counts_done_collapsed_failed_and_missing(tmp_path):
    paths = [
        record(tmp_path / "a.json", "done"),
        record(tmp_path / "b.json", "done", collapsed=True),
        record(tmp_path / "c.json", "diverged"),
        record(tmp_path / "d.json", "error"),
        tmp_path / "never-written.json",
    ]
    (tmp_path / "bad.json").write_text("{not json")
    paths.append(tmp_path / "bad.json")
    counts = count_runs(paths)
    assert (counts["done"], counts["collapsed"], counts["missing"]) == (2, 1, 1)
    assert (counts["diverged"], counts["error"], counts["unreadable"]) == (1, 1, 1)
    table = tmp_path / "table1.md"
    table.write_text("# t")
    text = dag_summary(paths + paths[:1], [table, tmp_path / "absent.md"], ["config/demo.yaml"])
    assert "6 runs planned: 2 done (1 of them collapsed" in text
    assert "3 failed (1 diverged, 1 with an error), 1 not run" in text
    assert str(table) in text and "absent.md" not in text
    assert "--configfile config/demo.yaml" in text and "counted in every table cell" in text


def test_summary_names_the_collapsed_runs(tmp_path):
    def collapsed(seed, variant="GIB"):
        path = tmp_path / f"{variant}{seed}.json"
        run = {"method": "GIB", "variant": variant, "dataset": "mfeat", "seed": seed}
        run |= {"params": {"alpha": 0.5, "beta": 1.0}, "overrides": {"compression": "none"}}
        reason = "uses 1 of 10 clusters"
        health = {"collapsed": True, "collapse_reason": reason}
        path.write_text(json.dumps({**run, "status": "done", "health": health}))
        return path

    paths = [collapsed(0), collapsed(1, "DDC"), record(tmp_path / "ok.json", "done")]
    anonymous = record(tmp_path / "anonymous.json", "done", collapsed=True)
    text = dag_summary([*paths, anonymous], [], [])
    line = next(x for x in text.splitlines() if x.startswith("Collapsed: "))
    assert "GIB on mfeat, α 0.5 β 1 compression=none, seed 0 (uses 1 of 10 clusters)" in line
    assert "GIB DDC on mfeat, α 0.5 β 1 compression=none, seed 1" in line
    assert str(anonymous) in line and "ok.json" not in line
    many = dag_summary([collapsed(s) for s in range(13)], [], [])
    assert "seed 9 (" in many and "seed 10 (" not in many and "and 3 more" in many
    assert "Collapsed" not in dag_summary(paths[2:], [], [])
