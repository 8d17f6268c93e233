"""clincode: multi-label clinical code prediction under extreme label imbalance."""

__version__ = "0.1.0"
