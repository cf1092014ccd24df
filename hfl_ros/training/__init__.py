"""Training: the paper's losses (`losses`), configuration (`config`), datasets of a run (`data`),
distributed helpers (`distributed`), the training loop (`trainer`) and the `hfl-train` command (`cli`)."""
