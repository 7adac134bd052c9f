"""Selection protocols (mmcbench.summaries.protocols) on hand-made histories, and the eval-mode
losses the training loop records for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs

from mmcbench.data.load import MultiViewData
from mmcbench.methods.simvc import METHOD as SIMVC
from mmcbench.planning import catalogue
from mmcbench.runs import records
from mmcbench.summaries.protocols import (
    LABEL_COLUMNS,
    ProtocolError,
    RunHistory,
    choose,
    values_at,
)
from mmcbench.training.train import train

# what the `mvc` rule reads, as SiMVC's (and CoMVC's) folder declares it
MVC = {
    "label_free_column": SIMVC.label_free_column,
    "run_select_columns": dict(SIMVC.run_select_columns),
}
# label-derived columns: the loop's scores and methods' own (CLIB, MFLVC)
SCRAMBLED = (*LABEL_COLUMNS, "screened_acc", "pseudo_acc")


def run(seed, acc, total=None, eval_total=None, eval_ddc1=None, **params):
    """A run whose epochs 0…len(acc)−1 have these columns (epoch 0 untrained)."""
    n = len(acc)
    columns = {"epoch": range(n), "ACC": acc, "NMI": acc, "ARI": acc, "ECE": acc}
    for name, values in (("total", total), ("eval_total", eval_total), ("eval_ddc1", eval_ddc1)):
        if values is not None:
            columns[name] = values
    return RunHistory(seed, pd.DataFrame(columns), params, f"run{seed}.json")


def test_final_is_each_runs_last_epoch_averaged():
    runs = [run(0, [10, 90, 50]), run(1, [10, 20, 30])]
    choice = choose("final", runs)
    assert choice.averaged and choice.seeds == (0, 1) and choice.epochs == (2, 2)
    assert values_at(choice, runs, "ACC") == [50, 30]


def test_best_epoch_best_run_picks_the_highest_acc_ties_by_lowest_total_then_the_best_run():
    runs = [
        # epochs 1 and 3 tie at 80: epoch 3 has the lower total
        run(0, [99, 80, 20, 80], total=[0, 5.0, 1.0, 2.0]),
        # 80 too, at a higher total (3.0 > 2.0): run 0 wins the tie between runs
        run(1, [10, 80, 20, 30], total=[0, 3.0, 1.0, 1.0]),
        run(2, [10, 60, 70, 40], total=[0, 1.0, 1.0, 1.0]),
    ]
    choice = choose("best_epoch_best_run", runs)
    assert not choice.averaged
    assert choice.seeds == (0,) and choice.epochs == (3,)  # epoch 0 (untrained, 99) is no candidate


@pytest.mark.parametrize("rule", ["best_epoch_best_run", "best_run_final"])
def test_the_paper_readings_break_a_full_tie_by_the_lowest_seed(rule):
    runs = [run(3, [0, 50], total=[0, 1.0]), run(1, [0, 50], total=[0, 1.0])]
    assert choose(rule, runs).seeds == (1,)


def test_gibs_two_protocol_readings_on_a_decaying_history():
    """A run that peaks and decays (GIB under gaussian_kl on mfeat: peak 74, final 46): the
    upper-bound reading reports the peak of the best run, protocol.md's reading the best run
    at the last epoch, and the gap between them is the decay."""
    decaying = run(0, [10, 60, 74, 70, 55, 46], total=[0, 5.0, 4.0, 3.0, 2.0, 1.0])
    steady = run(1, [10, 50, 52, 53, 52, 52], total=[0, 5.0, 4.0, 3.0, 2.0, 1.5])
    late = run(2, [10, 20, 30, 40, 45, 52], total=[0, 5.0, 4.0, 3.0, 2.0, 1.2])
    runs = [decaying, steady, late]
    bound = choose("best_epoch_best_run", runs)
    assert (bound.seeds, bound.epochs) == ((0,), (2,))
    assert values_at(bound, runs, "ACC") == [74]
    final = choose("best_run_final", runs)
    # seeds 1 and 2 tie at 52 on the last epoch: the lower training total (1.2) wins
    assert (final.seeds, final.epochs) == ((2,), (5,))
    assert values_at(final, runs, "ACC") == [52]
    assert not final.averaged and not bound.averaged


def test_mvc_picks_the_lowest_eval_ddc1_among_every_4th_epoch_then_the_lowest_run():
    ddc1_a = [np.nan, 0.1, 0.5, 0.5, 0.4, 0.5, 0.5, 0.5, 0.4, 0.5]  # epoch 1 is no candidate
    ddc1_b = [np.nan, 0.9, 0.9, 0.9, 0.3, 0.9, 0.9, 0.9, 0.35, 0.9]
    runs = [
        run(0, [0] * 10, eval_ddc1=ddc1_a, eval_total=[1] * 10),
        run(1, [0] * 10, eval_ddc1=ddc1_b, eval_total=[1] * 10),
    ]
    per_run = [choose("mvc", [r], **MVC).epochs for r in runs]
    assert per_run == [(4,), (4,)]  # run 0: 4 and 8 tie at 0.4, the earlier is kept
    assert choose("mvc", runs, **MVC).seeds == (1,)  # 0.3 < 0.4


def test_the_shared_protocol_code_spells_no_methods_column():
    """The columns a method's rules read come from its folder's entry (DeepMethod)."""
    from pathlib import Path

    from mmcbench.summaries import protocol_rows, protocols

    for module in (protocols, protocol_rows):
        code = Path(module.__file__).read_text()
        for column in ('"eval_ddc1"', '"eval_clustering"', '"screened_acc"', '"ddc_1"'):
            assert column not in code, (module.__name__, column)


def test_mvc_keys_last_checkpoint_and_total_run_selection():
    a = run(0, [0] * 9, eval_ddc1=[np.nan] + [0.1] * 8, eval_total=[np.nan] + [2.0] * 8)
    b = run(1, [0] * 9, eval_ddc1=[np.nan] + [0.5] * 8, eval_total=[np.nan] + [1.0] * 8)
    last = [RunHistory(r.seed, r.history, {"checkpoint_select": "last"}, r.name) for r in (a, b)]
    assert choose("mvc", last, **MVC).epochs == (8,)
    tot = [RunHistory(r.seed, r.history, {"run_select_loss": "tot"}, r.name) for r in (a, b)]
    assert choose("mvc", tot, **MVC).seeds == (1,)
    assert choose("mvc", [a, b], **MVC).seeds == (0,)  # ddc_1 by default


def test_fixed_seed_last_takes_the_papers_seed_or_the_first():
    runs = [run(2, [0, 1, 2]), run(10, [0, 5, 6]), run(0, [0, 3, 4])]
    assert choose("fixed_seed_last", runs, paper_seed=10).seeds == (10,)
    assert choose("fixed_seed_last", runs, paper_seed=7).seeds == (0,)
    assert choose("fixed_seed_last", runs, paper_seed=10).epochs == (2,)


def test_label_free_picks_the_lowest_eval_total_of_each_run():
    runs = [
        run(0, [0, 1, 2, 3], eval_total=[np.nan, 3.0, 1.0, 1.0]),
        run(1, [0] * 4, eval_total=[0, 2, 1, 0.5]),
    ]
    choice = choose("label_free", runs)
    assert choice.averaged and choice.epochs == (2, 3)


def test_label_free_minimises_the_methods_column_not_the_total():
    """GIB's eval_total falls while σ grows (the compression term): the rule reads the
    clustering terms (`eval_clustering`), which rise after epoch 2 here."""
    history = run(0, [0, 50, 60, 40, 30], eval_total=[np.nan, 3.0, 2.0, 1.0, 0.5])
    history.history["eval_clustering"] = [np.nan, 1.0, 0.4, 0.8, 0.9]
    assert choose("label_free", [history]).epochs == (4,)
    assert choose("label_free", [history], label_free_column="eval_clustering").epochs == (2,)
    assert catalogue.get("GIB").label_free_column == "eval_clustering"
    assert catalogue.get("CLIB").label_free_column == "eval_clustering"
    assert catalogue.get("SiMVC").label_free_column == "eval_ddc1"


def test_label_free_reads_only_its_allow_list():
    """Every column but epoch, stage and the minimised one scrambled: the same choice."""
    rng = np.random.default_rng(1)
    history = run(0, list(rng.uniform(0, 100, 9)), total=list(rng.uniform(0, 1, 9)))
    history.history["eval_clustering"] = rng.uniform(0, 1, 9)
    history.history["stage"] = [np.nan, 1, 1, 1, 2, 2, 2, 2, 2]
    history.history["eval_vib"] = rng.uniform(0, 1, 9)
    history.history["pseudo_acc"] = rng.uniform(0, 1, 9)
    allowed = {"epoch", "stage", "eval_clustering"}
    scrambled = history.history.copy()
    for column in set(scrambled.columns) - allowed:
        scrambled[column] = rng.permutation(scrambled[column].to_numpy())
    twin = RunHistory(0, scrambled, {}, "run0.json")
    column = "eval_clustering"
    assert choose("label_free", [history], label_free_column=column) == choose(
        "label_free", [twin], label_free_column=column
    )


def test_label_free_never_picks_a_warm_up_epoch():
    """CLIB's eval total is L_IB alone in warm-up (stage 1), where it can be lower than any
    calibration epoch's: the rule compares the last stage's epochs only."""
    history = run(0, [0, 16, 17, 20, 60, 70], eval_total=[np.nan] * 6)
    history.history["eval_clustering"] = [np.nan, -5.0, -6.0, -7.0, 1.0, 0.5]
    history.history["stage"] = [np.nan, 1, 1, 1, 2, 2]
    choice = choose("label_free", [history], label_free_column="eval_clustering")
    assert choice.epochs == (5,)


@pytest.mark.parametrize("rule", ["final", "label_free", "mvc"])
def test_a_label_free_protocol_never_reads_a_label(rule):
    rng = np.random.default_rng(0)
    base = [
        run(
            s,
            list(rng.uniform(0, 100, 9)),
            eval_total=list(rng.uniform(0, 1, 9)),
            eval_ddc1=list(rng.uniform(0, 1, 9)),
        )
        for s in range(3)
    ]
    scrambled = [
        RunHistory(
            r.seed,
            r.history.assign(
                **{c: rng.permutation(r.history[c].to_numpy()) for c in SCRAMBLED if c in r.history}
            ),
            r.params,
            r.name,
        )
        for r in base
    ]
    assert choose(rule, base) == choose(rule, scrambled)


def test_a_history_without_the_column_a_protocol_reads_names_the_run_and_the_column():
    runs = [run(0, [0, 1, 2], total=[0, 1, 1])]
    with pytest.raises(ProtocolError, match=r"run0\.json.*'eval_total'.*label_free"):
        choose("label_free", runs)
    with pytest.raises(ProtocolError, match=r"run0\.json.*'eval_ddc1'.*mvc"):
        choose("mvc", runs, **MVC)
    for rule in ("best_epoch_best_run", "best_run_final"):
        with pytest.raises(ProtocolError, match=rf"run0\.json.*'total'.*{rule}"):
            choose(rule, [run(0, [0, 1, 2])])


def test_each_deep_method_names_a_known_paper_protocol():
    from mmcbench.summaries.protocols import RULES

    rules = {m: catalogue.get(m).paper_protocol for m in catalogue.deep_methods()}
    assert set(rules.values()) <= set(RULES)
    assert rules["GIB"] == rules["CLIB"] == "best_run_final"
    assert catalogue.get("GIB").paper_bound == "best_epoch_best_run"
    assert catalogue.get("CLIB").paper_assumed and not catalogue.get("GIB").paper_assumed
    assert rules["SiMVC"] == rules["CoMVC"] == "mvc"
    assert rules["MFLVC"] == "fixed_seed_last"
    assert catalogue.paper_seed("MFLVC", "CCV") == 3
    assert catalogue.paper_seed("MFLVC", "mfeat") == 10


@pytest.fixture(scope="module")
def blobs() -> MultiViewData:
    x, y = make_blobs(n_samples=150, centers=3, n_features=7, cluster_std=0.5, random_state=0)
    views = [x[:, :3].astype(np.float32), x[:, 3:].astype(np.float32)]
    return MultiViewData("blobs", views, ["a", "b"], y, 3, {})


@pytest.mark.parametrize("method", ["GIB", "CLIB", "SiMVC", "CoMVC", "MFLVC"])
def test_every_trained_epoch_records_its_eval_mode_losses(blobs, method):
    cls = catalogue.config_class(method)
    short = {"mse_epochs": 1, "con_epochs": 1, "tune_epochs": 1} if method == "MFLVC" else {}
    config = cls(**(short or {"epochs": 3}))
    history = train(method, blobs, method, 0, config, torch.device("cpu"), embeddings_at=()).history
    assert history["eval_total"].isna().tolist() == [True] + [False] * (len(history) - 1)
    assert np.isfinite(history["eval_total"].iloc[1:]).all()
    if method in ("SiMVC", "CoMVC"):
        assert history["eval_ddc1"].iloc[1:].notna().all()
    if method in ("GIB", "CLIB"):  # per view σ and |μ| of the variational encoders
        for view in ("v0", "v1"):
            assert (history[f"eval_sigma_{view}"].iloc[1:] > 0).all()
            assert (history[f"eval_mu_abs_{view}"].iloc[1:] >= 0).all()
    # the evaluation draws from no generator training uses: a rerun is the same run
    again = train(method, blobs, method, 0, config, torch.device("cpu"), embeddings_at=()).history
    pd.testing.assert_series_equal(history["eval_total"], again["eval_total"])


def test_summary_csv_has_a_row_per_protocol_and_the_tables_read_each_beside_honest(tmp_path):
    from mmcbench.cli import main
    from mmcbench.report.tables import read_summary
    from mmcbench.summaries.aggregate import aggregate
    from tests.conftest import write_dataset

    x, y = make_blobs(n_samples=120, centers=3, n_features=6, cluster_std=0.5, random_state=1)
    data = write_dataset(tmp_path / "blobs.h5", "blobs", [x[:, :3], x[:, 3:]], y)
    outs = [
        tmp_path / "runs" / "SiMVC" / "blobs" / "SiMVC" / "default" / f"seed{s}.json"
        for s in (0, 1)
    ]
    for seed, out in enumerate(outs):
        args = ["train", "--method", "SiMVC", "--variant", "SiMVC", "--data", str(data)]
        args += ["--seed", str(seed), "--hparams", '{"epochs": 8}', "--device", "cpu"]
        assert main([*args, "--out", str(out)]) == 0
    summary_csv = tmp_path / "summary.csv"
    aggregate(outs, tmp_path / "runs.csv", summary_csv, runs_root=tmp_path / "runs")
    summary = pd.read_csv(summary_csv, keep_default_na=False, na_values=[""])
    acc = summary[summary["metric"] == "ACC"].set_index("protocol")
    assert list(acc.index) == ["final", "paper", "label_free"]
    assert acc.loc["paper", "rule"] == "mvc" and acc.loc["paper", "n"] == 1
    assert str(acc.loc["paper", "epochs"]) in {"4", "8"}  # mvc evaluates every 4th epoch
    assert acc.loc["final", "seeds"] == "0 1" and acc.loc["final", "epochs"] == "8 8"
    assert acc.loc["label_free", "n"] == 2 and not acc.loc["label_free", "uses_labels"]
    history = pd.read_csv(outs[0].with_suffix(".history.csv")).set_index("epoch")
    seed, epoch = int(acc.loc["paper", "seeds"]), int(acc.loc["paper", "epochs"])
    chosen = pd.read_csv(outs[seed].with_suffix(".history.csv")).set_index("epoch")
    assert acc.loc["paper", "mean"] == pytest.approx(chosen.loc[epoch, "ACC"])
    assert acc.loc["final", "mean"] == pytest.approx(
        np.mean([pd.read_csv(o.with_suffix(".history.csv"))["ACC"].iloc[-1] for o in outs])
    )
    assert len(history) == 9
    tables_view = read_summary(summary_csv)  # the honest rows, the others beside them
    assert len(tables_view) == len(records.METRICS) and "protocol" not in tables_view
    acc_view = tables_view[tables_view["metric"] == "ACC"].iloc[0]
    assert acc_view["mean"] == acc.loc["final", "mean"]
    assert acc_view["paper_protocol_mean"] == acc.loc["paper", "mean"]
    assert acc_view["paper_protocol_rule"] == "mvc"
    assert acc_view["label_free_mean"] == acc.loc["label_free", "mean"]


def test_label_free_compares_the_losses_of_the_last_stage_only():
    """MFLVC's reconstruction loss (stage 1) is far below its contrastive and fine-tuning
    losses: compared across stages, label_free always picked a stage-1 epoch."""
    history = run(0, [0, 10, 20, 30, 40, 50, 60], eval_total=[np.nan, 0.6, 0.5, 138, 137, 14, 13.8])
    history.history["stage"] = [np.nan, 1, 1, 2, 2, 3, 3]
    assert choose("label_free", [history]).epochs == (6,)
    # a history without `stage` (the ones written before) compares every trained epoch
    plain = run(0, [0, 1, 2], eval_total=[np.nan, 0.5, 1.0])
    assert choose("label_free", [plain]).epochs == (1,)


def test_label_free_leaves_clib_warm_up_out_of_a_history_without_stage():
    """CLIB's eval_total is L_IB alone during warm-up (histories before the `stage` column):
    the epochs after `warmup_epochs` of its record are compared."""
    history = run(0, [0, 16, 20, 70, 75], eval_total=[np.nan, 0.1, 0.2, 3.0, 2.0], warmup_epochs=2)
    assert choose("label_free", [history]).epochs == (4,)
    no_warmup = run(0, [0, 16, 20], eval_total=[np.nan, 0.1, 0.2], warmup_epochs=0)
    assert choose("label_free", [no_warmup]).epochs == (1,)


def test_clib_writes_the_stage_of_every_epoch(tmp_path):
    from mmcbench.methods.clib.config import CLIBConfig

    x, y = make_blobs(n_samples=60, centers=3, n_features=6, random_state=0)
    data = MultiViewData(
        "blobs", [x[:, :3].astype(np.float32), x[:, 3:].astype(np.float32)], ["a", "b"], y, 3, {}
    )
    config = CLIBConfig.from_dict(
        {"epochs": 4, "warmup_epochs": 2, "batch_size": 30, "head_init_steps": 5}
    )
    history = train("CLIB", data, "CLIB", 0, config, torch.device("cpu"), (0,)).history
    assert history["stage"].tolist()[1:] == [1.0, 1.0, 2.0, 2.0]


def test_the_mvc_rule_reports_nmi_with_mvcs_geometric_normalisation():
    """simvc.nmi_average (geometric, mvc's evaluation) is read by the paper row."""
    history = run(0, [0, 50, 60], eval_ddc1=[np.nan, 0.2, 0.1], nmi_average="geometric")
    history.history["NMI_geometric"] = [0.0, 41.0, 42.0]
    choice = choose("mvc", [history], **MVC)
    assert values_at(choice, [history], "NMI", "mvc") == [42.0]
    assert values_at(choice, [history], "NMI", "final") == [60.0]
    arithmetic = run(0, [0, 50, 60], eval_ddc1=[np.nan, 0.2, 0.1], nmi_average="arithmetic")
    assert values_at(choose("mvc", [arithmetic], **MVC), [arithmetic], "NMI", "mvc") == [60.0]


def test_the_loop_records_nmi_geometric_as_sklearn_computes_it():
    from sklearn.metrics import normalized_mutual_info_score

    from mmcbench.runs.metrics import nmi

    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.integers(0, 4, 40), rng.integers(0, 5, 40)
        expected = 100 * normalized_mutual_info_score(a, b, average_method="geometric")
        assert nmi(a, b, "geometric") == expected
    assert "NMI_geometric" in LABEL_COLUMNS  # a label-free rule never reads it


def test_best_validation_takes_each_runs_best_validated_epoch_ties_to_the_later():
    from mmcbench.summaries import protocols

    a = run(0, [50.0] * 10 + [90.0] + [60.0] * 9 + [70.0] + [10.0] * 9 + [70.0])
    b = run(1, [50.0] * 31, validation_every=5)
    choice = choose("best_validation", [a, b])
    # run 0: 90 at epoch 10 (validated); run 1: every validation ties at 50 → the last, 30
    assert choice.averaged and choice.epochs == (10, 30)
    c = run(2, [50.0] * 11 + [99.0] + [40.0] * 19)  # 99 at epoch 11: not a validation epoch
    assert choose("best_validation", [c]).epochs == (10,)
    assert protocols.uses_labels("best_validation")
