"""MFLVC: multi-level feature learning for contrastive multi-view clustering (spec/MFLVC.md)."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="MFLVC",
    section="mflvc",
    config="MFLVCConfig",
    trainer="MFLVCTrainer",
    role="compared",
    order=12,
    min_views=2,  # its contrastive loss pairs views: with one view there is none
    panels=("total", "ACC", "NMI", "ECE"),
    paper_protocol="fixed_seed_last",
    # spec/MFLVC.md "Per-dataset settings shipped": train.py's fixed seed per dataset; 10 for
    # any other (the code's most common value)
    paper_seeds=(("BDGP", 10), ("CCV", 3), ("Caltech-5V", 5), ("*", 10)),
    description="Xu et al., CVPR 2022 (SubmissionsIn/MFLVC), a compared method of both papers",
)
