"""Where a job's inputs, intermediate files and outputs live."""
