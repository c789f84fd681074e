"""Where workers run: local processes, or ECS tasks."""
