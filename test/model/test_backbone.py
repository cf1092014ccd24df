import pytest
import torch
from torch import nn

from hfl_ros.model.backbone import ResNetSpec, build_backbone

#: Backbone sizes reported in the paper (Section 4.4), millions of parameters.
PAPER_SIZES_M = {"harmonious": 34.97, "single": 25.08, "double": 50.15}


@pytest.mark.parametrize("name", sorted(PAPER_SIZES_M))
def test_parameter_count_matches_paper(name):
    backbone = build_backbone(name)
    count = sum(p.numel() for p in backbone.parameters()) / 1e6
    assert count == pytest.approx(PAPER_SIZES_M[name], abs=0.02)


@pytest.mark.parametrize("name", sorted(PAPER_SIZES_M))
def test_outputs_are_stride_4_fpn_maps(name):
    backbone = build_backbone(name).eval()
    with torch.no_grad():
        p_hand, p_object = backbone(torch.rand(2, 3, 128, 96))
    assert p_hand.shape == p_object.shape == (2, backbone.out_channels, 32, 24)


#: A narrow, shallow ResNet-50: every part of the backbones, small enough for a quick gradient check.
SMALL = ResNetSpec("resnet50", width=8, blocks=(1, 1, 1, 1))
#: Parameters (by module name) that both streams use, per backbone: the paper's Section 3.1 / Table 5.
SHARED_MODULES = {"harmonious": ("stem.", "stage1.", "stage4."), "double": (), "single": ("",)}


def _reached_by_each_stream(backbone: nn.Module) -> tuple:
    """Names of the parameters whose gradient is non-zero from P^h alone and from P^o alone."""
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    reached = []
    for stream in range(2):
        backbone.zero_grad(set_to_none=True)
        output = backbone(images)[stream]
        (output * torch.randn(output.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
        reached.append({n for n, p in backbone.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0})
    return tuple(reached)


@pytest.mark.parametrize("name", sorted(SHARED_MODULES))
def test_gradients_of_both_streams_reach_exactly_the_shared_stages(name):
    backbone = build_backbone(name, SMALL, 16).eval()
    hand, obj = _reached_by_each_stream(backbone)
    names = {n for n, _ in backbone.named_parameters()}
    assert hand | obj == names
    assert hand & obj == {n for n in names if n.startswith(SHARED_MODULES[name])}


def test_harmonious_stage4_is_one_set_of_weights_that_moves_both_streams():
    backbone = build_backbone("harmonious", SMALL, 16).eval()
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        p_hand, p_object = backbone(images)
        assert not torch.allclose(p_hand, p_object)
        changes = (("stage4", (True, True)), ("hand_stage3", (True, False)), ("object_stage3", (False, True)))
        for stage, moves in changes:
            saved = [p.clone() for p in getattr(backbone, stage).parameters()]
            for parameter in getattr(backbone, stage).parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
            moved = tuple(not torch.allclose(new, old) for new, old in zip(backbone(images), (p_hand, p_object)))
            assert moved == moves, stage
            for parameter, value in zip(getattr(backbone, stage).parameters(), saved):
                parameter.copy_(value)


def test_harmonious_unshared_stages_have_their_own_weights():
    backbone = build_backbone("harmonious", SMALL, 16)
    for index in (2, 3):
        hand = list(getattr(backbone, f"hand_stage{index}").parameters())
        obj = list(getattr(backbone, f"object_stage{index}").parameters())
        assert not {p.data_ptr() for p in hand} & {p.data_ptr() for p in obj}
        assert any(not torch.equal(h, o) for h, o in zip(hand, obj) if h.dim() > 1)


def test_every_activation_is_leaky():
    backbone = build_backbone("harmonious")
    assert not any(isinstance(m, nn.ReLU) for m in backbone.modules())
    slopes = {m.negative_slope for m in backbone.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.01}


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="resnet18"):
        build_backbone("resnet18")


@pytest.mark.parametrize("resnet", ["resnet18", "resnet34"])
def test_smaller_resnets_keep_the_fpn_contract(resnet):
    backbone = build_backbone("harmonious", ResNetSpec(resnet)).eval()
    with torch.no_grad():
        p_hand, p_object = backbone(torch.rand(1, 3, 64, 64))
    assert p_hand.shape == p_object.shape == (1, 256, 16, 16)
    assert backbone.hand_fpn.lateral2.in_channels == 64


def test_unknown_resnet_is_named():
    with pytest.raises(ValueError, match="resnet101"):
        build_backbone("harmonious", ResNetSpec("resnet101"))


def test_narrow_shallow_resnet_and_feature_width_are_read_by_the_fpn():
    backbone = build_backbone("harmonious", ResNetSpec("resnet50", width=16, blocks=(1, 1, 1, 1)), 64).eval()
    with torch.no_grad():
        p_hand, p_object = backbone(torch.rand(1, 3, 64, 64))
    assert p_hand.shape == p_object.shape == (1, 64, 16, 16)
    assert [len(s) for s in (backbone.stage1, backbone.hand_stage2, backbone.hand_stage3, backbone.stage4)] == [1] * 4
    assert backbone.hand_fpn.top.in_channels == 16 * 8 * 4


def test_imagenet_weights_need_the_standard_resnet(tmp_path):
    with pytest.raises(ValueError, match="standard resnet50"):
        build_backbone("harmonious", ResNetSpec(width=16, weights_path=str(tmp_path / "w.pth")))


def test_imagenet_weights_load_from_a_local_file(tmp_path):
    from torchvision.models import resnet18

    reference = resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    backbone = build_backbone("single", ResNetSpec("resnet18", weights_path=str(tmp_path / "resnet18.pth")))
    torch.testing.assert_close(backbone.stem[0].weight, reference.conv1.weight)
    torch.testing.assert_close(backbone.stage4[1].conv2.weight, reference.layer4[1].conv2.weight)
