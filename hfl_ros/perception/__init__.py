"""The per-frame perception pipeline shared by the ROS node and hfl-video (no ROS here).

- `settings`: `PerceptionSettings` (policy, detector, filter, quality gate), `GateSettings`.
- `results`: `HandResult` (one hand and its object), `FrameResult` (one frame).
- `pipeline`: `PerceptionPipeline`: detector, box policy, network for each hand, object box choice,
  finiteness check, quality gate and one temporal filter per side.
"""

from hfl_ros.perception.results import FrameResult, HandResult
from hfl_ros.perception.settings import GateSettings, PerceptionSettings

__all__ = ["FrameResult", "GateSettings", "HandResult", "PerceptionSettings"]
