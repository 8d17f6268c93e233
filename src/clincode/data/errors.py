"""Errors raised for malformed datasets (re-exported by :mod:`clincode.data.schema`)."""

from __future__ import annotations


class DataError(ValueError):
    """A dataset on disk does not have the expected shape; the message says what and where."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset path (directory, shard folder, metadata file, saved task) does not exist."""
