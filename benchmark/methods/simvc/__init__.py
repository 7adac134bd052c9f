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
    description="Trosten et al., CVPR 2021 (DanielTrosten/mvc), a compared method of both papers",
)
