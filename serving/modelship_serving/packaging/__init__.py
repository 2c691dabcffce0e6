"""`modelship package`: turn a scikit-learn model or an ONNX file into a Triton model repository."""
