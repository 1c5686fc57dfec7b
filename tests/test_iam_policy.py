"""The least-privilege IAM policy: printed by ``iam-policy``, naming only real operations, and covering every
AWS operation the code calls anywhere in the test suite (recorded by tests/aws_calls.py, checked last)."""

from __future__ import annotations

import json

import botocore.session
import pytest
from aws_calls import RECORDER
from click.testing import CliRunner

from docqet_monitor.alerts import iam
from docqet_monitor.cli import main

# product modules that only ever talk to the emulator (seeding moto for the demo): not in the policy
EMULATOR_ONLY = ("demo/",)
# test modules -> operations their tests must make through product code (so the check below is not vacuous)
EXPECTED = {
    "tests/test_iam_policy.py": {"cloudwatch:DescribeAlarms", "ecs:ListClusters", "rds:DescribeDBClusters"},
    "tests/test_cloudwatch_sync.py": {
        "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:PutMetricAlarm",
        "cloudwatch:PutCompositeAlarm", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms",
        "ecs:DescribeServices", "elasticloadbalancing:DescribeTargetGroups"},
    "tests/test_edge.py": {
        "route53:ListHealthChecks", "route53:ListTagsForResources", "cloudfront:ListDistributions", "apigateway:GET",
        "wafv2:ListWebACLs", "wafv2:GetWebACL"},
}


def test_iam_policy_command_prints_two_statements() -> None:
    result = CliRunner().invoke(main, ["iam-policy"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["Version"] == "2012-10-17"
    statements = {s["Sid"]: s for s in doc["Statement"]}
    assert set(statements) == {"Exporter", "Sync", "ApiGatewayRead"}
    assert "cloudwatch:GetMetricData" in statements["Exporter"]["Action"]
    assert "cloudwatch:PutMetricAlarm" not in statements["Exporter"]["Action"]  # the exporter only reads
    assert "cloudwatch:PutMetricAlarm" in statements["Sync"]["Action"]
    assert all(s["Effect"] == "Allow" and "*" not in "".join(s["Action"]) for s in doc["Statement"])
    # apigateway:GET on "*" would also read API keys: only the API and stage lists
    assert statements["ApiGatewayRead"]["Action"] == ["apigateway:GET"]
    assert all(r.endswith(("/restapis", "/apis", "/stages")) for r in statements["ApiGatewayRead"]["Resource"])


def test_every_action_is_a_real_operation() -> None:
    session = botocore.session.get_session()
    services = ("ecs", "elbv2", "rds", "cloudwatch", "ce", "sts", "route53", "cloudfront", "apigateway",
                "apigatewayv2", "wafv2")
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
    by_sid = {s["Sid"]: set(s["Action"]) for s in iam.policy()["Statement"]}
    sync = by_sid["Sync"] | by_sid["ApiGatewayRead"]
    assert RECORDER.sync & set(recorded) <= sync, f"sync calls missing from its statement: {RECORDER.sync - sync}"
    if "tests/test_cloudwatch_sync.py" in ran:
        assert {"cloudwatch:PutMetricAlarm", "ecs:ListClusters"} <= RECORDER.sync
