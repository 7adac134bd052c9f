"""SiMVC: simple multi-view clustering (Trosten et al., CVPR 2021; spec/SiMVC-CoMVC.md)."""

from benchmark.methods import DeepMethod

METHOD = DeepMethod(
    name="SiMVC",
    section="simvc",
    config="SiMVCConfig",
    trainer="SiMVCTrainer",
    role="compared",
    order=10,
    paper_protocol="mvc",
    label_free_column="eval_ddc1",  # what mvc's code monitors (best.pt on its minimum)
    description="Trosten et al., CVPR 2021 (DanielTrosten/mvc), a compared method of both papers",
)
