"""modelship: a Kubernetes operator that serves trained models on NVIDIA Triton."""

__version__ = "0.1.0"
