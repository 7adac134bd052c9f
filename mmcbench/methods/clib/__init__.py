"""CLIB: calibrated information bottleneck (spec/CLIB.md)."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="CLIB",
    section="clib",
    config="CLIBConfig",
    trainer="CLIBTrainer",
    path_keys=("alpha", "beta"),
    role="paper",
    order=1,
    panels=("total", "ACC", "NMI", "ECE"),
    paper_protocol="best_run_final",
    paper_bound="best_epoch_best_run",
    paper_assumed=True,  # its slides name no protocol: GIB's is assumed
    label_free_column="eval_clustering",
    description="Calibrated Information Bottleneck (the CLIB results table)",
)
