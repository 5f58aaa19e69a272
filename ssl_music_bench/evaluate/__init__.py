"""Frozen evaluation: chunked embeddings and their cache, label fractions, probes and metrics.
"""
