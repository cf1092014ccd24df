"""Training: the paper's losses (`losses`), configuration (`config`), distributed helpers (`distributed`)
and the training loop (`trainer`). Datasets come from `hfl_ros.data.datasets`; the `hfl-train` command is
`hfl_ros.apps.train`."""
