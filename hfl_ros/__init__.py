"""hfl_ros: HFL-Net hand-object pose estimation (Lin et al., CVPR 2023) for ROS 2 and PyTorch research.

Public entry points: `load_published_checkpoint` (published HFL-Net files), `HandObjectEstimator`
(image -> hand and object estimate), `optimize_for_inference` (the network's faster inference path),
`hfl_ros.mano.load_mano`. Submodules import lazily so that the ROS
message package generated under the same name stays importable beside them.
"""

from pkgutil import extend_path
from typing import Any

# The ROS build generates `hfl_ros.msg` into another directory of the same package name: join them.
__path__ = extend_path(__path__, __name__)

__all__ = ["load_published_checkpoint", "HandObjectEstimator", "optimize_for_inference"]


def __getattr__(name: str) -> Any:
    if name == "load_published_checkpoint":
        from hfl_ros.model.checkpoint import load_published_checkpoint

        return load_published_checkpoint
    if name == "HandObjectEstimator":
        from hfl_ros.inference.estimator import HandObjectEstimator

        return HandObjectEstimator
    if name == "optimize_for_inference":
        from hfl_ros.model.optimize import optimize_for_inference

        return optimize_for_inference
    raise AttributeError(f"module 'hfl_ros' has no attribute {name!r}")
