"""The least-privilege IAM policy: printed by ``iam-policy``, naming only real operations, and covering every
AWS operation the code calls anywhere in the test suite (recorded by tests/aws_calls.py, checked last)."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_calls import RECORDER
from click.testing import CliRunner

from docqet_monitor.alerts import iam
from docqet_monitor.cli import main
from docqet_monitor.core.ids import alarm_prefix

# product modules that only ever talk to the emulator (seeding moto for the demo): not in the policy
EMULATOR_ONLY = ("demo/",)
# test modules -> operations their tests must make through product code (so the check below is not vacuous)
EXPECTED = {
    "tests/test_iam_policy.py": {"cloudwatch:DescribeAlarms", "ecs:ListClusters", "rds:DescribeDBClusters"},
    "tests/test_cloudwatch_sync.py": {
        "cloudwatch:DescribeAlarms", "tag:GetResources", "cloudwatch:PutMetricAlarm",
        "cloudwatch:PutCompositeAlarm", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms",
        "ecs:DescribeServices", "elasticloadbalancing:DescribeTargetGroups"},
    "tests/test_edge.py": {
        "route53:ListHealthChecks", "route53:ListTagsForResources", "cloudfront:ListDistributions", "apigateway:GET",
        "wafv2:ListWebACLs", "wafv2:GetWebACL"},
}
WRITES = {"cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:TagResource",
          "cloudwatch:DeleteAlarms"}


def _policy(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, [*args[:-1], "iam-policy", "--role", args[-1]])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_exporter_role_only_reads() -> None:
    doc = _policy("exporter")
    assert doc["Version"] == "2012-10-17"
    statements = {s["Sid"]: s for s in doc["Statement"]}
    assert set(statements) == {"ExporterRead", "ApiGatewayRead"}
    statement = statements["ExporterRead"]
    assert statement["Resource"] == "*"
    assert "cloudwatch:GetMetricData" in statement["Action"]
    assert not set(statement["Action"]) & (WRITES | {"sts:AssumeRole"})  # no accounts: no AssumeRole either
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in statement["Action"])
    assert {"route53:ListHealthChecks", "cloudfront:ListDistributions", "wafv2:GetWebACL"} <= set(statement["Action"])


def test_api_gateway_reads_only_the_api_and_stage_lists() -> None:
    for role in iam.ROLES:
        statements = {s["Sid"]: s for s in _policy(role)["Statement"]}
        # apigateway:GET on "*" would also read API keys: only the API and stage lists
        assert statements["ApiGatewayRead"]["Action"] == ["apigateway:GET"]
        assert sorted(statements["ApiGatewayRead"]["Resource"]) == [
            "arn:aws:apigateway:*::/apis", "arn:aws:apigateway:*::/apis/*/stages",
            "arn:aws:apigateway:*::/restapis", "arn:aws:apigateway:*::/restapis/*/stages"]
        assert not any("apigateway" in a for s in statements.values() if s["Sid"] != "ApiGatewayRead"
                       for a in s["Action"])
    assert iam.iam_action("apigateway", "GetRestApis") == iam.iam_action("apigatewayv2", "GetStages") == \
        "apigateway:GET"


def test_the_sync_role_writes_only_our_alarms() -> None:
    statements = {s["Sid"]: s for s in _policy("sync")["Statement"]}
    assert set(statements) == {"SyncRead", "SyncWriteOurAlarms", "ApiGatewayRead"}
    assert set(statements["SyncWriteOurAlarms"]["Action"]) == WRITES
    assert statements["SyncWriteOurAlarms"]["Resource"] == "arn:aws:cloudwatch:*:*:alarm:docqet-*"
    assert not set(statements["SyncRead"]["Action"]) & WRITES
    assert {"cloudwatch:DescribeAlarms", "tag:GetResources"} <= set(statements["SyncRead"]["Action"])
    assert fnmatch(f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm_prefix('staging')}api-cpu",
                   statements["SyncWriteOurAlarms"]["Resource"])
    assert all(s["Effect"] == "Allow" and "*" not in "".join(s["Action"]) for s in statements.values())


def test_an_environment_narrows_writes_and_names_the_roles_to_assume(tmp_path: Path) -> None:
    cfg = tmp_path / "prod.yaml"
    cfg.write_text("environment: production\naccounts:\n  - {role_arn: 'arn:aws:iam::111111111111:role/docqet'}\n")
    statements = {s["Sid"]: s for s in _policy("--config", str(cfg), "sync")["Statement"]}
    assert statements["SyncWriteOurAlarms"]["Resource"] == "arn:aws:cloudwatch:*:*:alarm:docqet-production-*"
    assert statements["AssumeAccountRoles"] == {"Sid": "AssumeAccountRoles", "Effect": "Allow",
                                                "Action": ["sts:AssumeRole"],
                                                "Resource": ["arn:aws:iam::111111111111:role/docqet"]}


def test_arns_are_of_the_partition_of_the_regions(tmp_path: Path) -> None:
    cfg = tmp_path / "cn.yaml"
    cfg.write_text("environment: production\nregions: [cn-north-1, cn-northwest-1]\n")
    doc = json.dumps(_policy("--config", str(cfg), "sync"))
    assert "arn:aws-cn:cloudwatch:*:*:alarm:docqet-production-*" in doc
    assert "arn:aws-cn:apigateway:*::/apis" in doc and "arn:aws:" not in doc
    cfg.write_text("accounts:\n  - {role_arn: 'arn:aws-cn:iam::111111111111:role/r', regions: [cn-north-1]}\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "iam-policy", "--role", "exporter"])  # + $AWS_REGION
    assert result.exit_code == 2
    assert ("accounts[0].role_arn: 'arn:aws-cn:iam::111111111111:role/r' is in the AWS partition aws-cn, but "
            "'eu-west-1' ($AWS_REGION) is in aws") in result.output  # the config's own check, before any policy
    cfg.write_text("regions: [zz-west-1]\n")  # a region name botocore knows no partition for: no ARNs to write
    result = CliRunner().invoke(main, ["--config", str(cfg), "iam-policy", "--role", "exporter"])
    assert result.exit_code == 2
    assert "Error: iam-policy: the regions zz-west-1 are in the partitions unknown (zz-west-1)" in result.output


def test_a_role_is_required() -> None:
    result = CliRunner().invoke(main, ["iam-policy"])
    assert result.exit_code == 2 and "--role" in result.output


def test_iam_policy_unknown_role_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["iam-policy", "--role", "admin"])
    assert result.exit_code == 2
    assert "'admin' is not one of 'exporter', 'sync'" in result.output


def test_every_action_is_a_real_operation() -> None:
    session = botocore.session.get_session()
    services = ("ecs", "elbv2", "rds", "cloudwatch", "ce", "sts", "elasticache", "s3",
                "resourcegroupstaggingapi", "route53", "cloudfront", "apigateway", "apigatewayv2", "wafv2")
    known = {iam.iam_action(service, op) for service in services
             for op in session.get_service_model(service).operation_names}
    assert iam.actions() - known == set()


def test_a_cloudwatch_plan_is_recorded(moto_endpoint: str) -> None:
    """Makes sure this module on its own exercises the recorder through product code."""
    result = CliRunner().invoke(main, ["alerts", "plan", "--target", "cloudwatch"])
    assert result.exit_code == 0, result.output
    assert "cloudwatch:DescribeAlarms" in RECORDER.code


@pytest.mark.run_last
def test_every_aws_operation_the_suite_made_is_in_the_policy(request: pytest.FixtureRequest) -> None:
    ran = {item.location[0] for item in request.session.items}
    recorded = {action: files for action, files in RECORDER.code.items()
                if not all(f.startswith(EMULATOR_ONLY) for f in files)}
    for module, expected in EXPECTED.items():
        if module in ran:
            assert expected <= set(recorded), f"{module} ran but the recorder missed {expected - set(recorded)}"
    assert len(recorded) >= 3
    missing = {action: sorted(files) for action, files in recorded.items() if action not in iam.actions()}
    assert not missing, f"AWS operations called by the code but missing from the IAM policy: {missing}"
    sync, exporter = iam.actions("sync"), iam.actions("exporter")
    assert RECORDER.sync & set(recorded) <= sync, f"sync calls missing from its role: {RECORDER.sync - sync}"
    assert RECORDER.exporter & set(recorded) <= exporter, \
        f"exporter calls missing from its role: {RECORDER.exporter - exporter}"
    if "tests/test_cloudwatch_sync.py" in ran:
        assert {"cloudwatch:PutMetricAlarm", "tag:GetResources", "ecs:ListClusters"} <= RECORDER.sync
    if "tests/test_ecs.py" in ran:
        assert {"cloudwatch:GetMetricData", "ecs:ListClusters"} <= RECORDER.exporter
