"""GIB: granular information bottleneck (spec/GIB.md)."""

from benchmark.methods import DeepMethod

METHOD = DeepMethod(
    name="GIB",
    section="gib",
    config="GIBConfig",
    trainer="GIBTrainer",
    path_keys=("alpha", "beta"),
    role="paper",
    order=0,
    paper_protocol="best_acc",
    description="Granular Information Bottleneck (the paper of Table 1)",
)
