"""Published-checkpoint loading against the published key list (test/model/data, copied from the reference)."""

from pathlib import Path

import pytest
import torch

from hfl_ros.config import ModelConfig
from hfl_ros.model.checkpoint import (
    PUBLISHED_MANO_PREFIX,
    CheckpointError,
    load_checkpoint,
    load_published_checkpoint,
    map_published_key,
    model_state_without_mano,
    save_checkpoint,
)
from hfl_ros.model.hflnet import HFLNet

KEYS_TSV = Path(__file__).parent / "data" / "hflnet_checkpoint_keys.tsv"
PUBLISHED_PREFIX = "honet.module."
#: Values in the published HFL-Net state_dict without the MANO buffers, in millions.
PUBLISHED_VALUES_M = 46.2


def _published_state(seed=0):
    """A state_dict with exactly the published keys, shapes and dtypes, random values."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for line in KEYS_TSV.read_text().splitlines()[1:]:
        key, shape, dtype = line.split("\t")
        dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
        if dtype == "int64":
            state[key] = torch.randint(0, 1000, dims, generator=generator)
        else:
            state[key] = torch.rand(dims, generator=generator) + 0.1
    return state


def _save(tmp_path, state, name="published.pth.tar"):
    path = tmp_path / name
    torch.save({"epoch": 70, "network": "HONet", "state_dict": state}, path)
    return path


def test_default_model_has_the_published_tensors_key_for_key_and_shape_for_shape(mano_layer):
    published = {}
    for key, tensor in _published_state().items():
        short = key[len(PUBLISHED_PREFIX):]
        if not short.startswith(PUBLISHED_MANO_PREFIX):
            published[map_published_key(short)] = tuple(tensor.shape)
    model = HFLNet(ModelConfig(), mano_layer)
    ours = {key: tuple(tensor.shape) for key, tensor in model_state_without_mano(model).items()}
    assert sorted(set(published) ^ set(ours)) == []
    assert {key: shape for key, shape in ours.items() if published[key] != shape} == {}
    values = sum(torch.Size(shape).numel() for shape in ours.values())
    assert values / 1e6 == pytest.approx(PUBLISHED_VALUES_M, abs=0.05)


def test_every_published_tensor_lands_in_its_parameter(tmp_path, mano_layer):
    state = _published_state()
    model = load_published_checkpoint(_save(tmp_path, state), mano=mano_layer)
    ours = model.state_dict()
    loaded = 0
    for key, tensor in state.items():
        if ".mano_layer." in key:
            continue
        target = map_published_key(key[len("honet.module."):])
        torch.testing.assert_close(ours[target], tensor, rtol=0, atol=0, msg=key)
        loaded += 1
    non_mano = [k for k in ours if not k.startswith("mano_layer.")]
    assert loaded == len(non_mano)
    assert not model.training


@pytest.mark.parametrize("with_mano_buffers", [True, False], ids=["file-with-mano", "file-without-mano"])
def test_mano_comes_from_the_user_whether_or_not_the_file_holds_mano_buffers(tmp_path, mano_layer,
                                                                             with_mano_buffers):
    state = _published_state(seed=1)  # its MANO buffers are random: loading any of them changes the model's
    mano_keys = [key for key in state if ".mano_layer." in key]
    assert mano_keys  # the published file has them
    if not with_mano_buffers:
        state = {key: value for key, value in state.items() if key not in mano_keys}
    users_mano = {key: tensor.clone() for key, tensor in mano_layer.state_dict().items()}
    model = load_published_checkpoint(_save(tmp_path, state), mano=mano_layer)
    ours = model.state_dict()
    mano_buffers = {key[len("mano_layer."):]: tensor for key, tensor in ours.items() if key.startswith("mano_layer.")}
    assert sorted(mano_buffers) == sorted(users_mano)
    for key, tensor in users_mano.items():
        torch.testing.assert_close(mano_buffers[key], tensor, rtol=0, atol=0, msg=key)
    for key, tensor in state.items():  # and the rest of the network is the file's
        if key not in mano_keys:
            torch.testing.assert_close(ours[map_published_key(key[len(PUBLISHED_PREFIX):])], tensor, rtol=0, atol=0,
                                       msg=key)


def test_missing_key_is_named(tmp_path, mano_layer):
    state = _published_state()
    del state["honet.module.obj_head.bn2_2.running_var"]
    with pytest.raises(CheckpointError, match=r"object_head\.blocks\.1\.4\.running_var"):
        load_published_checkpoint(_save(tmp_path, state), mano=mano_layer)


def test_changed_shape_is_named(tmp_path, mano_layer):
    state = _published_state()
    state["honet.module.transformer_hand.layers.0.mlp.fc1.weight"] = torch.zeros(2048, 256)
    with pytest.raises(CheckpointError, match=r"transformer_hand\.layers\.0\.mlp\.fc1\.weight"):
        load_published_checkpoint(_save(tmp_path, state), mano=mano_layer)


def test_unexpected_key_is_named(tmp_path, mano_layer):
    state = _published_state()
    state["honet.module.extra_head.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="extra_head"):
        load_published_checkpoint(_save(tmp_path, state), mano=mano_layer)


def test_missing_file_is_named(tmp_path, mano_layer):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_published_checkpoint(tmp_path / "nope.pth", mano=mano_layer)


def test_not_a_checkpoint_is_named(tmp_path, mano_layer):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="bad.pth"):
        load_published_checkpoint(bad, mano=mano_layer)


def test_our_checkpoint_round_trip_keeps_config_and_leaves_out_mano(tmp_path, mano_layer):
    config = ModelConfig(backbone="single", hand_enhancement="sa", object_enhancement="none")
    model = HFLNet(config, mano_layer)
    path = save_checkpoint(tmp_path / "ours.pt", model, epoch=3)
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 3 and not any(k.startswith("mano_layer.") for k in raw["model"])
    loaded = load_checkpoint(path, mano=mano_layer)
    assert loaded.config == config
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], tensor, rtol=0, atol=0)


def test_load_checkpoint_accepts_published_files(tmp_path, mano_layer):
    model = load_checkpoint(_save(tmp_path, _published_state()), mano=mano_layer)
    assert model.config == ModelConfig()
