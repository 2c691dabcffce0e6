"""`modelship score`: batch scoring of a table against a packaged model, resumable and atomic."""
