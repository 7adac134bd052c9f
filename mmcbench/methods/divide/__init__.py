"""DIVIDE: decoupled contrastive multi-view clustering with high-order random walks
(spec/DIVIDE.md)."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="DIVIDE",
    section="divide",
    config="DIVIDEConfig",
    trainer="DIVIDETrainer",
    role="compared",
    order=13,
    min_views=2,  # its cross-view contrast pairs views: with one view there is none
    panels=("total", "ACC", "NMI"),
    # spec "Evaluation": mean ± std over 5 runs at the last epoch (the suite's seeds replace
    # the code's seed + t)
    paper_protocol="final",
    label_free_column="eval_total",
    description=(
        "Lu et al., AAAI 2024 (XLearning-SCU/2024-AAAI-DIVIDE c31e2a8), a compared method: "
        "EMA target encoders, cross-view decoders, InfoNCE with random-walk soft targets, k-means"
    ),
)
