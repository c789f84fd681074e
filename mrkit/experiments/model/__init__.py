"""The cost model: calibration from task records, the simulator, prediction, the Fargate what-if and `mrkit predict`."""
