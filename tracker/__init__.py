"""tracker: a literature and citation tracker for AI-alignment discourse."""

__version__ = "0.1.0"
