"""What botocore keeps per client, kept per service: one model and one client class for every client of the
process's loader, each client's event handlers pruned to its own service (handler for handler the same), the
resolved endpoints of hundreds of clients cached, and one TLS context for all clients (verification unchanged)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.endpoint_provider import EndpointProvider
from botocore.exceptions import SSLError
from botocore.loaders import Loader
from fakeaws import fake_aws
from helpers import certificate

from docqet_monitor.core import botoshare
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AccountConfig, AwsConfig

# every AWS service a collector, sync or discovery reads
SERVICES = ("apigateway", "apigatewayv2", "ce", "cloudfront", "cloudwatch", "ecs", "elasticache", "elbv2", "rds",
            "route53", "s3", "sts", "wafv2")


def test_clients_of_one_service_share_its_model_and_class_across_regions_and_accounts(moto_endpoint: str) -> None:
    aws = Aws()
    role = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod")
    ecs = [aws.client("ecs", "eu-west-1"), aws.client("ecs", "us-east-1"), aws.client("ecs", "eu-west-1", role)]
    assert len({id(c) for c in ecs}) == 3
    assert len({id(c.meta.service_model) for c in ecs}) == 1 and len({type(c) for c in ecs}) == 1
    assert {c.meta.region_name for c in ecs} == {"eu-west-1", "us-east-1"}
    rds = aws.client("rds", "eu-west-1")
    assert rds.meta.service_model is not ecs[0].meta.service_model and type(rds) is not type(ecs[0])
    for client in ecs:  # each still calls its own region, the role's with the role's credentials
        assert client.list_clusters()["clusterArns"] == []
    assert Aws().client("ecs", "eu-west-1").meta.service_model is ecs[0].meta.service_model  # one per process


def test_a_session_with_a_loader_of_its_own_gets_models_of_its_own(moto_endpoint: str) -> None:
    shared = Aws().client("ecs", "eu-west-1")
    own = boto3.Session(region_name="eu-west-1").client("ecs")
    assert own.meta.service_model is not shared.meta.service_model and type(own) is not type(shared)
    assert own.list_clusters()["clusterArns"] == []


@pytest.mark.parametrize("service", SERVICES)
def test_pruned_handlers_are_the_same_for_every_event_the_client_emits(service: str) -> None:
    """For every event type the session knows and every operation of the service (and none), the pruned client
    calls the same handlers in the same order; the other services' branches are gone."""
    client = boto3.Session(region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s").client(service)
    trie = client.meta.events._emitter._handlers
    before = copy.copy(trie)
    botoshare.prune_events(client)
    own = client.meta.service_model.service_id.hyphenize()
    events = list(before._root["children"])
    operations = [*client.meta.service_model.operation_names, ""]
    for event in events:
        for operation in operations:
            name = f"{event}.{own}.{operation}".rstrip(".")
            assert list(trie.prefix_search(name)) == list(before.prefix_search(name)), name
    kept = {chunk for node in trie._root["children"].values() for chunk in node["children"]}
    dropped = {chunk for node in before._root["children"].values() for chunk in node["children"]} - kept
    assert kept <= {"*", own} and dropped  # s3's, ec2's, ... handlers went


def test_a_pruned_client_still_takes_new_handlers(moto_endpoint: str) -> None:
    aws = Aws()
    client = aws.client("ecs", "eu-west-1")
    seen: list[str] = []
    client.meta.events.register("before-call.ecs.ListClusters", lambda **kw: seen.append(kw["event_name"]))
    client.list_clusters()
    assert seen == ["before-call.ecs.ListClusters"]
    assert aws.stats.requests[("ecs", "ListClusters")] == 1  # the accounting hooks still run


def test_resolved_endpoints_of_many_clients_stay_cached(moto_endpoint: str) -> None:
    """botocore keeps 100 resolved endpoints for all clients together; 300 (account, region, service) clients'
    are all still cached when each asks again."""
    aws = Aws()
    roles = [AccountConfig(role_arn=f"arn:aws:iam::{100000000000 + k}:role/docqet-monitor") for k in range(25)]
    regions = ("eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1")
    clients = [aws.client(service, region, role) for role in roles for region in regions
               for service in ("ecs", "rds", "cloudwatch")]
    assert len(clients) == 300

    def resolve_all() -> None:  # what each client does before each request (no request is sent here)
        for client in clients:
            model = client.meta.service_model
            client._ruleset_resolver.construct_endpoint(model.operation_model(model.operation_names[0]), {}, {})

    resolve_all()
    before = EndpointProvider._resolve_endpoint.cache_info()
    resolve_all()
    after = EndpointProvider._resolve_endpoint.cache_info()
    assert after.misses == before.misses and after.hits - before.hits >= 300


def test_clients_share_one_tls_context_and_still_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients of other regions and services connect through one TLS context, which trusts the CA bundle given
    (AWS_CA_BUNDLE) and nothing else: a server whose certificate another CA signed is refused. The bundle is read
    once, not for each new connection (garbage in its place afterwards changes nothing)."""
    ca = certificate(tmp_path, "ca", ca=True)
    certificate(tmp_path, "server", issuer=ca)
    certificate(tmp_path, "stranger", issuer=certificate(tmp_path, "other-ca", ca=True))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "ca.crt"))

    def no_clusters(operation: str, attempt: int) -> tuple[int, dict[str, list[str]]]:
        return 200, {"clusterArns": []}

    with fake_aws(no_clusters, tls=(tmp_path / "server.crt", tmp_path / "server.key")) as (_, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        aws = Aws(settings=AwsConfig(max_attempts=1))
        clients = [aws.client("ecs", "eu-west-1"), aws.client("ecs", "us-east-1"), aws.client("rds", "eu-west-1")]
        assert clients[0].list_clusters()["clusterArns"] == [] and clients[1].list_clusters()["clusterArns"] == []
        used = set()
        for client in clients[:2]:
            pool = client._endpoint.http_session._manager.connection_from_url(url)
            conn = pool._get_conn()
            used.add(id(conn.sock.context))  # the socket the call went over
            pool._put_conn(conn)
        contexts = {id(c._endpoint.http_session._manager.connection_pool_kw["ssl_context"]) for c in clients}
        assert len(used) == 1 and contexts == used
        (tmp_path / "ca.crt").write_text("not a certificate")
        assert aws.client("ecs", "ap-southeast-2").list_clusters()["clusterArns"] == []  # a new connection
    with fake_aws(no_clusters, tls=(tmp_path / "stranger.crt", tmp_path / "stranger.key")) as (_, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            Aws(settings=AwsConfig(max_attempts=1)).client("ecs", "eu-west-1").list_clusters()


def test_the_shared_models_carry_no_documentation_and_still_serve(moto_endpoint: str) -> None:
    def documented(node: object) -> bool:
        if isinstance(node, dict):
            return bool(node.get("documentation")) or any(documented(v) for v in node.values())
        return isinstance(node, list) and any(documented(v) for v in node)

    assert documented(boto3.Session().client("ecs", region_name="eu-west-1").meta.service_model._service_description)
    client = Aws().client("ecs", "eu-west-1")
    assert not documented(client.meta.service_model._service_description)
    assert client.meta.service_model.operation_model("ListClusters").documentation == ""
    assert client.list_clusters()["clusterArns"] == []


def test_clients_of_one_service_share_endpoint_rules_and_exception_classes(moto_endpoint: str) -> None:
    aws = Aws()
    role = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod")
    s3 = [aws.client("s3", "eu-west-1"), aws.client("s3", "us-east-1"), aws.client("s3", "eu-west-1", role)]
    assert len({id(c._ruleset_resolver._provider) for c in s3}) == 1 and len({id(c.exceptions) for c in s3}) == 1
    assert aws.client("ecs", "eu-west-1")._ruleset_resolver._provider is not s3[0]._ruleset_resolver._provider
    for client in s3:  # each still resolves its own region's endpoint and raises its modelled errors
        with pytest.raises(client.exceptions.NoSuchBucket):
            client.get_bucket_versioning(Bucket="docqet-nothing-here")


def test_the_shared_loader_searches_aws_data_path_first(tmp_path: Path) -> None:
    """A model in ``$AWS_DATA_PATH`` (a newer or patched one) is the one the exporter's clients use, as with a
    session's own loader; without the variable botocore's own."""
    model = Loader().load_service_model("sts", "service-2")
    model["operations"]["DocqetPing"] = {"name": "DocqetPing", "http": {"method": "POST", "requestUri": "/"}}
    folder = tmp_path / "models" / "sts" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    probe = ("from docqet_monitor.core.aws import Aws; "
             "print('DocqetPing' in Aws().client('sts', 'eu-west-1').meta.service_model.operation_names)")
    env = {k: v for k, v in os.environ.items() if k != "AWS_DATA_PATH"}
    answers = [subprocess.run([sys.executable, "-c", probe], env=e, capture_output=True, text=True, check=True,
                              timeout=120).stdout.strip()
               for e in ({**env, "AWS_DATA_PATH": f"{tmp_path / 'nowhere'}{os.pathsep}{tmp_path / 'models'}"}, env)]
    assert answers == ["True", "False"]
