"""CI's check of the demo's claims and of their one input, results/comparison.csv (each deep
cell with the α and β of its runs): like for like (the baselines compete; on mfeat AmNcuts is
above every deep method) and the columns of the stated test, both sides' runs and the
published margins; GIB under each reading of its compression term in Table 1 and the claims,
and GIB's figures checked (results/paper_checks.csv)."""

import pandas as pd

comparison = pd.read_csv("results/comparison.csv")  # what the tables, claims and figure read
gib_cells = comparison[(comparison.method == "GIB") & comparison.absent.isna()]
assert len(gib_cells) and gib_cells.alpha.notna().all() and gib_cells.beta.notna().all()
pairs = set(zip(gib_cells.alpha, gib_cells.beta, strict=True))
assert len(pairs) == 1, pairs  # one (α, β) per method, from the runs
print(f"comparison: {len(comparison)} rows, GIB at (α, β) = {pairs.pop()}")

claims = pd.read_csv("results/claims.csv")
needed = {"claimed", "p_value", "ci_low", "ours_runs", "best_failed", "published_margin"}
assert needed <= set(claims.columns), needed - set(claims.columns)
cell = claims[(claims.dataset == "mfeat") & (claims.metric == "ACC") & (claims.protocol == "final")]
best = cell.iloc[0]["best_compared"]
assert best in ("KM", "Ncuts", "AmKM", "AmNcuts"), f"mfeat ACC: best compared {best}"
print(f"claims: mfeat ACC best compared {best}, {cell.iloc[0]['verdict']}")

with open("results/tables/table1.md") as file:
    table1 = file.read()
for words in ("cluster balance vs uniform", "the KL sampled at the draw"):
    assert f"| mfeat | GIB (I(X;H) as {words}) |" in table1, words
assert "| mfeat | GIB (no I(X;H) term) |" in table1
readings = set(claims.loc[claims.ours == "GIB", "reading"].fillna(""))
assert readings == {"", "cluster_balance", "sampled", "none"}, readings
checks = pd.read_csv("results/paper_checks.csv", keep_default_na=False)
gib = checks[(checks.method == "GIB") & (checks.figure == "Fig. 5")]
assert set(gib.reading) == {"", "cluster_balance", "sampled", "none"}, set(gib.reading)
verdicts = dict(zip(gib.reading, gib.verdict, strict=True))
print(f"paper checks: {len(checks)} rows, GIB Fig. 5 {verdicts}")
