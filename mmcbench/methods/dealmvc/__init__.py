"""DealMVC: dual contrastive calibration for multi-view clustering (spec/DealMVC.md)."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="DealMVC",
    section="dealmvc",
    config="DealMVCConfig",
    trainer="DealMVCTrainer",
    role="compared",
    order=14,
    min_views=2,  # its local calibration pairs views: with one view there is none
    panels=("total", "ACC", "NMI", "ECE"),
    paper_protocol="fixed_seed_last",
    # spec/DealMVC.md "Training": train.py's shipped seed (BBCSport, the only shipped config)
    paper_seeds=(("*", 15),),
    description=(
        "Yang et al., ACM MM 2023 (xihongyang1999/DealMVC c7301f1), MFLVC's backbone with "
        "local and global contrastive calibration"
    ),
)
