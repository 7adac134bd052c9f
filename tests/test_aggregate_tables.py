"""Aggregation (runs.csv, summary.csv) and the Table 1 renderer, on synthetic records."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mmcbench.core.errors import RecordError
from mmcbench.report.tables import (
    CLIB_ABLATION,
    CLIB_RESULTS,
    TABLE1,
    TABLE2,
    load_published,
    render,
)
from mmcbench.runs import records
from mmcbench.summaries.aggregate import aggregate, runs_table, summarise
from tests.conftest import fake_data


def plain(markdown: str) -> str:
    """A rendered Markdown table without the best/second emphasis."""
    return markdown.replace("**", "").replace("<u>", "").replace("</u>", "")


def make_record(
    method, variant, dataset, seed, acc, nmi=50.0, status="done", loss=None, view_name=None
):
    """A run record made by the suite's one record constructor, with chosen scores."""
    params = {"n_init": 10}
    if view_name:
        params["view_name"] = view_name
    done = status == "done"
    return records.run_record(
        method=method,
        variant=variant,
        data=fake_data(dataset),
        seed=seed,
        status=status,
        error=None if done else "boom",
        params=params,
        metrics={"ACC": acc, "NMI": nmi, "ARI": 10.0} if done else None,
        labels=None,
        loss=None if loss is None else {"name": "inertia", "value": loss},
        diagnostics={},
        started="t0",
        wall_s=1.0,
        device="cpu",
        scaling="minmax",
    )


# A record as schema version 1 wrote it (before run health and study overrides): still read.
V1_RECORD = {
    "schema_version": 1,
    "method": "AmKM",
    "variant": "all",
    "dataset": "mfeat",
    "seed": 0,
    "status": "done",
    "error": None,
    "params": {"n_init": 10},
    "metrics": {"ACC": 80.0, "NMI": 70.0, "ARI": 10.0, "ECE": None},
    "loss": {"name": "inertia", "value": 9.0},
    "time": {"wall_s": 1.0, "started": "t0", "finished": "t1"},
    "environment": {"device": "cpu", "hostname": "h", "git_commit": "abc", "versions": {}},
    "data": {
        "file": "x.h5",
        "n_samples": 10,
        "n_clusters": 2,
        "view_names": ["a"],
        "source_sha256": {},
    },
}


def test_records_of_schema_version_1_are_still_read(tmp_path):
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(V1_RECORD))
    runs = runs_table([path])
    assert set(runs["status"]) == {"done"} and len(runs) == len(records.METRICS)
    assert summarise(runs).set_index("metric").loc["ACC", "mean"] == 80.0


@pytest.fixture
def record_files(tmp_path):
    specs = [
        ("KM", "view0", "Caltech-2V", 0, 40.0, 30.0, "done", 5.0, "WM"),
        ("KM", "view0", "Caltech-2V", 1, 44.0, 32.0, "done", 3.0, "WM"),
        ("KM", "view0", "Caltech-2V", 2, None, None, "error", None, "WM"),
        ("KM", "view1", "Caltech-2V", 0, 30.0, 20.0, "done", 1.0, "CENTRIST"),
        ("KM", "view1", "Caltech-2V", 1, 31.0, 21.0, "done", 2.0, "CENTRIST"),
        ("AmKM", "all", "Caltech-2V", 0, 50.0, 40.0, "done", 9.0, None),
        ("AmKM", "all", "mfeat", 0, 80.0, 70.0, "done", 9.0, None),
        ("AmKM", "all", "mfeat", 1, 90.0, 75.0, "done", 8.0, None),
    ]
    paths = []
    for method, variant, dataset, seed, acc, nmi, status, loss, view in specs:
        path = tmp_path / "runs" / method / dataset / variant / f"seed{seed}.json"
        records.write(
            path, make_record(method, variant, dataset, seed, acc, nmi, status, loss, view)
        )
        paths.append(path)
    return paths


def test_runs_table_has_a_row_per_run_and_metric_including_failures(record_files):
    runs = runs_table(record_files)
    assert len(runs) == len(record_files) * len(records.METRICS)
    failed = runs[runs["status"] == "error"]
    assert len(failed) == len(records.METRICS) and failed["value"].isna().all()
    assert {"p_n_init", "v_python", "git_commit", "wall_s", "record"} <= set(runs.columns)


def test_summary_statistics_and_selections(record_files):
    summary = summarise(runs_table(record_files)).set_index(
        ["method", "variant", "dataset", "metric"]
    )
    km = summary.loc[("KM", "view0", "Caltech-2V", "ACC")]
    assert km["n"] == 2 and km["n_runs"] == 3 and km["n_error"] == 1
    assert km["mean"] == pytest.approx(42.0) and km["std"] == pytest.approx(math.sqrt(8.0))
    assert km["label_selected"] == 44.0 and km["label_selected_seed"] == 1
    assert km["loss_selected_seed"] == 1  # loss 3.0 < 5.0
    nmi = summary.loc[("KM", "view0", "Caltech-2V", "NMI")]
    assert nmi["label_selected"] == 32.0  # NMI of the seed chosen by ACC
    single = summary.loc[("AmKM", "all", "Caltech-2V", "ACC")]
    assert single["n"] == 1 and math.isnan(single["std"])


def test_aggregate_writes_both_csvs(tmp_path, record_files):
    aggregate(record_files, tmp_path / "runs.csv", tmp_path / "summary.csv")
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 8 * len(records.METRICS)
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 4 * len(records.METRICS)


def test_invalid_record_is_a_clear_error(tmp_path):
    bad = make_record("KM", "view0", "x", 0, 10.0)
    bad["status"] = "finished"
    with pytest.raises(RecordError, match="status"):
        records.write(tmp_path / "bad.json", bad)
    assert not (tmp_path / "bad.json").exists()


def test_table1_compares_with_both_papers_and_picks_the_best_view(tmp_path, record_files):
    summary = summarise(runs_table(record_files))
    long = render(summary, load_published(), TABLE1, tmp_path / "t1")
    km = long[(long["method"] == "KM") & (long["metric"] == "ACC")]
    assert set(km["paper"]) == {"GIB", "CLIB"}
    assert set(km["variant"]) == {"view0"}  # 42.0 mean beats 30.5
    gib = km[km["paper"] == "GIB"].iloc[0]
    assert gib["published"] == 41.6 and gib["delta"] == pytest.approx(0.4)
    assert bool(gib["reproduced"])
    amkm = long[
        (long["method"] == "AmKM") & (long["dataset"] == "Caltech-2V") & (long["metric"] == "ACC")
    ].set_index("paper")
    assert amkm.loc["GIB", "published"] == 44.6 and amkm.loc["CLIB", "published"] == 46.4
    assert amkm.loc["GIB", "delta"] == pytest.approx(50.0 - 44.6)
    assert not bool(amkm.loc["GIB", "reproduced"])
    mfeat = long[long["dataset"] == "mfeat"]
    assert set(mfeat["paper"]) == {""} and mfeat["published"].isna().all()

    md = plain((tmp_path / "t1.md").read_text())
    km = "| Caltech-2V | KM (WM, view chosen with labels) | 41.6 | 42.0 ± 2.8 (2, 1 failed) |"
    assert km + " – | +0.4 ✓ | – | – |" in md
    assert "Not in this run: Caltech-3V, IAPR, MIRFlickr, WVU" in md
    assert "| mfeat | AmKM | 85.0 ± 7.1 (2) | – | – | – | 72.5 ± 3.5 (2) | – |" in md
    tex = (tmp_path / "t1.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 3 and r"$\pm$" in tex and "\\checkmark" in tex
    assert pd.read_csv(tmp_path / "t1.csv").shape[0] == len(long)


def test_bundled_published_numbers_are_the_specs(mirror, repo):
    """mmcbench/data/published.csv is a copy of ../shared/spec/published/published.csv."""
    spec = mirror.parent / "spec" / "published" / "published.csv"
    if not spec.is_file():
        pytest.skip(f"spec copy not found at {spec}")
    assert (repo / "mmcbench/data/published.csv").read_bytes() == spec.read_bytes()
    published = load_published()
    assert len(published) == 585 and set(published["paper"]) == {"GIB", "CLIB"}


def gib_record(variant, dataset, seed, acc, loss, alpha=0.5, beta=0.5):
    record = make_record("GIB", variant, dataset, seed, acc, nmi=acc - 10, loss=loss)
    record["params"].update(alpha=alpha, beta=beta)
    record["loss"]["name"] = "total"
    return record


def test_grid_points_stay_apart_and_tables_show_the_chosen_setting(tmp_path):
    specs = [
        ("GIB", 0, 70.0, 2.0, 0.5),
        ("GIB", 1, 66.0, 1.0, 0.5),
        ("GIB", 0, 20.0, 1.0, 0.9),
        ("DDC", 0, 60.0, 3.0, 0.5),
        ("DDC", 1, 62.0, 2.5, 0.5),
    ]
    paths = []
    for variant, seed, acc, loss, alpha in specs:
        path = tmp_path / variant / f"a{alpha}" / f"seed{seed}.json"
        records.write(path, gib_record(variant, "Caltech-2V", seed, acc, loss, alpha=alpha))
        paths.append(path)
    summary = summarise(runs_table(paths))
    gib_acc = summary[(summary["variant"] == "GIB") & (summary["metric"] == "ACC")]
    assert sorted(gib_acc["p_alpha"]) == [0.5, 0.9]  # grid points are separate cells
    at_default = gib_acc[gib_acc["p_alpha"] == 0.5].iloc[0]
    assert at_default["mean"] == 68.0 and at_default["label_selected"] == 70.0
    assert at_default["loss_selected"] == 66.0 and at_default["loss_selected_seed"] == 1

    long = render(summary, load_published(), TABLE2, tmp_path / "t2", alpha=0.5, beta=0.5)
    gib = long[(long["label"] == "GIB") & (long["metric"] == "ACC")].iloc[0]
    assert gib["published"] == 69.7 and gib["delta"] == pytest.approx(68.0 - 69.7)
    ddc = long[(long["label"] == "DDC") & (long["metric"] == "NMI")].iloc[0]
    assert ddc["published"] == 50.1 and ddc["mean"] == pytest.approx(51.0)
    md = plain((tmp_path / "t2.md").read_text())
    assert "| Caltech-2V | GIB | 69.7 | 68.0 ± 2.8 (2) | – | -1.7 ✓ (honest) | – |" in md
    assert "GIB runs at α = 0.5, β = 0.5" in md
    other = render(summary, load_published(), TABLE1, tmp_path / "t1", alpha=0.9, beta=0.5)
    assert other[(other["label"] == "GIB") & (other["metric"] == "ACC")]["mean"].iloc[0] == 20.0


def test_rows_the_summary_cannot_fill_are_listed_not_dropped_silently(tmp_path):
    paths = []
    for variant, alpha in (("GIB", 0.5), ("GIB", 0.9), ("DDC", 0.9)):
        path = tmp_path / variant / f"a{alpha}" / "seed0.json"
        records.write(path, gib_record(variant, "Caltech-2V", 0, 60.0, 1.0, alpha=alpha))
        paths.append(path)
    summary = summarise(runs_table(paths))
    long = render(summary, load_published(), TABLE2, tmp_path / "t2", alpha=0.3, beta=0.5)
    assert long.empty  # nothing at α = 0.3: every row is absent…
    md = (tmp_path / "t2.md").read_text()
    assert "Rows not in the table (summary.csv has nothing to show):" in md  # …and said so
    assert (
        "- GIB: no runs at α = 0.3, β = 0.5 (the summary has (α, β) = (0.5, 0.5), (0.9, 0.5)) "
        "on Caltech-2V" in md
    )
    assert "- DDC: no runs at α = 0.3, β = 0.5 (the summary has (α, β) = (0.9, 0.5))" in md
    assert "Run, but no row to show: Caltech-2V" in md and "Not in this run: Caltech-2V" not in md
    assert "- DDC+Balls: not run on Caltech-2V" in md
    assert "% Rows not in the table: DDC: no runs" in (tmp_path / "t2.tex").read_text()
    render(summary, load_published(), TABLE2, tmp_path / "t2", alpha=0.9, beta=0.5)
    md = (tmp_path / "t2.md").read_text()
    assert "- GIB:" not in md and "- DDC:" not in md and "- DDC+Samples: not run" in md
    assert "GIB runs at α = 0.9, β = 0.5." in md and "CLIB runs" not in md


def test_render_refuses_a_setting_out_of_the_schema_range(tmp_path, record_files):
    from mmcbench.core.errors import MmcbenchError

    summary = summarise(runs_table(record_files))
    with pytest.raises(MmcbenchError, match=r"alpha = 2: 2\.0 is greater than the maximum of 1"):
        render(summary, load_published(), TABLE1, tmp_path / "t", settings={"GIB": (2.0, 0.5)})
    with pytest.raises(MmcbenchError, match="'KM' is not a deep method"):
        render(summary, load_published(), TABLE1, tmp_path / "t", settings={"KM": (0.5, 0.5)})
    with pytest.raises(MmcbenchError, match="beta = nan is not a finite number"):
        render(summary, load_published(), TABLE1, tmp_path / "t", beta=math.nan)
    assert not list(tmp_path.glob("t.*"))


def clib_record(method, variant, dataset, seed, acc, ece_value, alpha=0.5):
    record = make_record(method, variant, dataset, seed, acc, nmi=acc - 10, loss=1.0 + seed)
    record["params"].update(alpha=alpha, beta=0.5)
    record["loss"]["name"] = "total"
    record["metrics"]["ECE"] = ece_value
    return record


def test_clib_tables_show_ece_and_each_method_at_its_own_setting(tmp_path):
    paths = []
    for method, variant, seed, acc, ece_value, alpha in [
        ("CLIB", "CLIB", 0, 66.0, 14.0, 0.5),
        ("CLIB", "CLIB", 1, 70.0, 18.0, 0.5),
        ("CLIB", "CLIB", 0, 10.0, 50.0, 0.1),  # another grid point: not in the table
        ("CLIB", "IB+cluH", 0, 40.0, 30.0, 0.5),
        ("GIB", "GIB", 0, 60.0, 25.0, 0.3),
        ("AmKM", "all", 0, 45.0, None, None),
    ]:
        record = clib_record(method, variant, "Caltech-2V", seed, acc, ece_value, alpha=alpha)
        if alpha is None:
            record["params"] = {"n_init": 10}
        path = tmp_path / method / variant / f"a{alpha}" / f"seed{seed}.json"
        records.write(path, record)
        paths.append(path)
    summary = summarise(runs_table(paths))
    settings = {"CLIB": (0.5, 0.5), "GIB": (0.3, 0.5)}
    long = render(summary, load_published(), CLIB_RESULTS, tmp_path / "cr", settings=settings)
    ece_row = long[(long["label"] == "CLIB") & (long["metric"] == "ECE")].iloc[0]
    assert ece_row["published"] == 16.0 and ece_row["mean"] == pytest.approx(16.0)
    assert long[(long["label"] == "GIB") & (long["metric"] == "ACC")]["mean"].iloc[0] == 60.0
    md = plain((tmp_path / "cr.md").read_text())
    assert (
        "ECE paper" in md
        and "| Caltech-2V | CLIB | 68.6 | 68.0 ± 2.8 (2) | – | -0.6 ✓ (honest)" in md
    )
    assert "GIB runs at α = 0.3, β = 0.5; CLIB runs at α = 0.5, β = 0.5" in md
    amkm = long[(long["label"] == "AmKM") & (long["metric"] == "ECE")].iloc[0]
    assert math.isnan(amkm["mean"]) and math.isnan(amkm["published"])  # N/A for hard ones
    ablation = render(summary, load_published(), CLIB_ABLATION, tmp_path / "ca", settings=settings)
    assert set(ablation["label"]) == {"CLIB", "IB+cluH"}
    assert "| Caltech-2V | IB+cluH |" in plain((tmp_path / "ca.md").read_text())
    amkm_line = next(line for line in md.splitlines() if line.startswith("| Caltech-2V | AmKM |"))
    # ECE: paper –, honest N/A, paper's protocol –, Δ –
    assert amkm_line.rstrip(" |").endswith("| – | N/A | – | –")


def _latex_rows(tex: str) -> list[str]:
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    return [line for line in body.strip().splitlines() if line.strip()]


def test_latex_and_markdown_mark_the_best_bold_and_the_second_underlined(tmp_path):
    accs = {"DDC": 61.0, "DDC+Balls": 75.0, "DDC+Samples": 40.0, "GIB": 68.0}
    paths = []
    for variant, acc in accs.items():
        for seed, shift in ((0, -1.0), (1, 1.0)):
            path = tmp_path / variant / f"seed{seed}.json"
            records.write(path, gib_record(variant, "Caltech-2V", seed, acc + shift, 1.0))
            paths.append(path)
    render(summarise(runs_table(paths)), load_published(), TABLE2, tmp_path / "t2")
    tex = (tmp_path / "t2.tex").read_text()
    assert tex.count("{") == tex.count("}")  # balanced braces (compile-free check)
    assert tex.count(r"\begin{") == tex.count(r"\end{")
    rows = _latex_rows(tex)
    assert [r.split(" & ")[1] for r in rows] == list(accs)  # one row per method, in order
    by_method = {r.split(" & ")[1]: r.split(" & ") for r in rows}
    # Column 3 is the reproduced ACC: bold on the true maximum (DDC+Balls), underline on GIB.
    assert by_method["DDC+Balls"][3].startswith(r"\textbf{75.0")
    assert by_method["GIB"][3].startswith(r"\underline{68.0")
    assert not by_method["DDC"][3].startswith("\\")
    # Column 2 is the paper's ACC: bold on its published maximum (GIB, 69.7).
    assert by_method["GIB"][2] == r"\textbf{69.7}"
    md = (tmp_path / "t2.md").read_text()
    assert "**75.0 ± 1.4 (2)**" in md and "<u>68.0 ± 1.4 (2)</u>" in md


def test_lower_ece_ranks_first(tmp_path):
    paths = []
    for variant, ece_value in (("CLIB", 5.0), ("IB+cluH", 9.0), ("no-warmup", 20.0)):
        path = tmp_path / variant / "seed0.json"
        records.write(path, clib_record("CLIB", variant, "Caltech-2V", 0, 50.0, ece_value))
        paths.append(path)
    long = render(summarise(runs_table(paths)), load_published(), CLIB_ABLATION, tmp_path / "a")
    ece_rank = long[long["metric"] == "ECE"].set_index("label")["rank"]
    assert ece_rank.to_dict() == {"IB+cluH": 2.0, "no-warmup": 3.0, "CLIB": 1.0}
    acc_rank = long[long["metric"] == "ACC"]["rank"]
    assert set(acc_rank) == {1.0}  # a tie shares the best rank


def test_aggregate_counts_grid_points_as_separate_runs(tmp_path, caplog):
    from mmcbench.summaries.aggregate import aggregate_grid

    paths = []
    for alpha in (0.0, 0.5, 1.0):
        path = tmp_path / f"a{alpha:g}" / "seed0.json"
        records.write(path, gib_record("GIB", "mfeat", 0, 50.0, 1.0, alpha=alpha))
        paths.append(path)
    with caplog.at_level("INFO", logger="mmcbench.summaries.aggregate"):
        grid = aggregate_grid(paths, tmp_path / "grid.csv")
    assert "aggregated 3 runs (3 done)" in caplog.text
    assert sorted(grid[grid["metric"] == "ACC"]["p_alpha"]) == [0.0, 0.5, 1.0]


# ------------------------------------------------------------------ run health and study points


def with_health(record, used, collapsed, overrides=None):
    record = {**record, "schema_version": 2, "overrides": overrides or {}}
    record["health"] = {
        "clusters_used": used,
        "clusters_effective": float(used),  # equal clusters
        "n_clusters": record["data"]["n_clusters"],
        "collapsed": collapsed,
        "collapse_reason": "test" if collapsed else None,
    }
    return record


def test_collapsed_runs_are_counted_and_marked_and_study_points_stay_out_of_tables(tmp_path):
    paths = []
    for seed, acc, nmi, used, collapsed in ((0, 50.0, 0.5, 1, True), (1, 52.0, 1.0, 1, True)):
        record = gib_record("GIB", "Caltech-2V", seed, acc, 1.0)
        record["metrics"]["NMI"] = nmi
        paths.append(tmp_path / f"gib{seed}.json")
        records.write(paths[-1], with_health(record, used, collapsed))
    point = with_health(gib_record("GIB", "Caltech-2V", 0, 90.0, 1.0), 2, False, {"lr": 0.001})
    paths.append(tmp_path / "point.json")
    records.write(paths[-1], point)
    runs = runs_table(paths)
    assert set(runs["overrides"].fillna("")) == {"", "lr=0.001"}
    assert set(runs.loc[runs["overrides"] == "", "collapsed"]) == {True}
    summary = summarise(runs)
    acc = summary[(summary["metric"] == "ACC")].set_index("overrides")
    assert acc.loc["", "n_collapsed"] == 2 and acc.loc["", "clusters_used_mean"] == 1.0
    assert acc.loc["lr=0.001", "mean"] == 90.0  # a cell of its own
    long = render(summary, load_published(), TABLE2, tmp_path / "t2")
    gib = long[(long["label"] == "GIB") & (long["metric"] == "ACC")]
    assert len(gib) == 1 and gib["mean"].iloc[0] == 51.0 and gib["n_collapsed"].iloc[0] == 2
    md = plain((tmp_path / "t2.md").read_text())
    assert "51.0 ± 1.4 (2, 2 collapsed)" in md and "below max(1.5, k/4)" in md


def v1_record(nmi=40.0, status="done", **changes):
    """A schema-version-1 record (no health) with its NMI and status changed."""
    record = json.loads(json.dumps(V1_RECORD))
    record["metrics"]["NMI"] = nmi if status == "done" else None
    record["status"] = status
    return {**record, **changes}


def test_records_before_run_health_get_what_can_be_told():
    from mmcbench.runs.health import record_health

    old = v1_record(nmi=3.0)
    assert record_health(old)["collapsed"] is None  # cluster sizes unknown
    old["diagnostics"] = {"n_clusters_found": 1}
    assert record_health(old)["collapsed"] is True  # one cluster: collapsed whatever the sizes
    old["diagnostics"] = {"n_clusters_found": 2}
    assert record_health(old) == {
        "clusters_used": 2,
        "clusters_effective": None,
        "n_clusters": 2,
        "collapsed": None,
        "collapse_reason": None,
    }
    failed = v1_record(status="error", error="boom")
    assert record_health(failed)["collapsed"] is None


def test_records_with_different_scalings_are_not_mixed_in_one_summary(tmp_path):
    paths = []
    for seed, scaling in ((0, "minmax"), (1, "none")):
        record = make_record("AmKM", "all", "mfeat", seed, 50.0)
        record["params"]["scaling"] = scaling
        paths.append(tmp_path / f"seed{seed}.json")
        records.write(paths[-1], record)
    with pytest.raises(RecordError, match=r"mix scalings of the views .*seed0.json \(minmax\)"):
        aggregate(paths, tmp_path / "runs.csv", tmp_path / "summary.csv")
    assert not (tmp_path / "summary.csv").exists()
    aggregate(paths[:1], tmp_path / "runs.csv", tmp_path / "summary.csv")  # one scaling: fine


def test_tables_show_the_papers_protocol_beside_the_honest_value_and_judge_by_it(tmp_path):
    paths = []
    for seed, acc in ((0, 70.0), (1, 66.0)):
        path = tmp_path / "GIB" / f"seed{seed}.json"
        records.write(path, gib_record("GIB", "Caltech-2V", seed, acc, 1.0))
        paths.append(path)
    honest = summarise(runs_table(paths)).assign(protocol="final")
    chosen = honest.assign(protocol="paper", rule="best_run_final", mean=honest["mean"] + 7.0)
    chosen = chosen.assign(std=math.nan, n=1, seeds="1", epochs="12")
    bound = chosen.assign(
        protocol="paper_bound", rule="best_epoch_best_run", mean=chosen["mean"] + 2
    )
    label_free = honest.assign(protocol="label_free", rule="label_free", mean=honest["mean"] - 1)
    summary = pd.concat([honest, chosen, bound, label_free], ignore_index=True)
    long = render(summary, load_published(), TABLE2, tmp_path / "t2")
    gib = long[(long["label"] == "GIB") & (long["metric"] == "ACC")].iloc[0]
    assert (
        gib["mean"] == 68.0
        and gib["protocol_mean"] == 75.0
        and gib["protocol_rule"] == "best_run_final"
    )
    assert gib["bound_mean"] == 77.0 and gib["bound_gain"] == pytest.approx(9.0)
    assert gib["bound_rule"] == "best_epoch_best_run"
    assert gib["selection_gain"] == pytest.approx(7.0)
    assert (gib["protocol_seeds"], gib["protocol_epochs"]) == ("1", "12")
    # the verdict reads the paper's-protocol value (75.0 vs 69.7), the honest one is beside
    assert gib["delta"] == pytest.approx(75.0 - 69.7) and not gib["reproduced"]
    assert gib["delta_honest"] == pytest.approx(68.0 - 69.7) and gib["reproduced_honest"]
    assert gib["verdict_on"] == "paper protocol" and gib["label_free_mean"] == 67.0
    md = plain((tmp_path / "t2.md").read_text())
    assert (
        "| Caltech-2V | GIB | 69.7 | 68.0 ± 2.8 (2) | 75.0 [+7.0] | +5.3 | 77.0 [+9.0] | 67.0 |"
        in md
    )
    assert "GIB: best_run_final, the run of highest ACC at the last epoch" in md  # the rule
    assert "the other reading of GIB's protocol, best_epoch_best_run" in md
    assert r"75.0 [+7.0] & +5.3" in (tmp_path / "t2.tex").read_text()


# ---------------------------------------------------------------- results/comparison.csv
REFERENCE = "reference/demo-5seeds"


def reference_comparison(repo, tmp_path):
    """comparison.csv of the committed reference summary, written and read back."""
    from mmcbench.core.csv_input import SUMMARY, read_csv
    from mmcbench.report.comparison import comparison_table, read_comparison, write_comparison

    summary = read_csv(repo / REFERENCE / "summary.csv", "summary", columns=SUMMARY)
    write_comparison(comparison_table(summary, load_published()), tmp_path / "comparison.csv")
    return read_comparison(tmp_path / "comparison.csv")


def test_the_tables_render_from_comparison_csv_at_its_rows_setting(repo, tmp_path):
    """The reference tables, rendered from comparison.csv alone (no α/β given: the rows'), are
    the committed ones; every deep row carries its α and β."""
    from mmcbench.report.comparison import render_from_comparison

    table = reference_comparison(repo, tmp_path)
    assert set(table["table"]) == {"table1", "table2", "clib_results", "clib_ablation"}
    deep = table[table["method"].isin(["GIB", "CLIB"])]
    assert not deep.empty and (deep["alpha"] == 0.5).all() and (deep["beta"] == 0.5).all()
    assert table.loc[table["method"] == "KM", "alpha"].isna().all()
    for name, spec in (("table1", TABLE1), ("clib_results", CLIB_RESULTS)):
        render_from_comparison(table, load_published(), spec, tmp_path / name, 0.05)
        kept = (repo / REFERENCE / "tables" / f"{name}.md").read_text()
        assert (tmp_path / f"{name}.md").read_text() == kept
        fresh, stored = (
            pd.read_csv(p)
            for p in (tmp_path / f"{name}.csv", repo / REFERENCE / "tables" / f"{name}.csv")
        )
        pd.testing.assert_frame_equal(fresh, stored, check_exact=False, rtol=1e-9, atol=1e-9)
    render_from_comparison(table, load_published(), TABLE2, tmp_path / "t2", 0.05)
    md = (tmp_path / "t2.md").read_text()
    assert "- DDC: not run on mfeat" in md and "GIB runs at α = 0.5, β = 0.5." in md


def test_claims_and_the_figure_read_comparison_csv(repo, tmp_path):
    """claims.csv from comparison.csv is the one from the rendered tables' CSVs; so are the
    overview figure's cells."""
    from mmcbench.cli import main
    from mmcbench.report.figures.paper_vs_reproduced import load_comparisons

    reference_comparison(repo, tmp_path)
    comparison = str(tmp_path / "comparison.csv")
    tables = []
    for name in ("table1", "table2", "clib_results", "clib_ablation"):
        args = ["render", name, "--comparison", comparison]
        assert main([*args, "--out-prefix", str(tmp_path / name)]) == 0
        tables.append(str(tmp_path / f"{name}.csv"))
    assert main(["claims", "--comparison", comparison, "--out", str(tmp_path / "a.csv")]) == 0
    assert main(["claims", "--tables", *tables, "--out", str(tmp_path / "b.csv")]) == 0
    by_comparison, by_tables = (pd.read_csv(tmp_path / f) for f in ("a.csv", "b.csv"))
    assert len(by_comparison) > 0
    pd.testing.assert_frame_equal(by_comparison, by_tables)
    figure, from_tables = load_comparisons([comparison]), load_comparisons(tables)
    assert list(figure) == list(from_tables)
    for name, frame in figure.items():
        kept = from_tables[name]
        assert len(frame) == len(kept) > 0
        assert list(frame["mean"].fillna(-1)) == list(kept["mean"].fillna(-1))


def test_comparison_takes_alpha_beta_from_the_rows_and_refuses_two_settings(tmp_path):
    from mmcbench.core.errors import MmcbenchError
    from mmcbench.report.comparison import comparison_table

    paths = []
    for variant, alpha in (("GIB", 0.9), ("DDC", 0.9), ("GIB", 0.3)):
        path = tmp_path / variant / f"a{alpha}" / "seed0.json"
        records.write(path, gib_record(variant, "Caltech-2V", 0, 60.0, 1.0, alpha=alpha))
        paths.append(path)
    table = comparison_table(summarise(runs_table(paths[:2])), load_published())
    gib = table[(table["table"] == "table2") & (table["label"] == "GIB")]
    assert len(gib) and (gib["alpha"] == 0.9).all() and (gib["beta"] == 0.5).all()
    with pytest.raises(MmcbenchError, match=r"GIB runs at several \(α, β\): \(0.3, 0.5\), "):
        comparison_table(summarise(runs_table(paths)), load_published())


def test_aggregate_writes_the_comparison_with_the_summary(tmp_path, record_files):
    from mmcbench.report.comparison import read_comparison

    out = tmp_path / "comparison.csv"
    aggregate(record_files, tmp_path / "runs.csv", tmp_path / "summary.csv", comparison_csv=out)
    table = read_comparison(out)
    assert set(table["table"]) == {"table1"}  # no GIB or CLIB runs: the baselines' table only
    km = table[(table["method"] == "KM") & (table["metric"] == "ACC") & (table["paper"] == "GIB")]
    assert km["mean"].tolist() == [42.0] and km["published"].tolist() == [41.6]


def test_render_from_a_comparison_refuses_a_chosen_setting(tmp_path, capsys):
    from mmcbench.cli import main

    (tmp_path / "comparison.csv").write_text("x\n")
    args = ["render", "table1", "--comparison", str(tmp_path / "comparison.csv")]
    assert main([*args, "--setting", "GIB", "0.5", "0.5", "--out-prefix", str(tmp_path / "t")]) == 2
    assert "--setting do(es) not apply with --comparison" in capsys.readouterr().err
    both = [
        "claims",
        "--comparison",
        "c.csv",
        "--tables",
        "t.csv",
        "--out",
        str(tmp_path / "c.csv"),
    ]
    assert main(both) == 2
    assert "give either --comparison or --tables" in capsys.readouterr().err


def test_a_cell_whose_every_run_failed_says_so_not_that_nothing_ran():
    from mmcbench.report.tables import _mean_std

    failed = pd.Series({"mean": np.nan, "std": np.nan, "n": 0, "n_runs": 1, "n_failed": 1,
                        "metric": "ACC"})  # fmt: skip
    assert _mean_std(failed) == "every run failed (0/1 done, 1 failed)"
    absent = pd.Series({"mean": np.nan, "std": np.nan, "n": 0, "n_runs": 0, "n_failed": 0,
                        "metric": "ACC"})  # fmt: skip
    assert _mean_std(absent) == "not run"
