"""CI's check of the demo's claims: like for like (the baselines compete; on mfeat AmNcuts is
above every deep method) and the columns of the stated test, both sides' runs and the
published margins."""

import pandas as pd

claims = pd.read_csv("results/claims.csv")
needed = {"claimed", "p_value", "ci_low", "ours_runs", "best_failed", "published_margin"}
assert needed <= set(claims.columns), needed - set(claims.columns)
cell = claims[(claims.dataset == "mfeat") & (claims.metric == "ACC") & (claims.protocol == "final")]
best = cell.iloc[0]["best_compared"]
assert best in ("KM", "Ncuts", "AmKM", "AmNcuts"), f"mfeat ACC: best compared {best}"
print(f"claims: mfeat ACC best compared {best}, {cell.iloc[0]['verdict']}")
