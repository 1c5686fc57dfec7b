"""Sentry alerts: plan / apply / prune against an in-memory Sentry (``responses``) that validates every request
body against the published contracts, for the new Monitors/Alerts API and the legacy rules API."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from click.testing import CliRunner
from sentry_fake import TOKEN, FakeSentry, seed

from docqet_monitor.alerts import catalog
from docqet_monitor.alerts import sentry as s
from docqet_monitor.alerts.spec import AlertRule, SentryAlert
from docqet_monitor.cli import main
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import plan as p

URL = "https://sentry.example"
SENTRY = {"url": URL, "organization": "docqet", "projects": ["api", "web"], "pagerduty_integration_id": "2345",
          "pagerduty_services": {"critical": "111", "warning": "222"}, "email_target": "team:77"}


def _config(**sentry: Any) -> config_mod.Config:
    return config_mod.parse({"environment": "production", "sentry": {**SENTRY, **sentry}})


@pytest.fixture
def fake() -> Iterator[FakeSentry]:
    sentry = FakeSentry(URL)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        sentry.install(rsps)
        yield sentry


class Clock:
    """Injectable time: sleeping advances it; nothing really waits."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _sentry(config: config_mod.Config, clock: Clock | None = None) -> s.Sentry:
    clock = clock or Clock()
    return s.Sentry(s.Api(URL, TOKEN, sleep=clock.sleep, clock=lambda: clock.now), s.settings(config, {}))


def _plan(config: config_mod.Config, prune: bool = False, clock: Clock | None = None) -> tuple[p.Plan, s.Sentry]:
    sentry = _sentry(config, clock)
    return s.make_plan(sentry, catalog.rules(config), prune), sentry


def _apply(config: config_mod.Config, prune: bool = False) -> p.Report:
    plan, sentry = _plan(config, prune)
    report = p.apply(plan, sentry)
    assert report.ok, report.render()
    return report


def _seed(store: dict[str, dict[str, Any]], fixture: str, **changes: Any) -> str:
    obj = {**seed(fixture), **changes}
    obj["id"] = str(max((int(k) for k in store), default=0) + 1)
    store[obj["id"]] = obj
    return obj["id"]


SENTRY_RULES = [r for r in catalog.rules(_config()) if r.sentry]


def test_new_api_creates_monitors_and_alerts_then_a_second_apply_is_a_no_op(fake: FakeSentry) -> None:
    theirs = _seed(fake.workflows, "unowned-workflow.json")
    config = _config()
    plan, _ = _plan(config)
    metric = [r for r in SENTRY_RULES if r.sentry and r.sentry.kind == "metric"]
    assert plan.count("create") == 2 * (len(SENTRY_RULES) + len(metric)) and plan.count("update") == 0
    kinds = [c.kind for c in plan.changes]
    assert kinds == sorted(kinds, key=s.KINDS.index)  # monitors before the alerts that reference them
    _apply(config, prune=True)
    assert len(fake.workflows) == 2 * len(SENTRY_RULES) + 1
    assert fake.workflows[theirs] == {**seed("unowned-workflow.json"), "id": theirs}
    again, _ = _plan(config, prune=True)
    assert again.changes == () and p.render_text([again]) == "No changes."

    spike = next(w for w in fake.workflows.values()
                 if w["name"] == "[docqet-monitor] SentryErrorSpike (api, production)")
    api_error = next(d["id"] for d in fake.detectors.values() if d["type"] == "error" and d["projectId"] == "11")
    assert spike["detectorIds"] == [api_error]
    [filt] = spike["actionFilters"]
    assert filt["conditions"][0]["type"] == "event_frequency_count"
    assert filt["actions"][0]["type"] == "pagerduty" and filt["actions"][0]["data"] == {"priority": "critical"}
    assert filt["actions"][0]["config"]["targetIdentifier"] == "111"
    new_issue = next(w for w in fake.workflows.values()
                     if w["name"].endswith("SentryNewIssueInProduction (web, production)"))
    assert new_issue["environment"] == "production"
    assert new_issue["actionFilters"][0]["actions"][0]["type"] == "email"  # info: email, never a page
    p95 = next(d for d in fake.detectors.values() if d["name"].endswith("SentryTransactionP95High (api, production)"))
    assert p95["dataSources"][0]["queryObj"]["snubaQuery"]["aggregate"] == "p95(transaction.duration)"
    assert p95["conditionGroup"]["conditions"][0]["comparison"] == 1000
    # the description goes into the issues the monitor opens: the on-call engineer's way to the runbook
    assert p95["description"] == ("The p95 transaction duration is above the threshold (ms). Runbook: "
                                  f"{config.alerts.runbook_base_url}/sentry/transaction-p95.md")


def test_legacy_api_creates_rules_and_metric_alerts_then_nothing(fake: FakeSentry) -> None:
    theirs_rule = _seed(fake.rules, "unowned-rule.json")
    theirs_metric = _seed(fake.alert_rules, "unowned-alert-rule.json")
    config = _config(api="legacy")
    _apply(config, prune=True)
    assert {r["name"] for r in fake.rules.values()} >= {"[docqet-monitor] SentryIssueRegression (web, production)",
                                                          "High Number of Issues with Production"}
    assert fake.rules[theirs_rule]["name"] == "High Number of Issues with Production"
    assert fake.alert_rules[theirs_metric]["name"] == "Apdex of the checkout"
    failure = next(r for r in fake.alert_rules.values()
                   if r["name"].endswith("SentryFailureRateHigh (api, production)"))
    action = failure["triggers"][0]["actions"][0]
    assert (action["type"], action["priority"], action["targetIdentifier"]) == ("pagerduty", "critical", "111")
    again, _ = _plan(config, prune=True)
    assert again.changes == ()
    assert not any(path.endswith(f"/{theirs_rule}/") or path.endswith(f"/{theirs_metric}/")
                   for _, path, _ in fake.writes())


def test_a_hand_edited_alert_shows_as_exactly_one_update(fake: FakeSentry) -> None:
    config = _config()
    _apply(config)
    spike = next(w for w in fake.workflows.values()
                 if w["name"] == "[docqet-monitor] SentryErrorSpike (web, production)")
    spike["actionFilters"][0]["conditions"][0]["comparison"]["value"] = 5
    spike["config"]["frequency"] = 60
    plan, _ = _plan(config)
    assert [(c.action, c.kind, c.key) for c in plan.changes] == [
        ("update", "workflow", "[docqet-monitor] SentryErrorSpike (web, production)")]
    assert {f[0] for f in plan.changes[0].fields} == {"action_filters", "config.frequency"}
    _apply(config)
    assert _plan(config)[0].changes == ()


def test_a_hand_edited_monitor_is_put_back_with_one_update(fake: FakeSentry) -> None:
    config = _config()
    _apply(config)
    p95 = next(d for d in fake.detectors.values() if d["name"].endswith("SentryTransactionP95High (web, production)"))
    p95["conditionGroup"]["conditions"][0]["comparison"] = 5000
    plan, _ = _plan(config)
    assert [(c.action, c.kind) for c in plan.changes] == [("update", "detector")]
    assert plan.changes[0].fields[0][0] == "condition_group.conditions"
    fake.calls.clear()
    _apply(config)
    assert [(m, path) for m, path, _ in fake.writes()] == [
        ("PUT", f"/api/0/organizations/docqet/detectors/{p95['id']}/")]
    assert fake.detectors[p95["id"]]["conditionGroup"]["conditions"][0]["comparison"] == 1000


def test_an_owner_sentry_sets_by_itself_is_no_change_without_an_owner_team(fake: FakeSentry) -> None:
    for api in ("workflows", "legacy"):
        _apply(_config(api=api))
    for store in (fake.workflows, fake.rules, fake.alert_rules):
        for obj in store.values():
            obj["owner"] = "user:42"  # e.g. the token's user, set as owner on create
    assert _plan(_config())[0].changes == () and _plan(_config(api="legacy"))[0].changes == ()


def test_prune_deletes_only_our_objects_alerts_before_monitors(fake: FakeSentry) -> None:
    _seed(fake.workflows, "unowned-workflow.json")
    config = _config()
    _apply(config)
    fewer = dataclasses.replace(config, alerts=config_mod.AlertsConfig(disabled=("SentryTransactionP95High",)))
    kept, _ = _plan(fewer)
    assert kept.changes == () and len(kept.orphans) == 4  # a monitor and an alert per project
    plan, _ = _plan(fewer, prune=True)
    assert [(c.action, c.kind) for c in plan.changes] == [("delete", "workflow")] * 2 + [("delete", "detector")] * 2
    _apply(fewer, prune=True)
    names = {w["name"] for w in fake.workflows.values()}
    assert "Send a notification for high priority issues" in names
    assert not any("SentryTransactionP95High" in n for n in names)
    assert _plan(fewer, prune=True)[0].changes == ()


def test_owner_team_makes_other_teams_prefixed_alerts_unowned(fake: FakeSentry) -> None:
    config = _config(owner_team="456")
    other = _seed(fake.workflows, "unowned-workflow.json", name="[docqet-monitor] Something of team 9",
                  owner="team:9")
    _apply(config, prune=True)
    assert other in fake.workflows
    assert all(w["owner"] == "team:456" for k, w in fake.workflows.items() if k != other)
    clash = dataclasses.replace(config, sentry=dataclasses.replace(config.sentry, owner_team="789"))
    with pytest.raises(p.PlanError, match="without our ownership mark"):
        _plan(clash)


def test_two_environments_sharing_projects_keep_their_own_alerts(fake: FakeSentry) -> None:
    """One Sentry project, several environments (Sentry's usual setup): each sync keeps to its environment's
    alerts, and a rule fixed to one environment (new issue in production) is that environment's alone."""
    production, staging = _config(), config_mod.parse({"environment": "staging", "sentry": SENTRY})
    for api in ("workflows", "legacy"):
        prod, stag = (dataclasses.replace(c, sentry=dataclasses.replace(c.sentry, api=api))
                      for c in (production, staging))
        _apply(prod, prune=True)
        made = {k: json.dumps(v, sort_keys=True) for store in fake.stores() for k, v in store.items()}
        _apply(stag, prune=True)
        kept = {k: json.dumps(v, sort_keys=True) for store in fake.stores() for k, v in store.items()}
        assert made.items() <= kept.items()  # staging's apply --prune left production's alerts as they were
        assert _plan(prod, prune=True)[0].changes == () and _plan(stag, prune=True)[0].changes == ()
        names = [o["name"] for store in fake.stores() for o in store.values()]
        assert "[docqet-monitor] SentryErrorSpike (api, staging)" in names
        assert not any("SentryNewIssueInProduction (api, staging)" in n for n in names)


def test_prune_leaves_our_alerts_of_projects_it_does_not_sync_alone(fake: FakeSentry) -> None:
    """Workflows are listed organization-wide: those of another project (another environment's config) are not
    this run's to update or delete, even with our prefix."""
    fake.projects["other"] = "13"
    other_error = str(next(fake.ids))
    fake.detectors[other_error] = {**seed("error-detector.json"), "id": other_error, "projectId": "13"}
    theirs = _seed(fake.workflows, "unowned-workflow.json",
                   name="[docqet-monitor] SentryErrorSpike (other, production)", detectorIds=[other_error])
    _apply(_config(), prune=True)
    assert theirs in fake.workflows
    assert _plan(_config(), prune=True)[0].changes == ()


def test_an_unowned_alert_with_our_name_is_an_error(fake: FakeSentry) -> None:
    _seed(fake.rules, "unowned-rule.json", name="[docqet-monitor] SentryIssueRegression (api, production)")
    before = json.dumps(fake.rules, sort_keys=True)
    with pytest.raises(p.PlanError, match=r"SentryIssueRegression \(api, production\)"):
        _plan(_config(api="legacy", owner_team="456"))
    assert json.dumps(fake.rules, sort_keys=True) == before and fake.writes() == []


def test_a_project_without_its_error_monitor_fails_the_plan_before_any_write(fake: FakeSentry) -> None:
    web_error = next(k for k, d in fake.detectors.items() if d["type"] == "error" and d["projectId"] == "12")
    del fake.detectors[web_error]
    with pytest.raises(p.PlanError, match="no monitor for error:web"):
        _plan(_config())
    assert fake.writes() == []


def test_listing_follows_the_link_cursor(fake: FakeSentry) -> None:
    _apply(_config())
    fake.calls.clear()
    plan, _ = _plan(_config())
    assert plan.changes == ()  # every alert was seen, on every page
    listed = [path for method, path, _ in fake.calls if method == "GET" and path.endswith("/workflows/")]
    assert len(listed) == -(-2 * len(SENTRY_RULES) // fake.page_size) > 1


# --- faults ---------------------------------------------------------------------------------------


def test_rate_limits_and_server_errors_are_waited_out(fake: FakeSentry) -> None:
    answers = iter([(429, {"Retry-After": "7"}, "{}"), (502, {}, "bad gateway"), (503, {}, "unavailable")])
    fake.fault = lambda method, path: next(answers, None) if method == "POST" else None
    clock = Clock()
    plan, sentry = _plan(_config(), clock=clock)
    assert p.apply(plan, sentry).ok
    assert clock.slept == [7.0, 2.0, 4.0]  # Retry-After, then backoff doubling with each attempt


def test_connection_errors_are_retried_then_reported_without_the_token() -> None:
    clock = Clock()
    api = s.Api(URL, TOKEN, sleep=clock.sleep, clock=lambda: clock.now, attempts=3)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{URL}/api/0/organizations/docqet/workflows/", body=requests.ConnectionError(f"refused {TOKEN}"))
        with pytest.raises(s.SentryError) as err:
            api.list("/api/0/organizations/docqet/workflows/")
    assert str(err.value) == "GET /api/0/organizations/docqet/workflows/: ConnectionError after 3 attempts"
    assert clock.slept == [1.0, 2.0] and api.requests == 3


def test_a_response_that_is_not_json_is_a_clear_error_without_the_token() -> None:
    api = s.Api(URL, TOKEN)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{URL}/api/0/organizations/docqet/workflows/", body=f"<html>sign in {TOKEN}</html>")
        with pytest.raises(s.SentryError) as err:
            api.list("/api/0/organizations/docqet/workflows/")
    assert str(err.value) == ("GET /api/0/organizations/docqet/workflows/: HTTP 200 is not JSON (is the Sentry URL "
                              "right?): <html>sign in <redacted></html>")


@pytest.mark.parametrize(("store", "entry"), [
    ("detectors", {"id": "../../projects/docqet/api", "type": "metric_issue", "projectId": "11",
                   "name": "[docqet-monitor] SentryTransactionP95High (api, production)"}),  # an id that is a path
    ("workflows", {"id": "7"}),  # no name (outside the contract: the fake would not list it)
])
def test_a_listing_that_is_not_sentry_objects_stops_the_plan_before_any_write(
        store: str, entry: dict[str, Any], fake: FakeSentry) -> None:
    """Listed ids become segments of the paths of updates and deletes: one that is not a Sentry id is refused."""
    if store == "detectors":
        fake.detectors["99999"] = {**seed("error-detector.json"), **entry}  # the key orders the listing
    else:
        fake.fault = lambda method, path: (200, {}, json.dumps([entry])) if path.endswith("/workflows/") else None
    with pytest.raises(s.SentryError, match=r"cannot read the Sentry alerts of organization docqet at .*: GET "
                                            rf"/api/0/organizations/docqet/{store}/: an entry without a numeric id "
                                            r"and a name is not a Sentry object"):
        _plan(_config(), prune=True)
    assert {method for method, _, _ in fake.calls} == {"GET"}


@pytest.mark.parametrize("field", [{"conditionGroup": "x"}, {"dataSources": [5]}, {"owner": 5}, {"config": 5}])
def test_a_monitor_of_another_shape_stops_the_plan_before_any_write(field: dict[str, Any], fake: FakeSentry) -> None:
    """Fields of a listed object that are not what the contract says are a clear error, not a traceback."""
    monitor = {**seed("error-detector.json"), "id": "99999", "type": "metric_issue", "projectId": "11",
               "name": "[docqet-monitor] SentryTransactionP95High (api, production)", **field}
    fake.fault = lambda method, path: (200, {}, json.dumps([monitor])) if path.endswith("/detectors/") else None
    with pytest.raises(s.SentryError, match=r"cannot read the Sentry alerts of organization docqet at .*: an answer "
                                            r"does not have the shape of Sentry's alerts \((Attribute|Type)Error: "):
        _plan(_config(), prune=True)
    assert {method for method, _, _ in fake.calls} == {"GET"}


def test_a_created_monitor_without_a_numeric_id_stops_the_apply(fake: FakeSentry) -> None:
    fake.fault = lambda method, path: (201, {}, json.dumps({"id": "../x"})) if method == "POST" else None
    plan, sentry = _plan(_config())
    report = p.apply(plan, sentry)
    assert not report.ok and "the answer has no numeric id of the monitor it created" in report.render()


def test_a_429_without_retry_after_waits_for_the_rate_limit_reset(fake: FakeSentry) -> None:
    clock = Clock()
    limited = {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": str(clock.now + 12)}
    once = iter([(429, limited, "{}")])
    fake.fault = lambda method, path: next(once, None)
    api = s.Api(URL, TOKEN, sleep=clock.sleep, clock=lambda: clock.now)
    assert api.list("/api/0/organizations/docqet/workflows/") == []
    assert clock.slept == [12.0] and api.requests == 2


def test_an_exhausted_rate_limit_window_holds_the_next_request_until_reset(fake: FakeSentry) -> None:
    clock = Clock()
    reset = clock.now + 30
    once = iter([(200, {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": str(reset)}, "[]")])
    fake.fault = lambda method, path: next(once, None)
    api = s.Api(URL, TOKEN, sleep=clock.sleep, clock=lambda: clock.now)
    api.list("/api/0/organizations/docqet/workflows/")
    api.list("/api/0/organizations/docqet/workflows/")
    assert clock.slept == [30.0]


def test_huge_retry_after_and_reset_values_are_capped(fake: FakeSentry) -> None:
    """A server asking for a wait of years (or one that overflows) gets at most a minute per wait."""
    clock = Clock()
    answers = iter([(429, {"Retry-After": "99999999999"}, "{}"),
                    (200, {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": "1e300"}, "[]")])
    fake.fault = lambda method, path: next(answers, None)
    api = s.Api(URL, TOKEN, sleep=clock.sleep, clock=lambda: clock.now)
    api.list("/api/0/organizations/docqet/workflows/")
    api.list("/api/0/organizations/docqet/workflows/")
    assert clock.slept == [s.MAX_RETRY_AFTER_SECONDS, s.MAX_RETRY_AFTER_SECONDS]


def test_malformed_rate_limit_headers_are_ignored(fake: FakeSentry) -> None:
    clock = Clock()
    once = iter([(200, {"X-Sentry-Rate-Limit-Remaining": "n/a", "X-Sentry-Rate-Limit-Reset": "soon"}, "[]")])
    fake.fault = lambda method, path: next(once, None)
    api = s.Api(URL, TOKEN, sleep=clock.sleep, clock=lambda: clock.now)
    assert api.list("/api/0/organizations/docqet/workflows/") == []
    assert api.list("/api/0/organizations/docqet/workflows/") == [] and clock.slept == []


def test_a_failure_midway_reports_what_was_applied_and_a_rerun_converges(fake: FakeSentry) -> None:
    posts = {"n": 0}

    def fail_fourth_post(method: str, path: str) -> tuple[int, dict[str, str], str] | None:
        if method == "POST":
            posts["n"] += 1
            if posts["n"] >= 4:
                return 500, {}, "internal error"
        return None

    fake.fault = fail_fourth_post
    config = _config()
    plan, sentry = _plan(config)
    report = p.apply(plan, sentry)
    assert not report.ok
    assert len(report.applied) == 3 and len(report.failed) == 1
    assert len(report.skipped) == len(plan.changes) - 4
    text = report.render()
    assert "! failed to create sentry" in text and "HTTP 500" in text and "not applied: create" in text
    fake.fault = lambda method, path: None
    rerun, _ = _plan(config)
    assert rerun.count("create") == len(plan.changes) - 3 and rerun.count("update") == 0
    _apply(config)
    assert _plan(config)[0].changes == ()


def test_invalid_catalog_input_fails_before_any_call(fake: FakeSentry) -> None:
    bad = AlertRule(name="Bad", severity="critical", summary="s", description="d", runbook="r", dashboard="x",
                    sentry=SentryAlert(kind="metric", threshold="nope", aggregate="", time_window_minutes=7))
    config = _config(pagerduty_integration_id="", pagerduty_services={}, email_target="ops@example.com")
    with pytest.raises(p.PlanError) as err:
        s.make_plan(_sentry(config), [bad], prune=False)
    for expected in ("sentry.pagerduty_integration_id", "sentry.pagerduty_services.critical",
                     "sentry.email_target: expected team:<id> or user:<id>", "threshold 'nope'",
                     "needs an aggregate and time_window_minutes"):
        assert expected in str(err.value)
    assert fake.calls == []


# --- the commands, and the token ---------------------------------------------------------------------


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> list[str]:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("environment: production\nsentry:\n  pagerduty_integration_id: '2345'\n"
                   "  pagerduty_services: {critical: '111', warning: '222'}\n")
    for var, value in (("SENTRY_URL", URL), ("SENTRY_ORG", "docqet"), ("SENTRY_PROJECTS", "api, web"),
                       ("SENTRY_AUTH_TOKEN", TOKEN)):
        monkeypatch.setenv(var, value)
    return ["-vv", "--config", str(cfg), "alerts"]


def test_commands_use_the_environment_and_never_show_the_token(fake: FakeSentry, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Any, caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    caplog.set_level(logging.DEBUG)
    args = _env(monkeypatch, tmp_path)
    runner = CliRunner()
    planned = runner.invoke(main, [*args, "plan", "--target", "sentry", "--detailed-exitcode"])
    assert planned.exit_code == 2, planned.output
    assert "+ create sentry workflow [docqet-monitor] SentryErrorSpike (web, production)" in planned.output
    as_json = runner.invoke(main, [*args, "plan", "--target", "sentry", "--output", "json"])
    assert json.loads(as_json.stdout)["summary"]["create"] > 0
    applied = runner.invoke(main, [*args, "apply", "--target", "sentry", "--yes"])
    assert applied.exit_code == 0, applied.output
    assert runner.invoke(main, [*args, "plan", "--target", "sentry", "--detailed-exitcode"]).exit_code == 0
    fake.fault = lambda method, path: (403, {}, f"echo: Bearer {TOKEN}") if method == "GET" else None
    failed = runner.invoke(main, [*args, "plan", "--target", "sentry", "--detailed-exitcode"])
    assert failed.exit_code == 1 and "HTTP 403" in failed.output
    everything = (planned.output + as_json.output + applied.output + failed.output + caplog.text
                  + repr(failed.exception))
    assert TOKEN not in everything
    assert "<redacted>" in failed.output  # the echoed token was redacted


def test_the_token_is_trimmed_and_one_no_header_can_carry_is_refused(fake: FakeSentry, monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Any) -> None:
    """A trailing newline (a secret store's value) is trimmed: the fake takes only ``Bearer TOKEN``. A line break
    inside is a setting to fix (exit 2) with no request: requests refused the header at every call."""
    args = _env(monkeypatch, tmp_path)
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", f"{TOKEN}\r\n")
    planned = CliRunner().invoke(main, [*args, "plan", "--target", "sentry"])
    assert planned.exit_code == 0, planned.output
    assert fake.calls
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", f"{TOKEN[:8]}\n{TOKEN[8:]}")
    calls = len(fake.calls)
    refused = CliRunner().invoke(main, [*args, "plan", "--target", "sentry"])
    assert refused.exit_code == 2 and len(fake.calls) == calls
    assert ("sentry: SENTRY_AUTH_TOKEN: expected a token of printable ASCII without spaces, got a line break at "
            "character 9 (the value is not shown)") in refused.output
    assert TOKEN[8:] not in refused.output


def test_sentry_without_settings_is_reported_not_attempted(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["alerts", "plan", "--target", "sentry"], catch_exceptions=False)
    assert result.exit_code == 2  # a missing setting, as for Grafana
    assert "Error: sentry: no Sentry organization (sentry.organization or SENTRY_ORG)" in result.stderr
    monkeypatch.setenv("SENTRY_ORG", "docqet")
    monkeypatch.setenv("SENTRY_PROJECTS", "api")
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "sntrys_not_used")
    monkeypatch.setenv("SENTRY_PROJECTS", "api,../../users")  # a segment of the API's paths: refused
    result = CliRunner().invoke(main, ["alerts", "plan", "--target", "sentry"], catch_exceptions=False)
    assert result.exit_code == 2
    assert ("Error: sentry: SENTRY_ORG / SENTRY_PROJECTS: expected a Sentry slug or id (letters, digits, '_', '-'), "
            "got '../../users'") in result.stderr
    monkeypatch.setenv("SENTRY_PROJECTS", "api")
    monkeypatch.setenv("SENTRY_URL", "sentry.example")  # no scheme: refused before any request
    result = CliRunner().invoke(main, ["alerts", "plan", "--target", "sentry"], catch_exceptions=False)
    assert result.exit_code == 2
    assert ("Error: sentry: SENTRY_URL: expected an http(s) URL (http://host[:port][/path]) without USER:PASSWORD@ "
            "(the token comes from the environment), got 'sentry.example'") in result.stderr
