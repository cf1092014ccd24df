"""ROS 2 layer: image and message conversions (pure functions), parameters, diagnostics, the nodes."""
