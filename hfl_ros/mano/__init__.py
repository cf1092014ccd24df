"""MANO hand model: restricted pickle reader, torch layer, procedural MANO-format hand."""

from hfl_ros.mano.layer import ManoLayer, ManoOutput, load_mano
from hfl_ros.mano.pickle_io import ManoModelData, read_mano_pickle

__all__ = ["ManoLayer", "ManoModelData", "ManoOutput", "load_mano", "read_mano_pickle"]
