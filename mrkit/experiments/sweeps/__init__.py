"""Running sweeps and recording their runs: configuration, the results directory, the demo and the ECS fault run."""
