"""Datasets: registry (pure stdlib), fetching, conversion to HDF5 and loading.

Submodules are imported on demand so that the registry stays importable without numpy.
"""
