"""Where runs ran, in words: the sentence under an ECS section's heading."""

from mrkit.experiments.report import provenance


def test_the_ecs_provenance_says_fargate_processes_or_containers_from_the_recorded_options():
    assert provenance.ecs_provenance(None).startswith("Where these ran: AWS ECS Fargate")
    processes = provenance.ecs_provenance({"stand_in": True, "settings": "params/ecs.yaml"})
    assert "the local ECS stand-in, not Fargate" in processes
    assert "each task a local process" in processes and "container" not in processes
    podman = provenance.ecs_provenance({"stand_in": True, "containers": "podman"})
    assert "each task a podman container of the stack's image" in podman
    assert "start-up times are a local container's, not a Fargate task's" in podman


def test_where_a_stand_in_sweep_ran_says_processes_or_containers_from_its_meta():
    # issue 25: `make report` ran the stand-in's tasks as podman containers, and the ECS checklist said
    # "moto's ECS and S3 with local processes"
    def meta(**options):
        return {"parameters": {"backend": "ecs", "backend_options": {"stand_in": True, **options}}}

    podman = provenance.where(meta(containers="podman"))
    assert podman.startswith("the local ECS stand-in") and "podman containers of the stack's image" in podman
    assert "process" not in podman
    processes = provenance.where(meta())
    assert "local processes" in processes and "container" not in processes
