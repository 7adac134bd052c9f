"""COPER: correlation-based permutations for multi-view clustering (Eisenberg, Svirsky,
Lindenbaum, ICLR 2025; spec/COPER.md). Written from the spec only: the authors' code is
GPL-3.0 and was not read."""

from mmcbench.methods import DeepMethod

METHOD = DeepMethod(
    name="COPER",
    section="coper",
    config="COPERConfig",
    trainer="COPERTrainer",
    role="compared",
    order=15,
    min_views=2,  # its CCA term pairs views: with one view there is no pair
    panels=("total", "ACC", "NMI", "ECE"),
    # spec "Evaluation and selection": per run the validation (every `validation_every`
    # epochs) with the highest ACC, ties → the later; label-selected
    paper_protocol="best_validation",
    # the spec's label-free rule is the highest silhouette of z under ŷ at a validation;
    # the suite picks the lowest value, so the eval step records −silhouette
    label_free_column="eval_neg_silhouette",
    # the CCA blocks in float64: where the code's float32 run diverges (mfeat), a row of its own
    table_variants=("CCA-float64",),
    description=(
        "Eisenberg, Svirsky, Lindenbaum, ICLR 2025 (LindenbaumLab/COPER be0428f, GPL-3.0; "
        "written from the spec)"
    ),
)
