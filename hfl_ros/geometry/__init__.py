"""Pure geometry: rotations, camera and crop, object control points, PnP, hand placement."""
