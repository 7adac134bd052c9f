"""CLIB: calibrated information bottleneck (spec/CLIB.md)."""

from benchmark.methods import DeepMethod

METHOD = DeepMethod(
    name="CLIB",
    section="clib",
    config="CLIBConfig",
    trainer="CLIBTrainer",
    path_keys=("alpha", "beta"),
    role="paper",
    order=1,
    panels=("total", "ACC", "NMI", "ECE"),
    paper_protocol="best_acc",
    description="Calibrated Information Bottleneck (the CLIB results table)",
)
