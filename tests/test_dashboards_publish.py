"""`dashboards plan|publish` against Grafana's HTTP API (``responses``) on the plan engine: create / update /
unchanged / conflict, 412, prune, plan and dry run, 401/403/5xx/timeouts; what is POSTed validates against
Grafana 12's dashboard schema; the token never shows."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import responses
from click.testing import CliRunner, Result
from helpers import CONTRACTS
from responses import matchers

from docqet_monitor import __version__, cli
from docqet_monitor.dashboards import build
from docqet_monitor.dashboards.publish import Grafana, live_model, make_plan

URL = "https://grafana.test"
TOKEN = "glsa_SECRET-token-4f2a9c"  # a fake
FOLDER = "docqet-monitor"


@pytest.fixture(autouse=True)
def grafana_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_URL", URL)
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


MODELS = build.build_all()


def live(model: dict[str, Any], version: int = 3, folder: str = FOLDER, **meta: Any) -> dict[str, Any]:
    """What GET /api/dashboards/uid/{uid} answers for ``model`` as Grafana stored it."""
    return {"dashboard": {**copy.deepcopy(model), "id": 40 + version, "version": version},
            "meta": {"folderUid": folder, "url": f"/d/{model['uid']}/x", "version": version, "slug": "x", **meta}}


def edited_in_ui(model: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(model)
    changed["panels"][1]["title"] = "renamed in the UI"
    return changed


def older_release(model: dict[str, Any]) -> dict[str, Any]:
    """What an earlier build published: other content, with its own (matching) fingerprint."""
    changed = edited_in_ui(model)
    return build.stamp({k: v for k, v in changed.items() if k != "description"}, "dashboards/x.py")


def register(api: Any, lives: dict[str, dict[str, Any] | None], owned: list[dict[str, Any]] | None = None,
             post_status: dict[str, int] | None = None, folder: bool = True) -> None:
    """Grafana with the folder (or not), the live dashboards ``lives``, the tagged ones and the writes."""
    api.add(responses.POST, f"{URL}/api/folders", json={"uid": FOLDER, "title": "Docqet"}, status=200)
    api.add(responses.GET, f"{URL}/api/folders/{FOLDER}", json={"uid": FOLDER} if folder else {"message": "not found"},
            status=200 if folder else 404)
    for uid in MODELS:
        answer = lives.get(uid)
        api.add(responses.GET, f"{URL}/api/dashboards/uid/{uid}", json=answer or {"message": "Dashboard not found"},
                status=200 if answer else 404)
    hits = [{"uid": uid, "title": m["title"], "type": "dash-db", "tags": m["tags"]} for uid, m in MODELS.items()
            if lives.get(uid)] + (owned or [])
    api.add(responses.GET, f"{URL}/api/search", json=hits,
            match=[matchers.query_param_matcher({"tag": "docqet-monitor", "type": "dash-db", "limit": "1000",
                                                 "page": "1"})])
    statuses = post_status or {}

    def on_post(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        uid = body["dashboard"]["uid"]
        status = statuses.get(uid, 200)
        if status == 412:
            return 412, {}, json.dumps({"message": "The dashboard has been changed by someone else",
                                        "status": "version-mismatch"})
        if status != 200:
            return status, {}, json.dumps({"message": "internal error"})
        return 200, {}, json.dumps({"id": 1, "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": 4})

    api.add_callback(responses.POST, f"{URL}/api/dashboards/db", callback=on_post)
    api.add(responses.DELETE, f"{URL}/api/dashboards/uid/docqet-old", json={"title": "Old", "message": "deleted"})


def posts(api: Any) -> list[dict[str, Any]]:
    return [json.loads(c.request.body) for c in api.calls if c.request.method == "POST"
            and c.request.url.endswith("/api/dashboards/db")]


def writes(api: Any) -> list[str]:
    return [f"{c.request.method} {c.request.url}" for c in api.calls if c.request.method in ("POST", "DELETE")]


def run(*args: str) -> Result:
    """``docqet-monitor dashboards ARGS``; never a traceback (exceptions are not caught for the test)."""
    result = CliRunner().invoke(cli.main, ["dashboards", *args], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def publish(*args: str) -> Result:
    return run("publish", *args)


def assert_no_token(result: Result, caplog: pytest.LogCaptureFixture) -> None:
    assert TOKEN not in result.output and TOKEN not in caplog.text
    assert TOKEN not in repr(result.exception)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


# --- the happy paths ----------------------------------------------------------------------------


def test_first_publish_creates_the_folder_and_every_dashboard(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    register(api, {}, folder=False)
    result = publish()
    assert result.exit_code == 0, result.output
    bodies = posts(api)
    assert sorted(b["dashboard"]["uid"] for b in bodies) == sorted(MODELS)
    validator = jsonschema.Draft7Validator(json.loads((CONTRACTS / "grafana-dashboard-schema.json").read_text()))
    for body in bodies:
        assert [e.message for e in validator.iter_errors(body["dashboard"])] == []
        assert body["folderUid"] == FOLDER and body["overwrite"] is False
        assert body["message"] == f"docqet-monitor {__version__}: dashboards as code"
        assert "version" not in body["dashboard"] and "id" not in body["dashboard"]
    assert writes(api)[0] == f"POST {URL}/api/folders"  # the folder before the dashboards in it
    folder = next(c for c in api.calls if c.request.url == f"{URL}/api/folders")
    assert json.loads(folder.request.body) == {"uid": FOLDER, "title": "Docqet"}
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in api.calls)
    assert f"+ create grafana folder {FOLDER}\n" in result.output
    for uid in MODELS:
        assert f"+ create grafana dashboard {uid}\n" in result.output
        assert f"+ created grafana dashboard {uid}\n" in result.output
    assert f"Plan: {len(MODELS) + 1} to add, 0 to change, 0 to destroy." in result.output
    assert result.output.endswith(f"grafana: {len(MODELS) + 1} change(s) applied.\n")
    assert_no_token(result, caplog)


def test_unchanged_dashboards_are_not_posted_again(api: Any) -> None:
    register(api, {uid: live(m) for uid, m in MODELS.items()})
    result = publish()
    assert result.exit_code == 0, result.output
    assert writes(api) == []
    assert result.output.endswith("No changes.\n")


def test_a_dashboard_changed_in_the_code_is_updated_with_the_live_version(api: Any) -> None:
    register(api, {uid: live(older_release(m) if uid == "docqet-qdrant" else m, version=7)
                   for uid, m in MODELS.items()})
    result = publish()
    assert result.exit_code == 0, result.output
    [body] = posts(api)
    assert body["dashboard"] == {**MODELS["docqet-qdrant"], "version": 7} and body["overwrite"] is False
    assert "~ update grafana dashboard docqet-qdrant\n    dashboard.description: " in result.output
    assert "    dashboard.panels: " in result.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in result.output
    assert "~ updated grafana dashboard docqet-qdrant" in result.output


def test_a_dashboard_in_another_folder_is_moved(api: Any) -> None:
    register(api, {uid: live(m, folder="general" if uid == "docqet-aws-cost" else FOLDER)
                   for uid, m in MODELS.items()})
    result = publish()
    assert result.exit_code == 0
    assert [b["dashboard"]["uid"] for b in posts(api)] == ["docqet-aws-cost"]
    assert f'~ update grafana dashboard docqet-aws-cost\n    folderUid: "general" -> "{FOLDER}"\n' in result.output


def test_a_reordered_list_is_a_change(api: Any) -> None:
    swapped = copy.deepcopy(MODELS["docqet-overview"])
    swapped["panels"][0], swapped["panels"][1] = swapped["panels"][1], swapped["panels"][0]
    register(api, {uid: live(build.stamp({k: v for k, v in swapped.items() if k != "description"}, "x.py")
                             if uid == "docqet-overview" else m) for uid, m in MODELS.items()})
    result = run("plan")
    assert "~ update grafana dashboard docqet-overview" in result.output and result.exit_code == 0


# --- edits made in Grafana and 412 --------------------------------------------------------------


def test_a_dashboard_edited_in_grafana_is_a_conflict_until_forced(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    lives = {uid: live(older_release(m) if uid == "docqet-qdrant" else m, updatedBy="alice")
             for uid, m in MODELS.items()}
    lives["docqet-ecs-services"] = live(edited_in_ui(MODELS["docqet-ecs-services"]), updatedBy="alice")
    register(api, lives)
    result = publish()
    assert result.exit_code == 1
    assert [b["dashboard"]["uid"] for b in posts(api)] == ["docqet-qdrant"]  # the others still go ahead
    assert ("! conflict grafana dashboard docqet-ecs-services: edited in Grafana by alice since docqet-monitor "
            "published it (version 3); rerun with --force to overwrite") in result.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in result.output
    assert result.output.endswith("Error: 1 conflict(s) left unchanged (see above): grafana dashboard "
                                  "docqet-ecs-services\n")
    assert_no_token(result, caplog)

    api.calls.reset()
    forced = publish("--force")
    assert forced.exit_code == 0, forced.output
    [body] = [b for b in posts(api) if b["dashboard"]["uid"] == "docqet-ecs-services"]
    assert body["overwrite"] is True and body["dashboard"]["panels"] == MODELS["docqet-ecs-services"]["panels"]
    assert "    (edited in Grafana by alice since docqet-monitor published it (version 3); --force overwrites it)" \
        in forced.output
    assert "~ updated grafana dashboard docqet-ecs-services" in forced.output


def test_a_dashboard_not_made_by_the_tool_is_not_overwritten(api: Any) -> None:
    theirs = {**copy.deepcopy(MODELS["docqet-overview"]), "description": "made by hand"}
    register(api, {uid: live(theirs if uid == "docqet-overview" else m) for uid, m in MODELS.items()})
    result = publish()
    assert result.exit_code == 1 and writes(api) == []
    assert ("! conflict grafana dashboard docqet-overview: exists in Grafana but was not published by "
            "docqet-monitor") in result.output


def test_a_412_version_mismatch_is_reported_and_not_overwritten(api: Any) -> None:
    register(api, {uid: live(older_release(m)) for uid, m in MODELS.items()}, post_status={"docqet-overview": 412})
    result = publish()
    assert result.exit_code == 1
    assert ("! failed to update grafana dashboard docqet-overview: Grafana refused the save: POST /api/dashboards/db: "
            "412 Precondition Failed: The dashboard has been changed by someone else; status version-mismatch; "
            "rerun to see the change, or with --force to overwrite") in result.output
    assert "not applied: update grafana dashboard" in result.output
    assert "Error: publishing stopped at the failure above; a rerun picks up where it stopped" in result.output
    assert all(b["overwrite"] is False for b in posts(api))


# --- prune ----------------------------------------------------------------------------------------


OLD = {"uid": "docqet-old", "title": "Docqet / Old", "type": "dash-db", "tags": ["docqet-monitor"]}


def test_stale_owned_dashboards_are_listed_and_deleted_only_with_prune(api: Any) -> None:
    register(api, {uid: live(m) for uid, m in MODELS.items()}, owned=[OLD])
    listed = publish()
    assert listed.exit_code == 0
    assert writes(api) == []
    assert ("grafana: 1 object(s) we own are no longer in the code (deleted only with --prune): docqet-old"
            in listed.output)

    api.calls.reset()
    pruned = publish("--prune")
    assert pruned.exit_code == 0
    assert writes(api) == [f"DELETE {URL}/api/dashboards/uid/docqet-old"]
    assert "- delete grafana dashboard docqet-old" in pruned.output
    assert "- deleted grafana dashboard docqet-old" in pruned.output


def test_only_dashboards_with_the_ownership_tag_are_candidates_for_prune(api: Any) -> None:
    register(api, {uid: live(m) for uid, m in MODELS.items()}, owned=[OLD])
    plan = make_plan(Grafana(URL, TOKEN), MODELS, FOLDER, "Docqet", prune=True, force=False)
    assert [(c.action, c.key) for c in plan.changes] == [("delete", "docqet-old")]  # not the built ones it found


@pytest.mark.parametrize("hit", [{"uid": "../../api/admin/users/1"}, {"title": "no uid"}, "docqet-old"])
def test_a_search_answer_that_is_not_dashboards_stops_before_any_write(hit: Any, api: Any) -> None:
    """A uid becomes a segment of the path that deletes the dashboard: one that is not a uid is refused."""
    register(api, {uid: live(m) for uid, m in MODELS.items()}, owned=[hit])
    result = publish("--prune")
    assert result.exit_code == 1
    assert ("cannot read the dashboards in Grafana: GET /api/search: the answer is not a list of dashboards with "
            "uids") in result.output
    assert writes(api) == []


@pytest.mark.parametrize("answer", [{"meta": {}}, [{"dashboard": {}}], {"dashboard": [1]},
                                    {"dashboard": {"version": 1}, "meta": []}])
def test_a_dashboard_answer_that_is_not_one_stops_before_any_write(answer: Any, api: Any) -> None:
    lives: dict[str, Any] = {uid: live(m) for uid, m in MODELS.items()}
    lives["docqet-overview"] = answer
    register(api, lives)
    result = publish()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert ("cannot read the dashboards in Grafana: GET /api/dashboards/uid/docqet-overview: the answer is not a "
            "dashboard with its meta") in result.output
    assert writes(api) == []


def test_a_live_dashboard_with_a_null_description_is_not_ours(api: Any) -> None:
    lives: dict[str, Any] = {uid: live(m) for uid, m in MODELS.items()}
    lives["docqet-overview"]["dashboard"]["description"] = None  # made by hand, with our uid
    register(api, lives)
    result = publish()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert ("conflict grafana dashboard docqet-overview: exists in Grafana but was not published by docqet-monitor"
            in result.output)
    assert "docqet-overview" not in " ".join(writes(api))


def test_search_pages_are_followed(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("docqet_monitor.dashboards.publish.SEARCH_PAGE_SIZE", 2)
    pages = [[{"uid": "a"}, {"uid": "b"}], [{"uid": "c"}]]
    for page, hits in enumerate(pages, start=1):
        api.add(responses.GET, f"{URL}/api/search", json=hits, match=[matchers.query_param_matcher(
            {"tag": "docqet-monitor", "type": "dash-db", "limit": "2", "page": str(page)})])
    assert [h["uid"] for h in Grafana(URL, TOKEN).owned()] == ["a", "b", "c"]


# --- plan and dry run -----------------------------------------------------------------------------


def plan_world(api: Any) -> None:
    lives = {uid: live(older_release(m)) for uid, m in MODELS.items() if uid != "docqet-qdrant"}
    lives["docqet-aws-cost"] = live(edited_in_ui(MODELS["docqet-aws-cost"]))
    register(api, lives, owned=[OLD])


PLAN_LINES = ["+ create grafana dashboard docqet-qdrant", "~ update grafana dashboard docqet-overview",
              "- delete grafana dashboard docqet-old", "! conflict grafana dashboard docqet-aws-cost: ",
              f"Plan: 1 to add, {len(MODELS) - 2} to change, 1 to destroy."]


@pytest.mark.parametrize("command", [["plan", "--prune"], ["publish", "--dry-run", "--prune"]])
def test_plan_and_dry_run_read_like_a_real_run_and_write_nothing(api: Any, command: list[str]) -> None:
    plan_world(api)
    result = run(*command)
    assert [c.request.method for c in api.calls if c.request.method != "GET"] == []
    for line in PLAN_LINES:
        assert line in result.output
    assert "created" not in result.output and "applied" not in result.output
    assert result.exit_code == 1  # the conflict would not be published


def test_plan_detailed_exitcode_and_json(api: Any) -> None:
    register(api, {uid: live(m) for uid, m in MODELS.items()})
    assert run("plan", "--detailed-exitcode").exit_code == 0
    api.calls.reset()
    api.replace(responses.GET, f"{URL}/api/dashboards/uid/docqet-qdrant", json={"message": "not found"}, status=404)
    result = run("plan", "--detailed-exitcode", "--output", "json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["summary"] == {"create": 1, "update": 0, "delete": 0}
    [change] = data["changes"]
    assert (change["target"], change["action"], change["kind"], change["key"]) == (
        "grafana", "create", "dashboard", "docqet-qdrant")
    assert change["desired"] == {"folderUid": FOLDER, "dashboard": MODELS["docqet-qdrant"]}


def test_plan_errors_exit_1_with_detailed_exitcode(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_world(api)
    assert run("plan", "--detailed-exitcode").exit_code == 1  # a conflict
    monkeypatch.delenv("GRAFANA_TOKEN")
    assert run("plan").exit_code == 2
    assert run("plan", "--detailed-exitcode").exit_code == 1  # 2 means "changes" there


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), [
    (401, "Grafana rejected the token (401 Unauthorized: invalid API key); check GRAFANA_TOKEN"),
    (403, "the token's service account is not allowed to do this (403 Forbidden: invalid API key); it needs the "
          "Editor role"),
])
def test_auth_failures_stop_with_a_clear_message(api: Any, caplog: pytest.LogCaptureFixture, status: int,
                                                 expected: str) -> None:
    api.add(responses.GET, f"{URL}/api/folders/{FOLDER}", json={"message": f"invalid API key {TOKEN}"},
            status=status)
    result = publish()
    assert result.exit_code == 1
    assert (f"Error: cannot read the dashboards in Grafana: GET /api/folders/{FOLDER}: "
            f"{expected.replace('invalid API key', 'invalid API key <redacted>')}") in result.output
    assert len(api.calls) == 1
    assert_no_token(result, caplog)


def test_a_server_error_stops_publishing_and_says_what_was_done(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    register(api, {}, post_status={"docqet-ecs-services": 502})
    result = publish()
    assert result.exit_code == 1
    assert ("! failed to create grafana dashboard docqet-ecs-services: POST /api/dashboards/db: 502 Bad Gateway: "
            "internal error") in result.output
    assert "+ created grafana dashboard docqet-aws-cost" in result.output
    assert "  not applied: create grafana dashboard docqet-overview" in result.output
    assert f"grafana: 2 change(s) applied, 1 failed, {len(MODELS) - 3} not attempted" in result.output
    assert_no_token(result, caplog)


def test_a_timeout_stops_publishing_with_a_clear_message(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    register(api, {})
    api.replace(responses.GET, f"{URL}/api/dashboards/uid/docqet-overview", body=requests.ReadTimeout("timed out"))
    result = publish()
    assert result.exit_code == 1
    assert ("Error: cannot read the dashboards in Grafana: GET /api/dashboards/uid/docqet-overview: Grafana did not "
            "answer within 10 s") in result.output
    assert writes(api) == []
    assert_no_token(result, caplog)


def test_an_unreachable_grafana_is_named(api: Any) -> None:
    api.add(responses.GET, f"{URL}/api/folders/{FOLDER}", body=requests.ConnectionError("refused"))
    result = publish()
    assert result.exit_code == 1 and f"cannot reach Grafana at {URL} (ConnectionError)" in result.output


def test_the_token_is_trimmed_and_one_no_header_can_carry_is_refused(api: Any, monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A token file's trailing newline (``GRAFANA_TOKEN=$(cat file)`` keeps none, a secret store may) is trimmed;
    a space or control character inside is refused before any request (exit 2), without showing the token:
    requests refused the header and it read "cannot reach Grafana"."""
    register(api, {}, folder=False)
    monkeypatch.setenv("GRAFANA_TOKEN", f" {TOKEN}\n")
    result = publish()
    assert result.exit_code == 0, result.output
    assert api.calls and all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in api.calls)
    for bad, kind, at in ((f"{TOKEN[:5]}\n{TOKEN[5:]}", "a line break", 6), (f"{TOKEN} x", "whitespace", 25),
                          (f"{TOKEN}\x7f", "a control character", 25), (f"{TOKEN}é", "a non-ASCII character", 25)):
        monkeypatch.setenv("GRAFANA_TOKEN", bad)
        calls = len(api.calls)
        result = publish()
        assert result.exit_code == 2 and len(api.calls) == calls
        assert (f"Error: $GRAFANA_TOKEN: expected a token of printable ASCII without spaces, got {kind} at character "
                f"{at} (the value is not shown)") in result.output
        assert TOKEN[5:] not in result.output and TOKEN[5:] not in caplog.text


def test_missing_url_or_token_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN")
    result = publish()
    assert result.exit_code == 2 and "Error: $GRAFANA_TOKEN is not set" in result.output
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    monkeypatch.delenv("GRAFANA_URL")
    result = publish()
    assert result.exit_code == 2 and "Error: no Grafana URL" in result.output and TOKEN not in result.output
    monkeypatch.setenv("GRAFANA_URL", "http://[::1")  # not a URL: refused before any request
    result = publish()
    assert result.exit_code == 2 and ("Error: $GRAFANA_URL: expected an http(s) URL (http://host[:port][/path]) "
                                      "without USER:PASSWORD@ (the token comes from the environment), got "
                                      "'http://[::1'") in result.output


def test_the_config_url_wins_over_the_environment(api: Any, tmp_path: Any) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("grafana:\n  url: https://grafana.configured\n  folder: Ops\n  folder_uid: ops\n")
    api.add(responses.GET, "https://grafana.configured/api/folders/ops", json={}, status=403)
    result = CliRunner().invoke(cli.main, ["--config", str(config), "dashboards", "publish"], catch_exceptions=False)
    assert result.exit_code == 1 and api.calls[0].request.url == "https://grafana.configured/api/folders/ops"


def test_live_model_drops_what_grafana_adds() -> None:
    model = MODELS["docqet-overview"]
    assert live_model(live(model)) == model


# --- the demo step ----------------------------------------------------------------------------------


def demo_context(lines: list[str], out_dir: Path) -> Any:
    from docqet_monitor.core.config import Config
    from docqet_monitor.demo.aws import DemoContext

    return DemoContext("http://127.0.0.1:1", Config(environment="staging"), echo=lines.append, out_dir=out_dir)


def test_the_demo_builds_the_dashboards_and_says_where(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from docqet_monitor.demo.dashboards import dashboards_step

    monkeypatch.delenv("GRAFANA_URL")
    lines: list[str] = []
    ctx = demo_context(lines, tmp_path)
    dashboards_step(ctx)
    out = ctx.extras["dashboards_dir"]
    assert sorted(p.stem for p in out.iterdir()) == sorted(MODELS)
    assert f"built for staging in {out}" in lines[0] and "set GRAFANA_URL and GRAFANA_TOKEN" in lines[1]
    assert out == tmp_path / "dashboards"


def test_the_demo_publishes_when_grafana_url_is_set(api: Any, caplog: pytest.LogCaptureFixture,
                                                    tmp_path: Path) -> None:
    from docqet_monitor.demo.dashboards import dashboards_step

    register(api, {}, folder=False)
    lines: list[str] = []
    dashboards_step(demo_context(lines, tmp_path))
    assert len(posts(api)) == len(MODELS)
    assert "+ created grafana dashboard docqet-overview" in lines
    assert lines[-1] == f"dashboards: published to {URL}: {len(MODELS) + 1} change(s) applied."
    assert all(TOKEN not in line for line in lines) and TOKEN not in caplog.text


def test_a_demo_publish_failure_is_reported_not_raised(api: Any, tmp_path: Path) -> None:
    from docqet_monitor.demo.dashboards import dashboards_step

    register(api, {}, folder=False)
    api.replace(responses.POST, f"{URL}/api/folders", json={"message": "nope"}, status=401)
    lines: list[str] = []
    dashboards_step(demo_context(lines, tmp_path))
    assert lines[-1].startswith(f"dashboards: not published: folder {FOLDER}: POST /api/folders: Grafana rejected "
                                "the token")


def test_a_bad_threshold_override_stops_the_demo_step_clearly(tmp_path: Path) -> None:
    from docqet_monitor.core.config import parse
    from docqet_monitor.demo.aws import DemoContext, DemoError
    from docqet_monitor.demo.dashboards import dashboards_step

    config = parse({"alerts": {"thresholds": {"NoSuchAlert": {"threshold": 1}}}}, "demo.yaml")
    with pytest.raises(DemoError, match=r"demo\.yaml: alerts\.thresholds\.NoSuchAlert: unknown alert"):
        dashboards_step(DemoContext("http://127.0.0.1:1", config, echo=print, out_dir=tmp_path))


def test_a_folder_title_taken_by_another_uid_is_explained(api: Any) -> None:
    register(api, {}, folder=False)
    api.replace(responses.POST, f"{URL}/api/folders", json={"message": "a folder with the same name already exists"},
                status=409)
    result = publish()
    assert result.exit_code == 1
    assert "a folder titled 'Docqet' exists with another uid than 'docqet-monitor'" in result.output
    assert writes(api) == [f"POST {URL}/api/folders"]  # and no dashboard


def test_a_folder_created_meanwhile_is_fine(api: Any) -> None:
    register(api, {}, folder=False)
    api.replace(responses.POST, f"{URL}/api/folders", json={"message": "exists"}, status=409)
    api.add(responses.GET, f"{URL}/api/folders/{FOLDER}", json={"uid": FOLDER}, status=200)  # the second GET
    result = publish()
    assert result.exit_code == 0, result.output
    assert len(posts(api)) == len(MODELS)
