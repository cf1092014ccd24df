import pytest
import torch
from torchvision.ops import roi_align

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


#: A narrow network for the ablation checks: every part of HFL-Net, 16 feature channels.
SMALL = dict(resnet_width=8, resnet_blocks=(1, 1, 1, 1), feature_channels=16)
#: The boxes of `_inputs` and their intersection, crop px.
HAND_BOX, OBJECT_BOX = [40.0, 50.0, 170.0, 190.0], [100.0, 90.0, 230.0, 220.0]
INTERSECTION = [100.0, 90.0, 170.0, 190.0]


def _roi(feature_map, box):
    """The 32 x 32 ROI feature of one box, computed here with torchvision (stride 4) rather than by the model."""
    return roi_align(feature_map, [torch.tensor([box])], output_size=32, spatial_scale=0.25, sampling_ratio=-1)


def _run_recording(config, mano_layer):
    """Run a small model on one crop, recording the inputs and outputs of its backbone, attentions and heads;
    return them and the ROI features (F^h, F^oh, ...) recomputed from the backbone's maps."""
    model = HFLNet(ModelConfig(**SMALL, **config), mano_layer).eval()
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = (inputs, output)
        return hook

    model.backbone.register_forward_hook(record("backbone"))
    model.hand_head.register_forward_hook(record("hand_head"))
    model.object_head.register_forward_hook(record("object_head"))
    for name in ("hand_attention", "object_attention"):
        if getattr(model, name) is not None:
            getattr(model, name).register_forward_hook(record(name))
    with torch.no_grad():
        model(*_inputs(1))
    p_hand, p_object = seen["backbone"][1]
    features = {
        "F^h": _roi(p_hand, HAND_BOX), "F^oh": _roi(p_object, HAND_BOX), "F^o": _roi(p_object, OBJECT_BOX),
        "F^ho": _roi(p_hand, INTERSECTION), "P^o at the intersection": _roi(p_object, INTERSECTION),
    }
    return seen, features


def _same(a, b):
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-5)


#: Paper Tables 7 and 8: per (config field, mode), the (query, key and value) of the attention, None = none.
#: Table 8, object-to-hand: the hand's attention; Table 7, hand-to-object: the object's, whose query is F^o.
ENHANCEMENTS = {
    ("hand_enhancement", "none"): None,
    ("hand_enhancement", "sa"): (("F^h",), ("F^h",)),
    ("hand_enhancement", "ca"): (("F^h",), ("F^o",)),
    ("hand_enhancement", "add_sa"): (("F^h", "+", "F^oh"), ("F^h", "+", "F^oh")),
    ("hand_enhancement", "concat_sa"): (("F^h", "cat", "F^oh"), ("F^h", "cat", "F^oh")),
    ("object_enhancement", "none"): None,
    ("object_enhancement", "h_to_o"): (("F^o",), ("F^ho",)),
    ("object_enhancement", "o_to_o"): (("F^o",), ("P^o at the intersection",)),
}
#: Per config field: its attention module, the head reading the (enhanced) feature, the feature it enhances.
BRANCHES = {"hand_enhancement": ("hand_attention", "hand_head", "F^h"),
            "object_enhancement": ("object_attention", "object_head", "F^o")}


def _combined(features, recipe):
    if len(recipe) == 1:
        return features[recipe[0]]
    first, how, second = recipe
    if how == "+":
        return features[first] + features[second]
    return torch.cat((features[first], features[second]), dim=1)


@pytest.mark.parametrize("field, mode", sorted(ENHANCEMENTS), ids=lambda value: value)
def test_enhancement_attends_with_the_features_the_paper_names(field, mode, mano_layer):
    seen, features = _run_recording({field: mode}, mano_layer)
    attention, head, enhanced_name = BRANCHES[field]
    head_input = seen[head][0][0]
    if ENHANCEMENTS[field, mode] is None:
        assert attention not in seen
        assert _same(head_input, features[enhanced_name])
        return
    (query, key), enhanced = seen[attention]
    query_recipe, key_recipe = ENHANCEMENTS[field, mode]
    assert _same(query, _combined(features, query_recipe)), "query"
    assert _same(key, _combined(features, key_recipe)), "key and value"
    # The head reads the enhanced feature: for the concatenation, its first (F^h) channels.
    assert _same(head_input, enhanced[:, : features[enhanced_name].shape[1]])
    assert not _same(head_input, features[enhanced_name])


def test_the_ablation_features_are_distinct(mano_layer):
    """Otherwise the two tests above could not tell the modes apart."""
    _, features = _run_recording({}, mano_layer)
    names = sorted(features)
    for index, name in enumerate(names):
        for other in names[index + 1:]:
            assert not _same(features[name], features[other]), (name, other)


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
