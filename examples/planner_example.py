"""A planner's side of hfl_ros, written only against vision_msgs: each held object's class, track id, score
and camera-from-object pose (with its position variances) from `detections_3d`, one JSON line per object.

    python examples/planner_example.py [messages] --ros-args -r __ns:=/demo   # the launch's namespace; Ctrl-C ends
"""
import json
import sys

import rclpy
from rclpy.utilities import remove_ros_args
from vision_msgs.msg import Detection3DArray


def main() -> None:
    rclpy.init(args=sys.argv)
    wanted = int((remove_ros_args(sys.argv)[1:] or ["10"])[0])  # Detection3DArray messages to read
    node, received = rclpy.create_node("planner_example"), []

    def on_detections(array: Detection3DArray) -> None:
        received.append(array)
        for detection in array.detections:  # one per held object; the stamp and frame are the image's
            best = max(detection.results, key=lambda result: result.hypothesis.score)
            pose, covariance = best.pose.pose, best.pose.covariance
            print(json.dumps({
                "stamp": array.header.stamp.sec + array.header.stamp.nanosec * 1e-9, "frame": array.header.frame_id,
                "id": detection.id, "class": best.hypothesis.class_id, "score": best.hypothesis.score,
                "position": [pose.position.x, pose.position.y, pose.position.z],
                "orientation_xyzw": [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w],
                "position_variance": [covariance[0], covariance[7], covariance[14]]}), flush=True)

    node.create_subscription(Detection3DArray, "detections_3d", on_detections, 10)
    try:
        while rclpy.ok() and len(received) < wanted:
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:  # Ctrl-C
        pass
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
