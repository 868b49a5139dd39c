"""Data formats, data locations and synthetic generators; every reader returns planner objects."""

from datasets.location import CATALOGUE, DataSet, cache_dir, data_dir, data_path

__all__ = ["CATALOGUE", "DataSet", "cache_dir", "data_dir", "data_path"]
