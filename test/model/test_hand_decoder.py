import torch

from hfl_ros.model.hand_decoder import HandEncoder, HandHeatmapHead, Hourglass, ManoRegressor


def test_hourglass_keeps_shape():
    torch.manual_seed(0)
    with torch.no_grad():
        out = Hourglass(16).eval()(torch.randn(2, 16, 32, 32))
    assert out.shape == (2, 16, 32, 32)


def test_heatmaps_are_distributions_and_soft_argmax_finds_peak():
    torch.manual_seed(0)
    head = HandHeatmapHead(channels=16).eval()
    with torch.no_grad():
        head.score.weight.zero_()
        head.score.bias.zero_()
        out = head(torch.randn(3, 16, 32, 32))
    assert out.heatmaps.shape == (3, 21, 32, 32)
    torch.testing.assert_close(out.heatmaps.sum(dim=(2, 3)), torch.ones(3, 21))
    # Flat logits: the expectation of the cell centres is the box centre.
    torch.testing.assert_close(out.joints_2d, torch.full((3, 21, 2), 0.5))


def test_soft_argmax_of_a_sharp_peak_is_its_cell_centre():
    head = HandHeatmapHead(channels=8).eval()
    logits = torch.full((1, 21, 32 * 32), -1e4)
    row, col = 5, 20
    logits[..., row * 32 + col] = 0.0
    heatmaps = torch.softmax(logits * head.beta, dim=-1).reshape(1, 21, 32, 32)
    x = (heatmaps * head.grid_x).sum(dim=(2, 3))
    y = (heatmaps * head.grid_y).sum(dim=(2, 3))
    torch.testing.assert_close(x, torch.full((1, 21), (col + 0.5) / 32))
    torch.testing.assert_close(y, torch.full((1, 21), (row + 0.5) / 32))


def test_encoder_flattens_to_1024_features():
    encoder = HandEncoder(channels=256).eval()
    with torch.no_grad():
        code = encoder(torch.rand(2, 21, 32, 32), torch.randn(2, 256, 32, 32))
    assert encoder.out_features == 1024
    assert code.shape == (2, 1024)


def test_mano_regressor_gives_rotations():
    torch.manual_seed(0)
    regressor = ManoRegressor(64).eval()
    with torch.no_grad():
        params = regressor(torch.randn(4, 64))
    r = params.rotmats
    assert r.shape == (4, 16, 3, 3) and params.pose.shape == (4, 48) and params.shape.shape == (4, 10)
    torch.testing.assert_close(r @ r.transpose(-1, -2), torch.eye(3).expand_as(r), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(4, 16), atol=1e-5, rtol=0)
