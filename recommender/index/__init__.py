"""Vectors and words on disk: FAISS, BM25, the version store and the build."""
