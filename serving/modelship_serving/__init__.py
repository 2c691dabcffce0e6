"""Data-plane programs that run inside pods: packaging, fetch, serving, scoring."""
