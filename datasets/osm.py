"""OpenStreetMap road networks of the data directory (``osm/<city>.drive.osm.bz2``).

``read_osm("porto")`` resolves a city name to its file and builds (or reads from the cache) a
:class:`~planner.graph.road.RoadNetwork`. Map data © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from datasets.location import data_dir
from planner.errors import DataNotFoundError
from planner.graph.road import DEFAULT_FALLBACK_SPEED_KPH, RoadNetwork, build_road_network

#: Folder of the OSM extracts inside the data directory, and the suffix of the drive files.
OSM_FOLDER = "osm"
DRIVE_SUFFIX = ".drive.osm.bz2"


def osm_cities() -> list[str]:
    """Names of the cities whose drive network is in the data directory, sorted
    (e.g. ``["heidelberg", "monaco", "porto"]``); empty if there is none."""
    folder = data_dir() / OSM_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(DRIVE_SUFFIX)] for p in folder.glob(f"*{DRIVE_SUFFIX}"))


def osm_path(path_or_city_name: str | Path) -> Path:
    """The file of a city name (``"monaco"``, case-insensitive) or an existing path.

    Raises
    ------
    DataNotFoundError
        If it is neither an existing file nor a city of the data directory; the message lists
        the cities there are.
    """
    candidate = Path(path_or_city_name).expanduser()
    if candidate.is_file():
        return candidate
    text = str(path_or_city_name).strip().lower()
    folder = data_dir() / OSM_FOLDER
    city_file = folder / f"{text}{DRIVE_SUFFIX}"
    if "/" not in text and city_file.is_file():
        return city_file
    cities = ", ".join(osm_cities()) or f"none in {folder}"
    raise DataNotFoundError(candidate if ("/" in text or "." in text) else city_file,
                            f"Not an OSM file or a known city (available: {cities}).")


def read_osm(
    path_or_city_name: str | Path,
    *,
    simplify: bool = True,
    speeds: Mapping[str, float] | None = None,
    fallback_speed_kph: float = DEFAULT_FALLBACK_SPEED_KPH,
    strongly_connected: bool = True,
    cache: bool = True,
) -> RoadNetwork:
    """Read the drive network of a city of the data directory, or of an OSM XML file.

    Parameters
    ----------
    path_or_city_name
        ``"monaco"``, ``"heidelberg"``, ``"porto"`` (see :func:`osm_cities`) or a path to an
        OSM XML file.
    simplify, speeds, fallback_speed_kph, strongly_connected, cache
        As in :func:`planner.graph.road.build_road_network`; by default the simplified largest
        strongly connected component with OSRM car speeds, cached on disk.

    Raises
    ------
    DataNotFoundError
        If the city or file is not there.
    DataFormatError
        If the file is not readable OSM XML.
    """
    return build_road_network(osm_path(path_or_city_name), simplify=simplify, speeds=speeds,
                              fallback_speed_kph=fallback_speed_kph, strongly_connected=strongly_connected,
                              cache=cache)
