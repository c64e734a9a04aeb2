"""Type stubs for bufsum.dask."""

from typing import Any

__all__ = ["fdot", "fsum", "mean", "std", "var"]

def fsum(x: Any) -> Any:
    """The correctly rounded sum of a dask array, as a lazy ``dask.delayed`` value."""

def mean(x: Any) -> Any:
    """The correctly rounded mean of a dask array, lazily."""

def var(x: Any, ddof: int = 0) -> Any:
    """The correctly rounded variance of a dask array, lazily."""

def std(x: Any, ddof: int = 0) -> Any:
    """The correctly rounded standard deviation of a dask array, lazily."""

def fdot(x: Any, y: Any) -> Any:
    """The correctly rounded dot product of two dask arrays of the same shape, lazily."""
