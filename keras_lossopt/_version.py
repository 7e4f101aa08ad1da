"""The package version, in a module that imports nothing (the command line reads it
without importing Keras; setup.cfg reads it without importing anything)."""

__version__ = "0.1.0"
