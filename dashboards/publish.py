"""Publish the built dashboards to Grafana over its HTTP API: plan (pure) then apply (writes).

The plan compares each built dashboard with the live one (``GET /api/dashboards/uid/{uid}``) after
dropping what Grafana adds (``id``, ``version``, ``meta``): equal and in the right folder is *unchanged*;
a live dashboard whose content still matches the fingerprint docqet-monitor wrote into it is *update*;
anything else was edited in Grafana (or was never ours) and is a *conflict*, overwritten only with
``force``. Dashboards tagged ``docqet-monitor`` that the code no longer builds are *stale*, deleted only
with ``prune``. A dry run reads exactly as a real run does and skips every write.

The service-account token is only ever put in the ``Authorization`` header: never in messages, logs or
exceptions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests

from docqet_monitor import __version__
from docqet_monitor.core.config import GrafanaConfig
from docqet_monitor.dashboards.build import fingerprint, recorded_fingerprint
from docqet_monitor.dashboards.style import TOOL_TAG

log = logging.getLogger(__name__)
SEARCH_PAGE_SIZE = 1000
URL_ENV, TOKEN_ENV = "GRAFANA_URL", "GRAFANA_TOKEN"
MESSAGE = f"docqet-monitor {__version__}: dashboards as code"  # the version history entry of each save
Action = Literal["create", "update", "unchanged", "conflict", "stale"]


class GrafanaError(Exception):
    """A failed Grafana API call; the message names the call and what went wrong, never the token."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class GrafanaAuthError(GrafanaError):
    """401/403: nothing else can succeed with this token, so publishing stops."""


class GrafanaSettingsError(ValueError):
    """No usable Grafana URL or token."""


class Grafana:
    """A thin client for the few Grafana HTTP API calls publishing needs."""

    def __init__(self, url: str, token: str, timeout: float = 10.0, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = session or requests.Session()

    def _call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              accept: Iterable[int] = ()) -> requests.Response:
        what = f"{method} {path}"
        try:
            resp = self._session.request(method, self.url + path, json=body, params=params, timeout=self._timeout,
                                         headers={"Authorization": f"Bearer {self._token}",
                                                  "Accept": "application/json"})
        except requests.Timeout:
            raise GrafanaError(f"{what}: Grafana did not answer within {self._timeout:g} s") from None
        except requests.RequestException as exc:
            raise GrafanaError(f"{what}: cannot reach Grafana at {self.url} ({type(exc).__name__})") from None
        log.debug("grafana %s -> %s", what, resp.status_code)
        if resp.status_code < 300 or resp.status_code in accept:
            return resp
        raise self._error(what, resp)

    def _error(self, what: str, resp: requests.Response) -> GrafanaError:
        try:
            data = resp.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        said = str(data.get("message", ""))[:300]
        if self._token:
            said = said.replace(self._token, "***")
        detail = f"{resp.status_code} {resp.reason}" + (f": {said}" if said else "")
        if resp.status_code == 401:
            return GrafanaAuthError(f"{what}: Grafana rejected the token ({detail}); check GRAFANA_TOKEN", 401)
        if resp.status_code == 403:
            return GrafanaAuthError(f"{what}: the token's service account is not allowed to do this ({detail}); "
                                    "it needs the Editor role (or dashboards:write and folders:create)", 403)
        return GrafanaError(f"{what}: {detail}", resp.status_code, str(data.get("status", "")))

    def folder_exists(self, uid: str) -> bool:
        return self._call("GET", f"/api/folders/{uid}", accept=(404,)).status_code != 404

    def create_folder(self, uid: str, title: str) -> bool:
        """Create the folder; False when it already exists (409 and found by its uid)."""
        if self._call("POST", "/api/folders", body={"uid": uid, "title": title}, accept=(409,)).status_code != 409:
            return True
        if not self.folder_exists(uid):
            raise GrafanaError(f"POST /api/folders: 409 Conflict: a folder titled {title!r} exists with another uid "
                               f"than {uid!r}; set grafana.folder_uid to its uid or grafana.folder to another title",
                               409)
        return False

    def dashboard(self, uid: str) -> dict[str, Any] | None:
        """``{"dashboard": ..., "meta": ...}`` of the live dashboard, None when there is none."""
        resp = self._call("GET", f"/api/dashboards/uid/{uid}", accept=(404,))
        return None if resp.status_code == 404 else resp.json()

    def save(self, model: dict[str, Any], folder_uid: str, overwrite: bool, message: str) -> dict[str, Any]:
        body = {"dashboard": model, "folderUid": folder_uid, "overwrite": overwrite, "message": message}
        return self._call("POST", "/api/dashboards/db", body=body).json()

    def owned(self, tag: str = TOOL_TAG) -> list[dict[str, Any]]:
        """Every dashboard carrying the ownership tag (search hits: uid, title, url, folderUid...)."""
        hits: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._call("GET", "/api/search", params={"tag": tag, "type": "dash-db",
                                                             "limit": SEARCH_PAGE_SIZE, "page": page}).json()
            hits += batch
            if len(batch) < SEARCH_PAGE_SIZE:
                return hits
            page += 1

    def delete(self, uid: str) -> None:
        self._call("DELETE", f"/api/dashboards/uid/{uid}")


def connect(settings: GrafanaConfig, environ: Mapping[str, str] = os.environ) -> Grafana:
    """A client for ``grafana.url`` (else ``$GRAFANA_URL``) with the token from ``$GRAFANA_TOKEN``."""
    url = settings.url or environ.get(URL_ENV, "")
    token = environ.get(TOKEN_ENV, "")
    if not url.startswith(("http://", "https://")):
        raise GrafanaSettingsError(f"no Grafana URL: set grafana.url in the config or ${URL_ENV} (http(s)://...), "
                                   f"got {url!r}")
    if not token:
        raise GrafanaSettingsError(f"${TOKEN_ENV} is not set: a Grafana service-account token (Editor role)")
    return Grafana(url, token, timeout=settings.timeout_seconds)


# --- the plan (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    uid: str
    title: str
    action: Action
    detail: str = ""
    live_version: int | None = None


def live_model(live: Mapping[str, Any]) -> dict[str, Any]:
    """The live dashboard as we build it: without the ``id`` and ``version`` Grafana assigns (and ``meta``)."""
    return {k: v for k, v in live["dashboard"].items() if k not in ("id", "version")}


def _compare(uid: str, model: dict[str, Any], live: Mapping[str, Any] | None, folder_uid: str) -> Step:
    title = model["title"]
    if live is None:
        return Step(uid, title, "create")
    current, meta = live_model(live), live.get("meta", {})
    version = live["dashboard"].get("version")
    moved = meta.get("folderUid", "") != folder_uid
    if current == model and not moved:
        return Step(uid, title, "unchanged", live_version=version)
    if recorded_fingerprint(current) is None:
        return Step(uid, title, "conflict", "exists in Grafana but was not published by docqet-monitor", version)
    if recorded_fingerprint(current) != fingerprint(current):
        who = f" by {meta['updatedBy']}" if meta.get("updatedBy") else ""
        return Step(uid, title, "conflict", f"edited in Grafana{who} since docqet-monitor published it "
                                            f"(version {version})", version)
    return Step(uid, title, "update", "moved to the folder" if current == model else "changed in the code", version)


def plan(models: Mapping[str, dict[str, Any]], live: Mapping[str, Mapping[str, Any] | None],
         owned: Iterable[Mapping[str, Any]], folder_uid: str) -> list[Step]:
    """What publishing would do: one step per built dashboard, then one per stale owned dashboard."""
    steps = [_compare(uid, model, live.get(uid), folder_uid) for uid, model in models.items()]
    steps += [Step(hit["uid"], hit.get("title", ""), "stale", "no longer built by the code")
              for hit in sorted(owned, key=lambda h: h["uid"]) if hit["uid"] not in models]
    return steps


# --- applying it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    step: Step
    outcome: str  # created, updated, overwritten, unchanged, conflict, stale, deleted, failed (+ "would ...")
    url: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome not in ("conflict", "failed")


def _write(grafana: Grafana, step: Step, model: dict[str, Any], folder_uid: str, force: bool,
           message: str) -> tuple[str, str]:
    """POST one dashboard; the live version makes Grafana refuse (412) if it changed since we read it."""
    body = dict(model)
    if step.live_version is not None:
        body["version"] = step.live_version
    try:
        grafana.save(body, folder_uid, overwrite=force, message=message)
    except GrafanaError as exc:
        if exc.status != 412:
            raise
        why = f"; status {exc.reason}" if exc.reason else ""  # version-mismatch: saved in Grafana meanwhile
        return "conflict", f"Grafana refused the save: {exc}{why}; rerun with --force to overwrite"
    done = {"create": "created", "update": "updated", "conflict": "overwritten"}[step.action]
    return done, step.detail


def publish(grafana: Grafana, models: Mapping[str, dict[str, Any]], folder_uid: str, folder_title: str, *,
            message: str, force: bool = False, prune: bool = False, dry_run: bool = False,
            on_result: Callable[[Result], None] = lambda _: None) -> tuple[str, list[Result]]:
    """Sync ``models`` into the folder; returns the folder outcome and one result per step.

    401/403 stop everything (:class:`GrafanaAuthError`); other failures are reported per dashboard.
    """
    if dry_run:
        folder = "exists" if grafana.folder_exists(folder_uid) else "would create"
    else:
        folder = "created" if grafana.create_folder(folder_uid, folder_title) else "exists"
    live = {uid: grafana.dashboard(uid) for uid in models}
    results = []
    for step in plan(models, live, grafana.owned(), folder_uid):
        result = _apply(grafana, step, models, folder_uid, message=message, force=force, prune=prune,
                        dry_run=dry_run)
        on_result(result)
        results.append(result)
    return folder, results


def _apply(grafana: Grafana, step: Step, models: Mapping[str, dict[str, Any]], folder_uid: str, *, message: str,
           force: bool, prune: bool, dry_run: bool) -> Result:
    url = f"{grafana.url}/d/{step.uid}"
    if step.action == "unchanged":
        return Result(step, "unchanged", url)
    if step.action == "conflict" and not force:
        return Result(step, "conflict", url, f"{step.detail}; rerun with --force to overwrite")
    if step.action == "stale" and not prune:
        return Result(step, "stale", url, f"{step.detail}; rerun with --prune to delete")
    if dry_run:
        verb = {"create": "create", "update": "update", "conflict": "overwrite", "stale": "delete"}[step.action]
        return Result(step, f"would {verb}", url, step.detail)
    try:
        if step.action == "stale":
            grafana.delete(step.uid)
            return Result(step, "deleted", url, step.detail)
        outcome, detail = _write(grafana, step, models[step.uid], folder_uid, force, message)
    except GrafanaAuthError:
        raise
    except GrafanaError as exc:
        return Result(step, "failed", url, str(exc))
    return Result(step, outcome, url, detail)


SYMBOLS = {"created": "+", "updated": "~", "overwritten": "!", "deleted": "-", "unchanged": "=", "stale": "-",
           "conflict": "!", "failed": "x"}


def line(result: Result) -> str:
    """One output line: symbol, outcome, uid, URL and why."""
    symbol = SYMBOLS.get(result.outcome, "*")  # "*": a dry run's "would ..."
    detail = f"  ({result.detail})" if result.detail else ""
    return f"  {symbol} {result.outcome:<16} {result.step.uid:<26} {result.url}{detail}"


def summary(folder: str, results: Iterable[Result]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return f"Folder {folder}. Dashboards: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) + "."
