"""The deployment examples under deploy/: the ECS task definition against botocore's RegisterTaskDefinition input
model and the image it runs; the Prometheus scrape job with promtool; the task role's policies with IAM's
policy grammar (moto's IAM validates policy documents).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from click.testing import CliRunner

from docqet_monitor.cli import main
from docqet_monitor.core.config import CostCollectorConfig
from docqet_monitor.exporters import health

ROOT = Path(__file__).resolve().parents[1]
TASK_DEFINITION = ROOT / "deploy" / "ecs" / "task-definition.json"
TRUST_POLICY = ROOT / "deploy" / "ecs" / "task-role-trust-policy.json"
SCRAPE_JOB = ROOT / "deploy" / "prometheus" / "docqet-monitor-ecs.yml"
# Fargate's CPU units -> the memory sizes (MiB) it allows (AWS ECS developer guide, "Task CPU and memory")
FARGATE_SIZES = {"256": {"512", "1024", "2048"}, "512": {str(m) for m in range(1024, 4097, 1024)},
                 "1024": {str(m) for m in range(2048, 8193, 1024)}}


def task_definition() -> dict[str, Any]:
    return json.loads(TASK_DEFINITION.read_text())


def container(taskdef: dict[str, Any]) -> dict[str, Any]:
    (only,) = taskdef["containerDefinitions"]
    return only


def dockerfile(instruction: str) -> str:
    """The arguments of the Dockerfile's last ``instruction`` line, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(f"{instruction} ")][-1]


def register_input_errors(params: dict[str, Any]) -> str:
    """botocore's own validation of ``params`` as RegisterTaskDefinition input ('' when valid)."""
    model = botocore.session.get_session().get_service_model("ecs")
    report = ParamValidator().validate(params, model.operation_model("RegisterTaskDefinition").input_shape)
    return report.generate_report()


def test_task_definition_is_valid_register_task_definition_input() -> None:
    assert register_input_errors(task_definition()) == ""


def test_the_validation_catches_a_broken_task_definition() -> None:
    broken = copy.deepcopy(task_definition())
    container(broken)["portMappings"][0]["containerPort"] = "19842"
    container(broken)["healthcheck"] = container(broken).pop("healthCheck")  # the key's case matters
    del broken["family"]
    report = register_input_errors(broken)
    assert "containerPort" in report and 'Unknown parameter in containerDefinitions[0]: "healthcheck"' in report
    assert 'Missing required parameter in input: "family"' in report


def test_task_definition_runs_the_image_as_built() -> None:
    taskdef = task_definition()
    spec = container(taskdef)
    assert taskdef["requiresCompatibilities"] == ["FARGATE"] and taskdef["networkMode"] == "awsvpc"
    assert taskdef["memory"] in FARGATE_SIZES[taskdef["cpu"]]
    exposed = int(dockerfile("EXPOSE"))
    assert [m["containerPort"] for m in spec["portMappings"]] == [exposed]
    # the image's ENTRYPOINT is docqet-monitor: `command` holds its arguments only
    assert json.loads(dockerfile("ENTRYPOINT")) == ["docqet-monitor"]
    command = spec["command"]
    assert command[-2:] == ["exporter", "serve"] and "docqet-monitor" not in command
    assert command[command.index("--log-format") + 1] == "json"
    assert (ROOT / "monitoring" / "environments" / f"{command[command.index('--env') + 1]}.yaml").is_file()
    # the same health check as the image's HEALTHCHECK (which test_image.py runs in the image)
    image_check = json.loads(dockerfile("HEALTHCHECK").split(" CMD ", 1)[1])
    assert spec["healthCheck"]["command"] == ["CMD", *image_check]
    assert spec["healthCheck"]["command"][1:] == ["python", "-m", "docqet_monitor.exporters.health"]
    assert f"http://127.0.0.1:{exposed}/healthz" == health.DEFAULT_URL  # the check's default: the exposed port
    assert spec["healthCheck"]["startPeriod"] >= 30
    assert spec["logConfiguration"]["logDriver"] == "awslogs"
    assert taskdef["taskRoleArn"].endswith(":role/docqet-monitor-exporter")
    assert not any(re.search(r"KEY|SECRET|TOKEN|PASSWORD|DSN", env["name"]) for env in spec.get("environment", []))


def test_the_root_filesystem_is_read_only_and_the_cost_cache_a_volume() -> None:
    """ECS readonlyRootFilesystem (Security Hub ECS.5): the one path the exporter writes, the cost cache under the
    working directory, is the image's VOLUME and the task's bind mount at the same containerPath (ECS copies the
    VOLUME path, owned by the image's user, into it); test_image.py runs the image with a read-only root."""
    taskdef = task_definition()
    spec = container(taskdef)
    cache = str(Path(dockerfile("WORKDIR")) / Path(CostCollectorConfig().cache_path).parts[0])
    assert json.loads(dockerfile("VOLUME")) == [cache]
    assert spec["readonlyRootFilesystem"] is True
    assert [(m["sourceVolume"], m["containerPath"]) for m in spec["mountPoints"]] == [("cost-cache", cache)]
    assert taskdef["volumes"] == [{"name": "cost-cache"}]  # a bind mount on the task's ephemeral storage
    assert spec["user"] == dockerfile("USER") == "10001:10001"  # the image's user, named (Security Hub ECS.20)


def test_task_role_policies_are_valid_iam_documents(moto_endpoint: str) -> None:
    """The trust policy and `iam-policy --role exporter`, as the deploy docs create the role with them."""
    policy = CliRunner().invoke(main, ["iam-policy", "--role", "exporter"]).output
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    role = iam.create_role(RoleName="docqet-monitor-exporter", AssumeRolePolicyDocument=TRUST_POLICY.read_text())
    assert role["Role"]["Arn"].endswith(task_definition()["taskRoleArn"].rsplit(":", 1)[1])
    arn = iam.create_policy(PolicyName="docqet-monitor-exporter", PolicyDocument=policy)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="docqet-monitor-exporter", PolicyArn=arn)
    trust = json.loads(TRUST_POLICY.read_text())["Statement"]
    assert [(s["Principal"], s["Action"]) for s in trust] == [({"Service": "ecs-tasks.amazonaws.com"},
                                                               "sts:AssumeRole")]
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):  # moto checks the grammar
        iam.create_policy(PolicyName="broken", PolicyDocument=policy.replace('"Effect"', '"Efect"'))


def scrape_job() -> dict[str, Any]:
    (job,) = yaml.safe_load(SCRAPE_JOB.read_text())
    return job


def test_scrape_job_passes_promtool(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "60s"}, "scrape_configs": [scrape_job()]}))
    result = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_job_is_the_rendered_job_with_service_discovery() -> None:
    """The rendered prometheus.yml's job (alerts select job="docqet-monitor"), discovered by DNS instead."""
    rendered = {job["job_name"]: job for job in
                yaml.safe_load((ROOT / "monitoring" / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]}
    job = scrape_job()
    static = rendered[job["job_name"]]
    assert {k: v for k, v in job.items() if k != "dns_sd_configs"} == {
        **{k: v for k, v in static.items() if k != "static_configs"}, "scrape_interval": "60s", "scrape_timeout": "30s"}
    (sd,) = job["dns_sd_configs"]
    assert sd["type"] == "A" and sd["port"] == container(task_definition())["portMappings"][0]["containerPort"]


def test_the_deploy_docs_name_existing_files() -> None:
    """The Deploying docs point at these files, and every deploy/ path they name exists."""
    docs = next(p for p in (ROOT / "docs" / "deploying.md", ROOT / "README.md") if p.is_file()).read_text()
    named = set(re.findall(r"\bdeploy/[\w./-]*\w", docs))
    assert {"deploy/ecs/task-definition.json", "deploy/prometheus/docqet-monitor-ecs.yml"} <= named
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []
