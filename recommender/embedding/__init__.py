"""Synopses into vectors: the model, its ONNX export and encoders, the Ray step."""
