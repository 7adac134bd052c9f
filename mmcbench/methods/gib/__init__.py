"""GIB: granular information bottleneck (spec/GIB.md)."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="GIB",
    section="gib",
    config="GIBConfig",
    trainer="GIBTrainer",
    path_keys=("alpha", "beta"),
    role="paper",
    order=0,
    paper_protocol="best_run_final",
    # GIB §3.1: "ran the model 20 times ... converged after 100 epochs ... selected the model
    # with the highest accuracy and lowest loss" (protocol.md: both readings, side by side)
    paper_bound="best_epoch_best_run",
    label_free_column="eval_clustering",
    description="Granular Information Bottleneck (the paper of Table 1)",
)
