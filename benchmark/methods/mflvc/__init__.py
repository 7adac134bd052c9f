"""MFLVC: multi-level feature learning for contrastive multi-view clustering (spec/MFLVC.md)."""

from benchmark.methods import DeepMethod

METHOD = DeepMethod(
    name="MFLVC",
    section="mflvc",
    config="MFLVCConfig",
    trainer="MFLVCTrainer",
    role="compared",
    order=12,
    panels=("total", "ACC", "NMI", "ECE"),
    description="Xu et al., CVPR 2022 (SubmissionsIn/MFLVC), a compared method of both papers",
)
