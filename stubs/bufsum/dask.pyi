"""Type stubs for bufsum.dask."""

from typing import Any

__all__ = ["fsum"]

def fsum(x: Any) -> Any:
    """The correctly rounded sum of a dask array, as a lazy ``dask.delayed`` value."""
