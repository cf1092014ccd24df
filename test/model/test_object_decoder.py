import torch

from hfl_ros.model.object_decoder import ObjectHead


def test_zero_offsets_predict_cell_centres():
    head = ObjectHead(channels=16).eval()
    with torch.no_grad():
        head.out_conv.weight.zero_()
        head.out_conv.bias.zero_()
        maps = head(torch.randn(2, 16, 32, 32))
    assert maps.confidence.shape == maps.x.shape == maps.y.shape == (2, 32, 32, 21)
    torch.testing.assert_close(maps.confidence, torch.full_like(maps.confidence, 0.5))
    # cell (row 3, column 7)
    torch.testing.assert_close(maps.x[:, 3, 7], torch.full((2, 21), 7.5 / 32))
    torch.testing.assert_close(maps.y[:, 3, 7], torch.full((2, 21), 3.5 / 32))


def test_channel_layout_confidence_x_y():
    head = ObjectHead(channels=16).eval()
    with torch.no_grad():
        head.out_conv.weight.zero_()
        bias = torch.zeros(63)
        bias[2] = 10.0  # confidence logit of point 2
        bias[21 + 4] = 5.0  # x offset of point 4: +0.5
        bias[42 + 6] = -2.0  # y offset of point 6: -0.2
        head.out_conv.bias.copy_(bias)
        maps = head(torch.randn(1, 16, 32, 32))
    assert maps.confidence[0, 0, 0, 2] > 0.99
    torch.testing.assert_close(maps.x[0, 0, 0, 4], torch.tensor(0.5 / 32 + 0.5))
    torch.testing.assert_close(maps.y[0, 0, 0, 6], torch.tensor(0.5 / 32 - 0.2))
