"""ROS 2 layer: image and message conversions (pure functions), box sources, diagnostics, the nodes.

In a development checkout the generated interfaces (`hfl_ros.msg`) live in the venv's site-packages
(scripts/setup_ros.sh) while these sources live in the work tree; the package path is extended so
that both halves of `hfl_ros` import side by side. In a colcon install both are one directory and
this is a no-op.
"""

import pkgutil

import hfl_ros

hfl_ros.__path__ = pkgutil.extend_path(hfl_ros.__path__, hfl_ros.__name__)
