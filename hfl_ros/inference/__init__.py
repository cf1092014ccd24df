"""Inference: image + K + boxes -> typed hand and object estimates."""
