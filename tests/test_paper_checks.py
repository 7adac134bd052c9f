"""GIB's figures as claims (mmcbench.report.paper_checks): the rules on hand-made grids and
histories, and `mmcbench paper-checks` end to end on written files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmcbench.cli import main
from mmcbench.report.paper_checks import (
    MAX_SPREAD,
    convergence_verdict,
    grid_checks,
    grid_spread,
    grid_verdict,
    paper_checks,
    reading_of,
    run_convergence,
)


def grid(means: dict[tuple[float, float], float], overrides: str = "") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "method": "GIB",
                "variant": "GIB",
                "dataset": "mfeat",
                "metric": "ACC",
                "p_alpha": a,
                "p_beta": b,
                "overrides": overrides,
                "mean": mean,
                "n": 1,
                "n_runs": 1,
            }
            for (a, b), mean in means.items()
        ]
    )


def history(acc: list[float], total: list[float], nmi: list[float] | None = None) -> pd.DataFrame:
    epochs = range(len(acc))
    return pd.DataFrame({"epoch": epochs, "ACC": acc, "NMI": nmi or acc, "total": total})


def test_a_flat_grid_holds_and_a_grid_spanning_40_points_does_not():
    corners = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.5)]
    flat = grid(dict(zip(corners, [70.0, 72.5, 69.0, 71.0, 74.0], strict=True)))
    wide = grid(dict(zip(corners, [30.0, 72.5, 69.0, 71.0, 70.0], strict=True)))
    (flat_row,) = grid_checks(flat)
    (wide_row,) = grid_checks(wide)
    assert flat_row["value"] == pytest.approx(5.0) and flat_row["verdict"] == "holds"
    assert wide_row["value"] == pytest.approx(42.5) and wide_row["verdict"] == "does not hold"
    assert "α 0, 0.5, 1" in flat_row["detail"]  # the grid's ends are shown
    assert "worst 30.0 at α 0, β 0" in wide_row["detail"]


def test_the_spread_rule_and_its_edges():
    assert grid_spread([70.0, np.nan, 80.0]) == (10.0, 2)
    assert grid_verdict(MAX_SPREAD, 2) == "holds"  # at the threshold
    assert grid_verdict(MAX_SPREAD + 0.1, 2) == "does not hold"
    assert grid_verdict(0.0, 1).startswith("undecided (1 grid cell")
    assert grid_verdict(25.0, 9, max_spread=30.0) == "holds"  # --max-spread


def test_each_reading_gets_its_own_grid_check():
    both = pd.concat(
        [
            grid({(0.0, 0.5): 70.0, (1.0, 0.5): 71.0}),
            grid({(0.0, 0.5): 70.0, (1.0, 0.5): 20.0}, "compression=gaussian_kl"),
            grid({(0.0, 0.5): 70.0, (1.0, 0.5): 20.0}, "lr=0.001"),  # a study point: none
        ]
    )
    rows = {r["reading"]: r["verdict"] for r in grid_checks(both)}
    assert rows == {"": "holds", "gaussian_kl": "does not hold"}
    assert reading_of("compression=none") == "none" and reading_of("kl_reduction=sum") is None
    assert reading_of(np.nan) == ""


def test_a_decaying_history_fails_convergence_and_a_rising_one_holds():
    """GIB under gaussian_kl on mfeat: ACC peaks at 74 and ends at 46."""
    epochs = 100
    decay = history(
        [10, *list(np.linspace(60, 74, 10)), *list(np.linspace(74, 46, epochs - 10))],
        [0, *list(np.linspace(10, 1, epochs))],
    )
    measures = run_convergence(decay)
    assert measures["ACC_drop"] == pytest.approx(28.0)
    verdict = convergence_verdict(
        measures["ACC_drop"], measures["NMI_drop"], measures["loss_change"], 1, epochs
    )
    assert verdict == "does not hold"
    rising = history(
        [10] + list(np.linspace(40, 70, 15)) + [70.0] * (epochs - 15),
        [0, *list(10 * np.exp(-np.arange(epochs) / 3.0))],
    )
    measures = run_convergence(rising)
    assert measures["ACC_drop"] == 0 and measures["loss_change"] < 0.05
    assert convergence_verdict(0.0, 0.0, measures["loss_change"], 1, epochs) == "holds"


def test_a_loss_still_moving_fails_and_a_short_schedule_is_undecided():
    epochs = 50
    falling = history([10] + [70.0] * epochs, [0, *list(np.linspace(10, 0, epochs))])
    measures = run_convergence(falling)
    assert measures["loss_change"] == pytest.approx(10 / 49, rel=1e-6)  # 10 of 49 steps
    assert convergence_verdict(0.0, 0.0, measures["loss_change"], 1, epochs) == "does not hold"
    short = run_convergence(history([10, 50, 60], [0, 2, 1]))
    assert np.isnan(short["loss_change"])
    assert convergence_verdict(0.0, 0.0, short["loss_change"], 1, 2).startswith("undecided (2 ep")
    flat = run_convergence(history([10] + [70.0] * 12, [0] + [1.0] * 12))
    assert flat["loss_change"] == 0  # 12 epochs: stable, but too short for the claim
    assert convergence_verdict(0.0, 0.0, 0.0, 1, 12).startswith("undecided (12 epochs")
    assert convergence_verdict(np.nan, np.nan, np.nan, 0).startswith("undecided (no run")


def test_a_reading_without_a_grid_is_undecided_for_fig4(tmp_path):
    histories = {
        "a.json": history([10] + [70.0] * 60, [0] + [1.0] * 60),
        "b.json": history([10] + [60.0] * 60, [0] + [1.0] * 60),
    }
    runs = pd.DataFrame(
        [
            {"method": "GIB", "variant": "GIB", "dataset": "mfeat", "status": "done"}
            | {"record": "a.json", "overrides": ""},
            {"method": "GIB", "variant": "GIB", "dataset": "mfeat", "status": "done"}
            | {"record": "b.json", "overrides": "compression=none"},
            {"method": "GIB", "variant": "DDC", "dataset": "mfeat", "status": "done"}
            | {"record": "c.json", "overrides": ""},  # an ablation: not checked
        ]
    )
    table = paper_checks(grid({(0.0, 0.5): 70.0, (1.0, 0.5): 71.0}), runs, histories.__getitem__)
    verdicts = {(r.figure, r.reading): r.verdict for r in table.itertuples()}
    assert verdicts == {
        ("Fig. 4", ""): "holds",
        ("Fig. 4", "none"): "undecided (no grid under this reading: grid.readings)",
        ("Fig. 5", ""): "holds",
        ("Fig. 5", "none"): "holds",
    }
    assert table["sentence"].str.contains("not very sensitive|converge to stable").all()
    assert set(table["claimed_by"]) == {"GIB paper"}


def test_the_command_writes_the_checks_and_refuses_bad_options(tmp_path, capsys):
    grid_csv = tmp_path / "grid.csv"
    grid({(0.0, 0.5): 70.0, (1.0, 0.5): 20.0}).assign(protocol="final").to_csv(
        grid_csv, index=False
    )
    runs_csv = tmp_path / "runs.csv"
    pd.DataFrame(columns=["method", "variant", "dataset", "status", "record"]).to_csv(
        runs_csv, index=False
    )
    out = tmp_path / "checks" / "paper_checks.csv"
    args = ["paper-checks", "--runs", str(runs_csv), "--grid", str(grid_csv)]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table["verdict"]) == ["does not hold"]
    assert "Fig. 4" in out.with_suffix(".md").read_text()
    assert out.with_suffix(".html").is_file()
    assert main([*args, "--max-spread", "60", "--out", str(out)]) == 0
    assert list(pd.read_csv(out)["verdict"]) == ["holds"]
    assert main([*args, "--max-spread", "0", "--out", str(out)]) != 0
    assert main([*args, "--out", str(tmp_path / "checks.txt")]) != 0
    err = capsys.readouterr().err
    assert "--max-spread 0 must be > 0" in err and "must be a .csv file" in err
