"""mmcbench: reproducibility benchmark for deep multi-modal clustering (GIB, CLIB, baselines).

Importing the package is cheap on purpose: the Snakefile imports the registry and the config
checks in the Snakemake process, which may not have numpy or h5py.
"""

__version__ = "0.1.0"
