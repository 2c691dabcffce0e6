"""Triton: model configuration, the python-backend ONNX runner, and running the server locally."""
