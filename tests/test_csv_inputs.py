"""Every CSV the suite reads goes through the checks a run record gets (types, ranges, one row
per identity, finite numbers), and a history must be its record's: a hand-edited or broken file
is refused by name, as one paragraph, never a traceback and never a silently changed table."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mmcbench.cli import main
from mmcbench.runs import records
from tests.conftest import tiny_settings
from tests.test_run_outcomes import SIMVC_TINY, tiny  # noqa: F401 (a fixture)

GIB_TINY = {k: v for k, v in tiny_settings("GIB").items() if k != "epochs"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny) -> Path:  # noqa: F811
    """Runs of GIB (2 seeds) and SiMVC (2 seeds), 2 epochs, on tiny: results/runs laid out."""
    root = tmp_path_factory.mktemp("results") / "runs"
    for method, hparams, setting in (
        ("GIB", GIB_TINY, "a0.5_b0.5"),
        ("SiMVC", SIMVC_TINY, "default"),
    ):
        for seed in (0, 1):
            out = root / method / "tiny" / method / setting / f"seed{seed}.json"
            args = ["train", "--method", method, "--variant", method, "--data", str(tiny)]
            args += ["--seed", str(seed), "--epochs", "2", "--hparams", json.dumps(hparams)]
            args += ["--device", "cpu", "--threads", "1", "--out", str(out)]
            assert main(args) == 0
    return root


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, runs) -> Path:
    """summary.csv, table1.csv and claims.csv of `runs`."""
    folder = tmp_path_factory.mktemp("outputs")
    assert aggregate(runs, folder) == 0
    summary = folder / "summary.csv"
    assert (
        main(
            ["render", "table1", "--summary", str(summary), "--out-prefix", str(folder / "table1")]
        )
        == 0
    )
    assert (
        main(
            ["claims", "--tables", str(folder / "table1.csv"), "--out", str(folder / "claims.csv")]
        )
        == 0
    )
    return folder


def aggregate(root: Path, folder: Path) -> int:
    return main(
        [
            *("aggregate", "--runs-dir", str(root)),
            *("--runs-csv", str(folder / "runs.csv"), "--summary-csv", str(folder / "summary.csv")),
        ]
    )


def copy_runs(runs: Path, tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(runs, root)
    return root


def refused(capsys, *says: str) -> str:
    """stderr of a command that exited 2: one paragraph saying `says`, no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    for text in says:
        assert text in err, err[-3000:]
    return err


SIMVC_HISTORY = "SiMVC/tiny/SiMVC/default/seed0.history.csv"


# ------------------------------------------------------------------ histories, by aggregate


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", "not a text file"),
        (b"", "cannot read the run history"),
        (b"ACC,NMI\n50,40\n", "missing columns ['epoch']"),
    ],
)
def test_an_unreadable_history_is_refused_by_name(tmp_path, runs, capsys, content, says):
    root = copy_runs(runs, tmp_path)
    (root / SIMVC_HISTORY).write_bytes(content)
    assert aggregate(root, tmp_path) == 2
    refused(capsys, str(root / SIMVC_HISTORY), says, "Nothing was written")
    assert not (tmp_path / "summary.csv").exists()


def edit_history(root: Path, column: str, value, row: int = -1) -> None:
    path = root / SIMVC_HISTORY
    history = pd.read_csv(path)
    history.loc[history.index[row], column] = value
    history.to_csv(path, index=False)


def test_a_history_that_is_not_its_records_is_refused(tmp_path, runs, capsys):
    """A hand-edited last-epoch ACC would change the paper and label-free rows while the record
    says otherwise."""
    root = copy_runs(runs, tmp_path)
    edit_history(root, "ACC", 10.0)
    assert aggregate(root, tmp_path) == 2
    refused(capsys, "is not the one of its run record", "its last epoch (2) has ACC 10")


def test_a_history_score_out_of_range_is_refused(tmp_path, runs, capsys):
    root = copy_runs(runs, tmp_path)
    edit_history(root, "ACC", 500.0, row=1)
    assert aggregate(root, tmp_path) == 2
    refused(capsys, "line 3, column ACC: 500 is not a score in the range of its metric")


@pytest.mark.parametrize(
    ("epoch", "says"),
    [
        (3, "it ends at epoch 3, the record says the run trained 2 epoch(s)"),
        (2, "are one row twice (the same epoch)"),
    ],
)
def test_a_history_with_an_epoch_of_no_run_is_refused(tmp_path, runs, capsys, epoch, says):
    """A row appended past the run's last epoch, or its last epoch twice."""
    root = copy_runs(runs, tmp_path)
    path = root / SIMVC_HISTORY
    history = pd.read_csv(path)
    pd.concat([history, history.iloc[[-1]].assign(epoch=epoch)]).to_csv(path, index=False)
    assert aggregate(root, tmp_path) == 2
    refused(capsys, says)


# ------------------------------------------------------------------ summaries and tables


def edited(source: Path, target: Path, row: dict, column: str, value) -> Path:
    """`source` with `value` in `column` of the first row matching `row`."""
    frame = pd.read_csv(source, keep_default_na=False, dtype=str)
    hit = frame.index[(frame[list(row)] == pd.Series(row)).all(axis=1)][0]
    frame.loc[hit, column] = str(value)
    frame.to_csv(target, index=False)
    return target


GIB_ACC = {"method": "GIB", "metric": "ACC"}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("abc", "column mean: 'abc' is not a number"),
        ("inf", "column mean: inf is not a finite number"),
        ("154", "column mean: 154 is not a score in the range of its metric"),
    ],
)
def test_claims_refuse_a_hand_edited_table(tmp_path, outputs, capsys, value, says):
    table = edited(outputs / "table1.csv", tmp_path / "table1.csv", GIB_ACC, "mean", value)
    assert main(["claims", "--tables", str(table), "--out", str(tmp_path / "c.csv")]) == 2
    refused(capsys, str(table), says)
    assert not (tmp_path / "c.csv").exists()


def test_claims_refuse_a_duplicated_row(tmp_path, outputs, capsys):
    frame = pd.read_csv(outputs / "table1.csv")
    copy = frame[(frame["method"] == "GIB") & (frame["metric"] == "ACC")].assign(mean=54.0)
    pd.concat([frame, copy]).to_csv(tmp_path / "table1.csv", index=False)
    args = ["claims", "--tables", str(tmp_path / "table1.csv"), "--out", str(tmp_path / "c.csv")]
    assert main(args) == 2
    refused(capsys, "are one row twice (the same paper, paper_table, dataset, label, metric)")


def test_claims_refuse_the_same_table_twice(tmp_path, outputs, capsys):
    table = str(outputs / "table1.csv")
    assert main(["claims", "--tables", table, table, "--out", str(tmp_path / "c.csv")]) == 2
    refused(capsys, "the same file")


def test_render_refuses_a_summary_score_out_of_range(tmp_path, outputs, capsys):
    """A hand-edited ACC of 250 was printed in bold as the best."""
    row = {**GIB_ACC, "protocol": "final"}
    summary = edited(outputs / "summary.csv", tmp_path / "summary.csv", row, "mean", 250)
    args = ["render", "table1", "--summary", str(summary), "--out-prefix", str(tmp_path / "t1")]
    assert main(args) == 2
    refused(capsys, str(summary), "column mean: 250 is not a score")
    assert not (tmp_path / "t1.md").exists()


def test_plot_paper_vs_reproduced_refuses_text_in_a_number_column(tmp_path, outputs, capsys):
    table = edited(outputs / "table1.csv", tmp_path / "table1.csv", GIB_ACC, "std", "abc")
    args = [
        "plot",
        "paper-vs-reproduced",
        "--tables",
        str(table),
        "--out-prefix",
        str(tmp_path / "p"),
    ]
    assert main(args) == 2
    refused(capsys, "column std: 'abc' is not a number")


# ------------------------------------------------------------------ figures read histories


def dynamics(histories: list[Path], out: Path) -> list[str]:
    args = ["plot", "dynamics", "--method", "SiMVC", "--dataset", "tiny"]
    return [*args, "--histories", *map(str, histories), "--out-prefix", str(out)]


def test_plot_dynamics_refuses_the_same_history_twice(tmp_path, runs, capsys):
    history = runs / SIMVC_HISTORY
    assert main(dynamics([history, history], tmp_path / "d")) == 2
    refused(capsys, "the same file")
    copy = tmp_path / "copy.history.csv"
    shutil.copy(history, copy)
    assert main(dynamics([history, copy], tmp_path / "d")) == 2
    refused(capsys, "a copy of the same bytes")


def test_plot_dynamics_refuses_a_binary_history(tmp_path, capsys):
    bad = tmp_path / "seed0.history.csv"
    bad.write_bytes(b"\x00\x01\xff\xfe\x00binary")
    assert main(dynamics([bad], tmp_path / "d")) == 2
    refused(capsys, str(bad), "not a text file")


def test_plot_dynamics_of_two_seeds_says_two_seeds(tmp_path, runs):
    histories = [runs / SIMVC_HISTORY, runs / SIMVC_HISTORY.replace("seed0", "seed1")]
    assert main(dynamics(histories, tmp_path / "d")) == 0
    assert (tmp_path / "d.png").stat().st_size > 0


# ------------------------------------------------------------------ claims and collapse


def test_claims_say_how_many_runs_collapsed_on_each_side(outputs):
    claims = pd.read_csv(outputs / "claims.csv")
    assert {"ours_collapsed", "best_collapsed"} <= set(claims.columns)
    assert claims["ours_collapsed"].notna().all()
    assert (outputs / "claims.html").read_text().count("<tr>") == len(claims) + 1


def test_a_compared_method_that_collapsed_in_every_run_is_never_the_best():
    """Uniform assignments score ECE near 0: a fully collapsed method would win an ECE claim."""
    from mmcbench.report.claims import claim_rows, extended_claim_rows
    from mmcbench.report.tables import load_published

    def row(method, mean, n_collapsed):
        return {
            "paper": "",
            "paper_table": "",
            "dataset": "mfeat",
            "label": method,
            "method": method,
            "metric": "ECE",
            "published": math.nan,
            "mean": mean,
            "std": 1.0,
            "n": 3,
            "n_collapsed": n_collapsed,
        }

    long = pd.DataFrame([row("GIB", 10.0, 0), row("MFLVC", 0.5, 3), row("SiMVC", 12.0, 1)])
    claims = extended_claim_rows(long)
    assert set(claims["best_compared"]) == {"SiMVC"}
    assert list(claims["best_collapsed"]) == [1]
    assert (claims["verdict"] == "holds").all()
    mine_collapsed = pd.DataFrame([row("GIB", 0.1, 3), row("SiMVC", 12.0, 0)])
    verdicts = extended_claim_rows(mine_collapsed)["verdict"]
    assert set(verdicts) == {"undecided (ours collapsed in every run)"}
    assert claim_rows(long.iloc[0:0], load_published()).empty


# ------------------------------------------------------------------ the report's captions


def test_every_report_caption_is_valid_restructured_text(repo):
    """A caption with `|μ|` was read as a substitution and shown as an error block."""
    import io

    import docutils.core

    for caption in sorted((repo / "workflow/report").glob("*.rst")):
        text = re.sub(r"\{\{.*?\}\}", "X", caption.read_text())  # the Jinja fields
        warnings = io.StringIO()
        docutils.core.publish_string(
            text, writer="html", settings_overrides={"warning_stream": warnings}
        )
        assert warnings.getvalue() == "", f"{caption.name}: {warnings.getvalue()}"


def test_the_report_shows_claims_inline(repo):
    """The report embeds HTML; a CSV is only a download."""
    rule = (repo / "workflow/rules/render.smk").read_text().split("rule claims:")[1]
    assert re.search(r'html=report\(\s*"results/claims\.html"', rule), rule[:400]
    assert 'report(\n            "results/claims.csv"' not in rule


def test_a_record_is_still_read_after_the_checks(runs):
    """The fixture's own files pass every check (the checks refuse what is wrong only)."""
    from mmcbench.runs.histories import read_history

    path = runs / SIMVC_HISTORY.replace(".history.csv", ".json")
    history = read_history(runs / SIMVC_HISTORY, records.read(path))
    assert history["epoch"].tolist() == [0, 1, 2]
