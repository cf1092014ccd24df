"""HFL-Net: backbones, interaction (attention), hand and object decoders, the composed network, checkpoints."""
