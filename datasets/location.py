"""Where data lives: the data directory, the cache directory, and the catalogue of data sets.

Real data is read in place from the data directory, never copied into the repository:
``$ROUTEPLANNER_DATA`` if set, else ``../shared/data`` beside the checkout (then beside the
working directory). Built graphs are cached in ``$ROUTEPLANNER_CACHE``, default
``~/.cache/routeplanner``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from planner.errors import DataNotFoundError

DATA_ENV = "ROUTEPLANNER_DATA"
CACHE_ENV = "ROUTEPLANNER_CACHE"

_CHECKOUT = Path(__file__).resolve().parent.parent


def data_dir(required: bool = False) -> Path:
    """The data directory.

    Parameters
    ----------
    required
        Raise :class:`DataNotFoundError` if it does not exist (otherwise the path is returned
        whether or not it exists).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        candidates = [_CHECKOUT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
        path = next((c for c in candidates if c.is_dir()), candidates[0])
    if required and not path.is_dir():
        raise DataNotFoundError(path, f"Set {DATA_ENV} to the data directory.")
    return path


def data_path(*parts: str) -> Path:
    """A path inside the data directory, which must exist.

    Raises
    ------
    DataNotFoundError
        If the file or folder is missing; the message says how to point at the data.
    """
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise DataNotFoundError(path, f"Set {DATA_ENV} to the data directory, or see "
                                      "`routeplanner datasets list` for download addresses.")
    return path


def cache_dir() -> Path:
    """The cache directory for built graphs and preprocessing (created on demand)."""
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "routeplanner"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class DataSet:
    """One data set of the catalogue.

    Parameters
    ----------
    name
        Short name, e.g. ``cvrp/X``.
    folder
        Folder inside the data directory.
    pattern
        Glob of the instance files in that folder.
    description
        What it is.
    url
        Public download address, for users with internet.
    """

    name: str
    folder: str
    pattern: str
    description: str
    url: str

    def path(self) -> Path:
        """The folder of this data set inside the data directory (may not exist)."""
        return data_dir() / self.folder

    def files(self) -> list[Path]:
        """Instance files present in the data directory, sorted by name."""
        folder = self.path()
        return sorted(folder.glob(self.pattern)) if folder.is_dir() else []


CATALOGUE: tuple[DataSet, ...] = (
    DataSet("cvrp/X", "vrp/cvrp/X", "*.vrp",
            "CVRPLIB X instances of Uchoa et al. (2017), 100-1000 clients, with BKS",
            "https://github.com/PyVRP/Instances/tree/main/CVRP"),
    DataSet("cvrp/XXL", "vrp/cvrp/XXL", "*.vrp",
            "Belgian instances of Arnold, Gendreau & Sorensen (2019), 3000-30000 clients",
            "https://github.com/PyVRP/Instances/tree/main/CVRP/XXL"),
    DataSet("vrptw/Solomon", "vrp/vrptw/Solomon", "*.vrp",
            "Solomon VRPTW instances, 100 clients, DIMACS convention",
            "https://github.com/PyVRP/Instances/tree/main/VRPTW"),
    DataSet("vrptw/GH200", "vrp/vrptw/GH200", "*.vrp",
            "Gehring-Homberger VRPTW, 200 clients",
            "https://github.com/PyVRP/Instances/tree/main/VRPTW"),
    DataSet("vrptw/GH400", "vrp/vrptw/GH400", "*.vrp",
            "Gehring-Homberger VRPTW, 400 clients",
            "https://github.com/PyVRP/Instances/tree/main/VRPTW"),
    DataSet("tntp", "tntp", "*/*_net.tntp",
            "TNTP traffic-assignment networks with OD demand and best-known flows",
            "https://github.com/bstabler/TransportationNetworks"),
    DataSet("osm", "osm", "*.drive.osm.bz2",
            "OpenStreetMap drive networks (Monaco, Heidelberg, Porto); (c) OpenStreetMap contributors, ODbL",
            "https://download.geofabrik.de/"),
    DataSet("topologies/zoo", "topologies/zoo_graphml", "*.graphml",
            "Internet Topology Zoo, 276 WAN/ISP topologies (CC BY 4.0)",
            "https://github.com/mroughan/InternetTopologyZoo"),
    DataSet("topologies/drl_gnn", "topologies/drl_gnn", "*.graphml",
            "NSFNet, GEANT2 and GBN topologies of the DRL+GNN routing paper (BSD-3)",
            "https://github.com/knowledgedefinednetworking/DRL-GNN"),
)
