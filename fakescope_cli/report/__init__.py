"""Reports for investigators: per-image HTML / Markdown / JSON, and a folder index."""
