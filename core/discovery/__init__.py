"""Resource discovery shared by the exporters and sync: the (account, region) targets, AWS APIs behind small
Protocols that speak our dataclasses (pagination and batching inside), and ARN helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docqet_monitor.core.config import AccountConfig, Config, regions
from docqet_monitor.core.partitions import global_region


@dataclass(frozen=True)
class Target:
    """One region of one account (``account`` None: the default credential chain)."""

    region: str
    account: AccountConfig | None = None

    def __str__(self) -> str:
        return f"{self.account.name or self.account.role_arn}/{self.region}" if self.account else self.region


def targets(config: Config) -> tuple[Target, ...]:
    """The default account in the configured regions, then each role account in its own (or those) regions;
    duplicates once, in order of first appearance."""
    top = regions(config)
    own = [Target(region) for region in top]
    found = own + [Target(region, account) for account in config.accounts for region in account.regions or top]
    return tuple(dict.fromkeys(found))  # a region (or account and region) listed twice is one target


def global_targets(config: Config, service: str) -> tuple[Target, ...]:
    """One target per account (the default one, then each role account) in ``service``'s
    :func:`global_region` of the account's partition: where a global service is read and its alarms live, once
    per account whatever regions are configured; none for an account whose partition does not offer it."""
    found = ((global_region(service, t.region), t.account) for t in targets(config))
    return tuple(dict.fromkeys(Target(region, account) for region, account in found if region))


def selected(names: Sequence[str], *keys: str) -> bool:
    """Whether a resource known by ``keys`` (its name, its id) passes a config filter (empty: all) (pure)."""
    return not names or any(key in names for key in keys if key)


def arn_resource(arn: str) -> str:
    """The resource part of an ARN: ``arn:aws:ecs:r:a:cluster/x`` -> ``cluster/x`` (pure)."""
    return arn.split(":", 5)[5] if arn.count(":") >= 5 else arn


def arn_name(arn: str) -> str:
    """The last path element of an ARN or a plain name (pure)."""
    return arn_resource(arn).rsplit("/", 1)[-1]
