"""Prometheus exporters for Docqet's AWS platform, collected in the background and served from memory."""
