"""The WAF (v2) collector: web ACLs and their allowed and blocked requests, as a whole and per rule.

REGIONAL ACLs are read in each configured region, CLOUDFRONT ACLs once per account where CloudFront is served
(us-east-1; cn-northwest-1 in China) (region label ``global``). Discovery: ListWebACLs, then GetWebACL per ACL for
its CloudWatch metric names: AWS/WAFV2 knows an ACL by ``WebACL`` = its ``VisibilityConfig.MetricName`` and
``Rule`` (``ALL`` for the whole ACL, else the rule's metric name), plus ``Region`` for REGIONAL ACLs only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery import Target, global_targets, selected, targets
from docqet_monitor.core.discovery.waf import BotoWafApi, Scope, WafApi, WebAcl
from docqet_monitor.core.shard import Shard
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

GLOBAL = "global"  # the region label of CLOUDFRONT-scope ACLs
ALL = "ALL"  # the rule label (and CloudWatch Rule dimension) of the whole ACL
LABELS = ("account", "region", "web_acl", "rule")
INFO_LABELS = ("account", "region", "web_acl", "scope")

FAMILIES = {  # family -> (CloudWatch AWS/WAFV2 metric read as Sum, help)
    "docqet_waf_allowed_requests_per_second": ("AllowedRequests", "Requests the web ACL (or rule) allowed a second."),
    "docqet_waf_blocked_requests_per_second": ("BlockedRequests", "Requests the web ACL (or rule) blocked a second."),
}
METRIC_NAMES = ("docqet_waf_web_acl_info", *FAMILIES)


def rules(acl: WebAcl) -> list[tuple[str, str]]:
    """(rule label, Rule dimension) of the ACL: the whole ACL first, then each rule (pure)."""
    return [(ALL, ALL), *acl.rules]


def _query(acl: WebAcl, region: str, rule_metric: str, metric: str, period: int) -> MetricQuery:
    dims = (("Region", region), ("Rule", rule_metric), ("WebACL", acl.metric_name)) if acl.scope == "REGIONAL" \
        else (("Rule", rule_metric), ("WebACL", acl.metric_name))
    return MetricQuery("AWS/WAFV2", metric, dims, "Sum", period)


def queries(acls: Iterable[WebAcl], region: str, period: int) -> list[MetricQuery]:
    """Every CloudWatch query the ACLs need (pure); ACLs without metrics need none."""
    return [_query(acl, region, rule_metric, metric, period) for acl in acls if acl.metric_name
            for _, rule_metric in rules(acl) for metric, _ in FAMILIES.values()]


def families(account: str, region: str, acls: Sequence[WebAcl], values: MetricValues,
             period: int) -> list[Rendered]:
    """The WAF families of one region of one account (``region``: the AWS region the ACLs live in) (pure)."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    info = []
    for acl in acls:
        label = region if acl.scope == "REGIONAL" else GLOBAL
        info.append(((account, label, acl.name, acl.scope), 1.0))
        for rule, rule_metric in rules(acl) if acl.metric_name else ():
            for name, (metric, _) in FAMILIES.items():
                value = values.get(_query(acl, region, rule_metric, metric, period))
                if value is not None:
                    samples[name].append(((account, label, acl.name, rule), value / period))
    return [gauge("docqet_waf_web_acl_info", "WAF web ACL metadata; always 1.", INFO_LABELS, info),
            *(gauge(name, doc, LABELS, samples[name]) for name, (_, doc) in FAMILIES.items())]


def scrape(api: WafApi, read: MetricReader, account: str, region: str, scope: Scope, names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the scope's web ACLs (``names``: ACL names or ids to keep, empty: all), read their metrics,
    build the families."""
    found = [api.web_acl(name, acl_id, scope) for name, acl_id in api.web_acls(scope) if selected(names, name, acl_id)]
    acls = [acl for acl in found if acl is not None]
    return families(account, region, acls, read(queries(acls, region, period)), period)


def collector(config: Config, aws: Aws, clock: Callable[[], float] = time.time) -> AwsCollector:
    """The WAF collector: REGIONAL ACLs in each configured account and region (sharded by region), CLOUDFRONT
    ACLs once per account where CloudFront is served (global: shard 1 only), in the same refresh."""
    settings, period = config.collectors.waf, config.cloudwatch.period_seconds
    shard = Shard.parse(config.exporter.shard)
    regional_targets = targets(config)
    global_ones = global_targets(config, "cloudfront") if shard.runs_global else ()  # with CloudFront

    def scrape_target(target: Target, client: Clients) -> list[Rendered]:
        account, region = aws.account_id(target.account, target.region), target.region
        api, read = BotoWafApi(client("wafv2")), regional.reader(client, config, clock)
        scopes: list[Scope] = []
        if target in regional_targets and shard.owns(account, region):
            scopes.append("REGIONAL")
        if target in global_ones:
            scopes.append("CLOUDFRONT")
        return [f for scope in scopes for f in scrape(api, read, account, region, scope, settings.names, period)]

    regional.name_accounts(config, aws)
    return AwsCollector("waf", settings.interval_seconds, aws, (*regional_targets, *global_ones), scrape_target)
