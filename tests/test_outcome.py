"""The closing summary of a DAG (Snakefile `onsuccess`)."""

from __future__ import annotations

import json

from benchmark.outcome import count_runs, dag_summary


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
