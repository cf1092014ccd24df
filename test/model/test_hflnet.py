import pytest
import torch

from hfl_ros.config import ModelConfig
from hfl_ros.model.hflnet import HFLNet, box_intersection

VARIANTS = [
    ModelConfig(),
    ModelConfig(backbone="single"),
    ModelConfig(backbone="double"),
    ModelConfig(hand_enhancement="none", object_enhancement="none"),
    ModelConfig(hand_enhancement="sa"),
    ModelConfig(hand_enhancement="ca"),
    ModelConfig(hand_enhancement="add_sa"),
    ModelConfig(object_enhancement="o_to_o"),
    ModelConfig(resnet="resnet18"),
    ModelConfig(resnet_width=16, resnet_blocks=(1, 1, 1, 1), feature_channels=64),
]


def _inputs(batch):
    torch.manual_seed(0)
    images = torch.rand(batch, 3, 256, 256)
    hand = torch.tensor([[40.0, 50.0, 170.0, 190.0]]).repeat(batch, 1)
    obj = torch.tensor([[100.0, 90.0, 230.0, 220.0]]).repeat(batch, 1)
    return images, hand, obj


@pytest.mark.parametrize("config", VARIANTS, ids=lambda c: f"{c.backbone}-{c.resnet}-{c.hand_enhancement}-{c.object_enhancement}")
def test_forward_contract_shapes(config, mano_layer):
    model = HFLNet(config, mano_layer).eval()
    with torch.no_grad():
        out = model(*_inputs(2))
    assert out.joints_2d.shape == (2, 21, 2)
    assert out.heatmaps.shape == (2, 21, 32, 32)
    assert out.mano_pose.shape == (2, 48) and out.mano_shape.shape == (2, 10)
    assert out.mano_rotmats.shape == (2, 16, 3, 3)
    assert out.vertices.shape == (2, 778, 3) and out.joints.shape == (2, 21, 3)
    for maps in (out.object_confidence, out.object_x, out.object_y):
        assert maps.shape == (2, 32, 32, 21)
    torch.testing.assert_close(out.joints[:, 0], torch.zeros(2, 3), atol=1e-6, rtol=0)
    assert torch.isfinite(out.vertices).all()


def test_training_step_reaches_every_part(mano_layer):
    model = HFLNet(ModelConfig(), mano_layer).train()
    out = model(*_inputs(2))
    loss = out.joints_2d.sum() + out.joints.sum() + out.object_x.sum() + out.object_confidence.sum()
    loss.backward()
    for name in ("backbone.stem.0.weight", "backbone.hand_stage3.0.conv1.weight", "backbone.object_stage3.0.conv1.weight",
                 "hand_attention.layers.0.encode_query.weight", "object_attention.layers.0.encode_key.weight",
                 "mano_head.pose_head.weight", "object_head.out_conv.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


@pytest.mark.parametrize("detach", [True, False])
def test_hand_loss_reaches_the_object_stream_only_without_detaching(mano_layer, detach):
    model = HFLNet(ModelConfig(detach_cross_features=detach), mano_layer).train()
    model(*_inputs(2)).joints_2d.sum().backward()
    grad = model.backbone.object_stage3[0].conv1.weight.grad
    reached = grad is not None and bool(grad.abs().sum() > 0)
    assert reached is not detach


def test_non_overlapping_boxes_zero_the_intersection_feature():
    hand = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    obj = torch.tensor([[20.0, 20.0, 30.0, 30.0], [5.0, 5.0, 30.0, 30.0]])
    boxes, overlaps = box_intersection(hand, obj)
    assert overlaps.tolist() == [False, True]
    torch.testing.assert_close(boxes[1], torch.tensor([5.0, 5.0, 10.0, 10.0]))


def test_bad_input_shapes_are_named(mano_layer):
    model = HFLNet(ModelConfig(hand_enhancement="none", object_enhancement="none"), mano_layer)
    images, hand, obj = _inputs(1)
    with pytest.raises(ValueError, match=r"\(1, 3, 128, 128\)"):
        model(torch.rand(1, 3, 128, 128), hand, obj)
    with pytest.raises(ValueError, match="hand_boxes"):
        model(images, hand[:, :3], obj)


def test_unknown_enhancement_is_named():
    with pytest.raises(ValueError, match="cross"):
        ModelConfig(hand_enhancement="cross")
