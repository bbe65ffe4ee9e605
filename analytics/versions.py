"""The software a report ran on, for its provenance."""

from importlib.metadata import version

import registry

_LIBRARIES = ("Django", "pandas", "numpy", "scipy", "matplotlib")


def software_version() -> str:
    """Return the registry's version with the versions of the libraries it used."""
    libraries = ", ".join(f"{name} {version(name)}" for name in _LIBRARIES)
    return f"crc-registry {registry.__version__} ({libraries})"
