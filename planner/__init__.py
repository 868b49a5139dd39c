"""routeplanner: the vocabulary (graphs, problems, solutions), the registry, the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("routeplanner")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
