"""Loss terms of GIB and CLIB: mutual-information estimators, the VIB KL, its cluster-balance
reading, DDC."""

from mmcbench.losses.balance import cluster_balance
from mmcbench.losses.ddc import ddc_loss, ddc_terms, gaussian_kernel
from mmcbench.losses.mi import (
    feature_distribution,
    grouped_mutual_information,
    mutual_information,
)
from mmcbench.losses.vib import gaussian_kl, sampled_kl, variational_kl

__all__ = [
    "cluster_balance",
    "ddc_loss",
    "ddc_terms",
    "feature_distribution",
    "gaussian_kernel",
    "gaussian_kl",
    "grouped_mutual_information",
    "mutual_information",
    "sampled_kl",
    "variational_kl",
]
