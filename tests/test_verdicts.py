"""Verdicts a referee accepts: like-for-like best compared, a stated test, the printed row kept,
claimed cells, calibration that a collapse cannot win, collapse at the reported epoch, and the
published numbers audited."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mmcbench.cli import main
from mmcbench.planning import catalogue
from mmcbench.report.claims import claims, load_printed, welch
from mmcbench.report.published_audit import audit, shared_cells
from mmcbench.report.tables import load_published

NO_PUBLISHED = pd.DataFrame(columns=["paper", "table", "dataset", "method", "metric", "value"])


def cell(method, mean, std=1.0, n=3, metric="ACC", dataset="mfeat", **extra):
    """One row of a rendered table's long CSV (a dataset no paper has, unless given)."""
    return {
        "paper": extra.pop("paper", ""),
        "paper_table": extra.pop("paper_table", ""),
        "dataset": dataset,
        "label": method,
        "method": method,
        "metric": metric,
        "published": math.nan,
        "mean": mean,
        "std": std,
        "n": n,
        "n_runs": extra.pop("n_runs", n),
        "n_failed": extra.pop("n_failed", 0),
        "n_collapsed": extra.pop("n_collapsed", 0),
        **extra,
    }


def only(table: pd.DataFrame, protocol: str = "final", paper: str = "GIB") -> pd.Series:
    rows = table[(table["protocol"] == protocol) & (table["paper"] == paper)]
    assert len(rows) == 1
    return rows.iloc[0]


# ------------------------------------------------------------------ like for like


def test_a_baseline_is_the_best_compared_where_it_scores_highest():
    long = pd.DataFrame(
        [cell("GIB", 80.0), cell("MFLVC", 75.0), cell("AmNcuts", 97.5, 0.0), cell("KM", 70.0)]
    )
    row = only(claims([long], NO_PUBLISHED))
    assert row["best_compared"] == "AmNcuts" and row["difference"] == pytest.approx(-17.5)
    assert row["verdict"] == "does not hold"


def test_a_users_method_declared_as_competing_enters_the_comparison(monkeypatch):
    mine = catalogue.Method("Mine", "deep", role="compared")
    monkeypatch.setitem(catalogue.CATALOGUE, "Mine", mine)
    long = pd.DataFrame([cell("GIB", 80.0), cell("MFLVC", 75.0), cell("Mine", 90.0)])
    assert only(claims([long], NO_PUBLISHED))["best_compared"] == "Mine"
    # declared as one of the papers' own methods: it does not compete
    monkeypatch.setitem(catalogue.CATALOGUE, "Mine", catalogue.Method("Mine", "deep", role="paper"))
    assert only(claims([long], NO_PUBLISHED))["best_compared"] == "MFLVC"


def test_each_claim_row_carries_the_like_for_like_overall_and_printed_margins():
    published = load_published()
    rows = [
        cell("GIB", 30.0, dataset="IAPR", metric="NMI", paper="GIB", paper_table="table1"),
        cell("MFLVC", 20.0, dataset="IAPR", metric="NMI", paper="GIB", paper_table="table1"),
    ]
    row = only(claims([pd.DataFrame(rows)], published))
    # GIB 25.4; the best of the methods the suite runs: DIVIDE 23.0 (MFLVC 22.6 before the
    # suite ran DIVIDE: 2.8, the printed margin); overall: SwMC 23.1
    assert (row["published_like_for_like"], row["published_margin"]) == (
        "DIVIDE",
        pytest.approx(2.4),
    )
    assert (row["published_best"], row["published_margin_overall"]) == ("SwMC", pytest.approx(2.3))
    assert row["printed_margin"] == pytest.approx(2.8) and row["printed_disagrees"]
    assert row["claimed"]


# ------------------------------------------------------------------ the stated test


@pytest.mark.parametrize(
    "n,below,above",
    # a spread of 3 on each side: the one-sided 5 % Welch test needs d > t(0.95, df) · se;
    # n 2: df 2, t 2.920, se 3 → 8.76; n 3: df 4, t 2.132, se √6 → 5.22;
    # n 20: df 38, t 1.686, se √0.9 → 1.60 (the old rule d − √(s₁² + s₂²) > 0 always 4.24)
    [(2, 8.7, 8.9), (3, 5.1, 5.3), (20, 1.5, 1.7)],
)
def test_welch_verdicts_against_the_t_tables(n, below, above):
    assert welch(below, 3.0, n, 3.0, n).verdict == "undecided"
    assert welch(above, 3.0, n, 3.0, n).verdict == "holds"
    assert welch(-above, 3.0, n, 3.0, n).verdict == "does not hold"


def test_welch_p_value_by_hand_at_two_seeds():
    # df = 2: P(T ≥ t) = (1 − t / √(t² + 2)) / 2, t = d / √(s²/2 + s²/2)
    test = welch(5.0, 3.0, 2, 3.0, 2)
    t = 5.0 / 3.0
    assert test.df == pytest.approx(2.0)
    assert test.p_value == pytest.approx((1 - t / math.sqrt(t * t + 2)) / 2)
    assert test.verdict == "undecided"
    half = 4.302653 * 3.0  # t(0.975, 2)
    assert (test.ci_low, test.ci_high) == (pytest.approx(5 - half), pytest.approx(5 + half))
    assert test.lower_bound == pytest.approx(5 - 2.919986 * 3.0)  # t(0.95, 2)


def test_one_seed_is_undecided_and_says_n():
    assert welch(50.0, math.nan, 1, 1.0, 3).verdict == "undecided (n = 1)"


def test_a_failed_run_shows_in_n_and_the_runs():
    long = pd.DataFrame([cell("GIB", 80.0, n=2, n_runs=3, n_failed=1), cell("MFLVC", 70.0, n=3)])
    row = only(claims([long], NO_PUBLISHED))
    assert (row["ours_n"], row["ours_runs"], row["ours_failed"]) == (2, 3, 1)
    assert row["df"] == pytest.approx((1 / 2 + 1 / 3) ** 2 / ((1 / 2) ** 2 + (1 / 3) ** 2 / 2))
    md = claims_page(long)
    assert "GIB 80.0 ± 1.0 (n 2 of 3, 1 failed)" in md


def claims_page(long: pd.DataFrame) -> str:
    from mmcbench.report.claims import claims_markdown

    return claims_markdown(claims([long], NO_PUBLISHED))


def test_the_level_comes_from_the_option_and_a_bad_one_is_refused(tmp_path, capsys):
    tables = tmp_path / "table1.csv"
    pd.DataFrame([cell("GIB", 75.0), cell("MFLVC", 70.0, std=3.0)]).to_csv(tables, index=False)
    out = tmp_path / "claims.csv"
    assert main(["claims", "--tables", str(tables), "--out", str(out), "--level", "0.01"]) == 0
    strict = pd.read_csv(out, keep_default_na=False).set_index("protocol")
    assert strict.loc["final", "level"] == 0.01 and strict.loc["final", "verdict"] == "undecided"
    assert main(["claims", "--tables", str(tables), "--out", str(out)]) == 0
    assert pd.read_csv(out).iloc[0]["verdict"] == "holds"  # p 0.026 at the default 0.05
    with pytest.raises(SystemExit):
        main(["claims", "--tables", str(tables), "--out", str(out), "--level", "0.7"])
    assert "not in (0, 0.5)" in capsys.readouterr().err


# ------------------------------------------------ claimed cells and the printed row


def test_claimed_cells_follow_the_papers():
    published = load_published()
    rows = []
    for dataset, paper, table, ours in (
        ("ESP-Game", "CLIB", "results", "CLIB"),
        ("IAPR", "GIB", "table1", "GIB"),
    ):
        for metric in ("ACC", "NMI", "ARI", "ECE"):
            for method, mean in ((ours, 60.0), ("MFLVC", 50.0)):
                rows.append(
                    cell(
                        method, mean, metric=metric, dataset=dataset, paper=paper, paper_table=table
                    )
                )
    table = claims([pd.DataFrame(rows)], published)
    claimed = table[table["protocol"] == "final"].set_index(["paper", "metric"])["claimed"]
    assert claimed[("GIB", "ACC")] and claimed[("GIB", "NMI")]
    assert not claimed[("GIB", "ECE")] and not claimed[("GIB", "ARI")]
    # CLIB's published ESP-Game NMI 39.9 is below MFLVC's 40.1: not claimed; ACC and ECE are
    assert claimed[("CLIB", "ACC")] and claimed[("CLIB", "ECE")]
    assert not claimed[("CLIB", "NMI")] and not claimed[("CLIB", "ARI")]


def test_the_printed_row_disagrees_with_its_table_in_iapr_and_mirflickr_nmi():
    findings = audit(load_published(), load_printed())
    printed = findings[findings["check"] == "printed row"]
    assert sorted(zip(printed["dataset"], printed["metric"], strict=True)) == [
        ("IAPR", "NMI"),
        ("MIRFlickr", "NMI"),
    ]
    assert len(load_printed()) == 10  # GIB's printed row: five datasets × ACC, NMI


def test_the_audit_finds_the_shared_cells_that_disagree_and_the_mirflickr_rows(tmp_path):
    published = load_published()
    assert len(shared_cells(published)) == 88
    findings = audit(published, load_printed())
    shared = findings[findings["check"] == "shared cell"]
    assert len(shared) == 21 and set(shared["dataset"]) == {"Caltech-2V", "Caltech-3V"}
    amncuts = shared[(shared["method"] == "AmNcuts") & (shared["metric"] == "NMI")].iloc[0]
    assert (amncuts["first"], amncuts["second"]) == (52.2, 5.2)
    views = findings[findings["check"] == "same rows, other views"]
    assert list(views["dataset"]) == ["MIRFlickr"] and "4 views and CLIB 2" in views["note"].iloc[0]
    out = tmp_path / "audit.csv"
    assert main(["published-audit", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == len(findings)
    assert "21 of them disagree" in out.with_suffix(".md").read_text()


def test_the_audit_says_which_claimed_cells_have_their_best_compared_method_in_the_suite():
    findings = audit(load_published(), load_printed())
    best = findings[findings["check"] == "best compared"]
    # GIB's printed row: 10 cells; CLIB: its ACC, NMI, ECE where it is the column's best (14)
    assert len(best) == 24
    in_suite = best[best["note"].str.endswith("runs in the suite")]
    assert set(in_suite["method"]) <= set(catalogue.competing_methods())
    assert not set(best["method"]) - set(in_suite["method"]) & set(catalogue.competing_methods())
    cell = best[(best["dataset"] == "Caltech-2V") & (best["metric"] == "ECE")].iloc[0]
    assert cell["method"] == "DealMVC" and (cell["first"], round(cell["second"], 1)) == (16.0, 19.1)
    assert {"SPDMC", "SwMC", "MVCAN", "ROLL"} & set(in_suite["method"]) == set()


# ------------------------------------------------------------------ calibration and collapse


def test_a_collapsed_run_is_left_out_of_a_calibration_claim():
    """SiMVC's collapsed run has uniform assignments (ECE 0): with it, SiMVC's mean ECE would
    be the best; without it, CLIB's is."""
    rows = [
        cell("CLIB", 8.0, metric="ECE", n_healthy=3, mean_healthy=8.0, std_healthy=1.0),
        cell(
            "SiMVC",
            6.0,
            std=5.2,
            metric="ECE",
            n_collapsed=1,
            n_healthy=2,
            mean_healthy=9.0,
            std_healthy=1.0,
        ),
        cell("MFLVC", 12.0, metric="ECE", n_healthy=3, mean_healthy=12.0, std_healthy=1.0),
    ]
    row = only(claims([pd.DataFrame(rows)], NO_PUBLISHED), paper="CLIB")
    assert row["best_compared"] == "SiMVC" and row["best_mean"] == 9.0
    assert (row["best_n"], row["best_collapsed"], row["best_left_out"]) == (2, 1, 1)
    assert row["difference"] == pytest.approx(1.0) and "collapsed runs left out" in row["test"]


def test_collapse_is_judged_at_the_epoch_each_protocol_reports():
    """Both runs are healthy at their best-ACC epoch (what GIB's paper protocol reports) and
    collapsed at the last epoch (the honest row)."""
    from mmcbench.summaries.protocol_rows import protocol_rows

    histories = {
        f"seed{seed}.json": pd.DataFrame(
            {
                "epoch": [0, 1, 2, 3],
                "ACC": [10.0, 80.0 + seed, 60.0, 20.0],
                "total": [9.0, 2.0, 1.5, 1.0],
                "clusters": [1, 10, 10, 2],
                "clusters_effective": [1.0, 9.5, 9.0, 1.2],
            }
        )
        for seed in (0, 1)
    }
    runs = pd.DataFrame(
        [
            {
                "method": "GIB",
                "variant": "GIB",
                "dataset": "d",
                "seed": seed,
                "status": "done",
                "record": f"seed{seed}.json",
                "n_clusters": 10,
                "metric": "ACC",
            }
            for seed in (0, 1)
        ]
    )
    rows = protocol_rows(runs, [], reader=lambda record: histories[str(record)])
    acc = rows[rows["metric"] == "ACC"].set_index("protocol")
    assert acc.loc["final", "n_collapsed"] == 2 and acc.loc["final", "n_healthy"] == 0
    # GIB's paper protocol (best_run_final) reports the last epoch, collapsed; its upper-bound
    # reading the best epoch, which is not
    assert acc.loc["paper", "n_collapsed"] == 1 and acc.loc["paper", "epochs"] == "3"
    assert acc.loc["paper_bound", "n_collapsed"] == 0 and acc.loc["paper_bound", "mean"] == 81.0
    assert acc.loc["paper_bound", "epochs"] == "1"


def test_uniform_outputs_score_no_ece_but_the_worst_nll_and_brier_in_the_loop():
    """The loop's evaluation writes NLL, Brier and the effective number of clusters."""
    import torch

    from mmcbench.training.loop import evaluate

    class Uniform:
        model = torch.nn.Linear(1, 1)

        def predict(self, views):
            return torch.full((100, 10), 0.1), torch.zeros(100, 2)

        def has_soft_assignments(self):
            return True

    labels = np.repeat(np.arange(10), 10)
    scores, _, _ = evaluate(Uniform(), [torch.zeros(100, 1)], labels)
    assert scores["ECE"] == pytest.approx(0.0, abs=1e-5)  # 0.1 in float32
    assert scores["NLL"] == pytest.approx(math.log(10), rel=1e-6)
    assert scores["Brier"] == pytest.approx(0.9, rel=1e-6)
    assert scores["clusters_effective"] == pytest.approx(1.0)


def test_the_claims_page_counts_the_claimed_cells_first():
    from mmcbench.report.claims import claims_markdown, verdict_counts

    rows = [
        cell("GIB", 80.0, dataset="WVU", paper="GIB", paper_table="table1"),
        cell("AmNcuts", 60.0, dataset="WVU", paper="GIB", paper_table="table1"),
        cell("GIB", 80.0, metric="ARI", dataset="WVU", paper="GIB", paper_table="table1"),
        cell("AmNcuts", 60.0, metric="ARI", dataset="WVU", paper="GIB", paper_table="table1"),
    ]
    table = claims([pd.DataFrame(rows)], load_published())
    counts = verdict_counts(table).set_index("protocol")
    assert counts.loc["final", "holds"] == 1 and counts.loc["final", "cells"] == 1  # ARI: extra
    page = claims_markdown(table)
    counted = page.index("| GIB | configured | honest | 1 | 0 | 0 | 1 |")
    assert page.index("## Claimed cells") < counted < page.index("## Every")
    assert "| GIB | table1 | WVU | ARI | no | honest | configured |" in page
