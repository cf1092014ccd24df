"""Launch the hfl_ros perception node on a camera, optionally with RViz and the synthetic camera.

    ros2 launch hfl_ros perception.launch.py mano_dir:=/path/to/mano checkpoint:=/path/to/hflnet.pth \
        image:=/camera/color/image_raw camera_info:=/camera/color/camera_info object:=025_mug rviz:=true
    ros2 launch hfl_ros perception.launch.py mano_dir:=/path/to/mano synthetic_camera:=true   # no camera
    ros2 launch hfl_ros perception.launch.py mano_dir:=/path/to/mano use_sim_time:=true   # with ros2 bag play --clock
    ros2 launch hfl_ros perception.launch.py mano_dir:=/path/to/mano max_hands:=2 synthetic_camera:=true \
        synthetic_hands:=2   # both hands: a rendered right hand beside its mirror

`ros2 launch hfl_ros perception.launch.py --show-args` lists the arguments. The node's other parameters
come from params_file (default: the package's config/perception.yaml); the arguments below override it.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

SHARE = FindPackageShare("hfl_ros")

#: (name, default, description) of every launch argument.
ARGUMENTS = (
    ("image", "/camera/color/image_raw", "sensor_msgs/Image topic (<image>/compressed with image_transport:=compressed)"),
    ("camera_info", "/camera/color/camera_info", "sensor_msgs/CameraInfo topic of the image"),
    ("image_transport", "raw", "raw | compressed (sensor_msgs/CompressedImage on <image>/compressed)"),
    ("params_file", PathJoinSubstitution([SHARE, "config", "perception.yaml"]), "parameter file of the node"),
    ("checkpoint", "", "HFL-Net checkpoint file; empty = UNTRAINED random weights"),
    ("mano_dir", "", "directory holding MANO_RIGHT.pkl (required)"),
    ("object", "006_mustard_bottle", "object registry name (config/objects.yaml)"),
    ("device", "auto", "auto | cpu | cuda | cuda:N"),
    ("max_hands", "1", "hands the node follows at once: 1, or 2 (one right and one left hand)"),
    ("namespace", "", "namespace of the nodes and their relative topics"),
    ("camera_frame", "camera_color_optical_frame", "RViz fixed frame; the synthetic camera's frame_id"),
    ("synthetic_camera", "false", "publish rendered frames on `image` / `camera_info` instead of a camera"),
    ("synthetic_hands", "1", "hands in the synthetic camera's frames: 1, or 2 (each frame beside its mirror: a "
                             "right and a left hand)"),
    ("rviz", "false", "start RViz with the package's config/hfl_ros.rviz, in `namespace` (its topics are relative)"),
    ("use_sim_time", "false", "every node takes its time from /clock (`ros2 bag play --clock`), not the system clock"),
    ("log_level", "info", "log level of every node: debug | info | warn | error | fatal"),
)
#: Launch arguments that set the node parameter of the same name (over params_file).
NODE_PARAMETERS = ("checkpoint", "mano_dir", "object", "device", "image_transport")


def generate_launch_description() -> LaunchDescription:
    arg = LaunchConfiguration

    def text(name: str) -> ParameterValue:  # kept a string even when empty or number-like
        return ParameterValue(arg(name), value_type=str)

    sim_time = {"use_sim_time": ParameterValue(arg("use_sim_time"), value_type=bool)}
    log_level = ["--log-level", arg("log_level")]

    perception = LifecycleNode(
        package="hfl_ros", executable="perception_node", name="perception_node", namespace=arg("namespace"),
        parameters=[arg("params_file"), {name: text(name) for name in NODE_PARAMETERS},
                    {"max_hands": ParameterValue(arg("max_hands"), value_type=int)}, sim_time],
        remappings=[("image", arg("image")), ("image/compressed", [arg("image"), "/compressed"]),
                    ("camera_info", arg("camera_info"))],
        ros_arguments=log_level, output="screen",
    )
    camera = Node(
        package="hfl_ros", executable="synthetic_camera", name="synthetic_camera", namespace=arg("namespace"),
        parameters=[{"frame_id": text("camera_frame"),
                     "hands": ParameterValue(arg("synthetic_hands"), value_type=int)}, sim_time],
        remappings=[("image", arg("image")), ("camera_info", arg("camera_info"))],
        ros_arguments=log_level, condition=IfCondition(arg("synthetic_camera")), output="screen",
    )
    # RViz in the nodes' namespace: the config's topics are relative (`markers`, ...) and resolve to this
    # namespace's outputs; its `image` display follows the `image` argument. /tf stays absolute.
    rviz = Node(
        package="rviz2", executable="rviz2", name="rviz2", namespace=arg("namespace"),
        arguments=["-d", PathJoinSubstitution([SHARE, "config", "hfl_ros.rviz"]), "-f", arg("camera_frame")],
        parameters=[sim_time], remappings=[("image", arg("image"))], ros_arguments=log_level,
        condition=IfCondition(arg("rviz")), output="screen",
    )
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=about) for name, default, about in ARGUMENTS),
        # Large Fast DDS shared-memory segments for the frames these nodes publish (a camera driver started
        # elsewhere needs the same variable for its images); other RMWs ignore it.
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE",
                               PathJoinSubstitution([SHARE, "config", "fastdds_profile.xml"])),
        perception, camera, rviz,
    ])
