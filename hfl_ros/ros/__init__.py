"""ROS 2 layer: image and message conversions (pure functions), box sources, diagnostics, the nodes."""
