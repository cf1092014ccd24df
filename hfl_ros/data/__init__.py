"""Datasets and samples: HO3D / DexYCB readers, crops and augmentation, synthetic scenes, and the
construction of a split's Dataset from a `DataConfig` (`datasets`).

Readers yield `FrameAnnotation`s (one full image with its ground truth); `build_sample` turns one
into a network-ready `Sample`; `collate` batches samples for a torch DataLoader.
"""
