"""Evaluation: pose metrics (``metrics``) and dataset protocols (HO3D, DexYCB)."""
