"""Where each frame's hand and object boxes come from.

- `hand_detector`: MediaPipe Hand Landmarker on the full frame and on square crops (optional `detector`
  extra; importing this package does not need it).
- `policy`: the box sources in order (external ROIs, detector, tracking, initial ROI), which hand to follow,
  the hand-centred object box and its refinement from the object decoder (pure logic, no ROS, no model).
"""
