"""The committed reference results (reference/) re-render from their summary with the current
code: a change to the tables or the verdicts that alters them fails here until the reference is
rendered again (reference/README.md has the commands)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mmcbench.cli import main

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
# the table → the --setting options the DAG's table rule gives it (GIB's and CLIB's α, β)
TABLES = {
    "table1": ["--setting", "GIB", "0.5", "0.5"],
    "clib_results": ["--setting", "GIB", "0.5", "0.5", "--setting", "CLIB", "0.5", "0.5"],
}


def same(made: Path, kept: Path) -> None:
    fresh, stored = pd.read_csv(made), pd.read_csv(kept)
    assert list(fresh.columns) == list(stored.columns), kept
    pd.testing.assert_frame_equal(fresh, stored, check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(p.name for p in REFERENCE.iterdir() if p.is_dir()))
def test_the_reference_rerenders_from_its_summary(name, tmp_path):
    folder = REFERENCE / name
    summary = folder / "summary.csv"
    for table, settings in TABLES.items():
        prefix = tmp_path / table
        args = ["render", table, "--summary", str(summary), *settings]
        assert main([*args, "--out-prefix", str(prefix)]) == 0
        same(prefix.with_suffix(".csv"), folder / "tables" / f"{table}.csv")
        assert prefix.with_suffix(".md").read_text() == (folder / f"tables/{table}.md").read_text()
    tables = [str(tmp_path / f"{t}.csv") for t in TABLES]
    assert main(["claims", "--tables", *tables, "--out", str(tmp_path / "claims.csv")]) == 0
    same(tmp_path / "claims.csv", folder / "claims.csv")
    assert main(["published-audit", "--out", str(tmp_path / "audit.csv")]) == 0
    same(tmp_path / "audit.csv", folder / "published_audit.csv")
    readme = (REFERENCE / "README.md").read_text()
    assert f"`{name}/`" in readme and "commit" in readme


def test_the_readme_results_table_says_what_the_reference_claims_say():
    """Each row of the README's results table: the margin and verdict of claims.csv under both
    protocols (a verdict is computed, never worded)."""
    readme = (REFERENCE.parent / "README.md").read_text()
    section = readme.split("## Results: what the suite answers so far")[1].split("\n## ")[0]
    claims = pd.read_csv(REFERENCE / "demo-5seeds/claims.csv", keep_default_na=False)
    claims = claims[claims["reading"] == ""].set_index(["paper", "metric", "protocol"])
    rows = [line for line in section.splitlines() if line.startswith(("| GIB |", "| CLIB |"))]
    assert len(rows) == 5
    for line in rows:
        paper, metric, *cells = [c.strip() for c in line.strip("|").split("|")]
        for protocol, text in zip(("final", "paper"), cells, strict=True):
            row = claims.loc[(paper, metric, protocol)]
            margin = text.split(" ")[0].replace("−", "-")
            assert float(margin) == pytest.approx(row["difference"], abs=0.051), line
            assert text.endswith(f": {row['verdict']}"), line
            assert f"vs {row['best_compared']}" in text, line
