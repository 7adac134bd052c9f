"""SiMVC: simple multi-view clustering (Trosten et al., CVPR 2021; spec/SiMVC-CoMVC.md)."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="SiMVC",
    section="simvc",
    config="SiMVCConfig",
    trainer="SiMVCTrainer",
    role="compared",
    order=10,
    paper_protocol="mvc",
    label_free_column="eval_ddc1",  # what mvc's code monitors (best.pt on its minimum)
    # run_select_loss: ddc_1 → eval_ddc1; tot → eval_total, mvc's evaluation total, which
    # leaves CoMVC's contrastive term out (spec/SiMVC-CoMVC.md "Evaluation and selection")
    run_select_columns=(("ddc_1", "eval_ddc1"), ("tot", "eval_total")),
    description="Trosten et al., CVPR 2021 (DanielTrosten/mvc), a compared method of both papers",
)
