"""Loss terms of GIB and CLIB: mutual-information estimators, the VIB KL, its cluster-balance
reading, DDC."""

from benchmark.losses.balance import cluster_balance
from benchmark.losses.ddc import ddc_loss, ddc_terms, gaussian_kernel
from benchmark.losses.mi import (
    feature_distribution,
    grouped_mutual_information,
    mutual_information,
)
from benchmark.losses.vib import gaussian_kl, sampled_kl, variational_kl

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
