"""
The project's version, in a module of its own: the package, the build (hatchling
reads it from here) and the User-Agent all take it from this one place.
"""

__version__ = "0.1.0"
