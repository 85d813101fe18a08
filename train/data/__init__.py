"""Data: datasets and manifests, real photographs, identical processing, validation."""
