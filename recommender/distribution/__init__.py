"""Versions beyond one folder: publishing, following a store, the live index."""
