"""Grafana as a backend of the plan engine (core.plan): the folder and the built dashboards, desired and live.

Each built dashboard is compared with the live one (``GET /api/dashboards/uid/{uid}``) after dropping what
Grafana adds (``id``, ``version``, ``meta``), its folder included: equal is unchanged; a live dashboard whose
content still matches the fingerprint docqet-monitor wrote into it is ours to update; anything else was edited
in Grafana (or was never ours) and is a *conflict*, left alone and reported unless ``force`` makes it ours
(saved with ``overwrite``). Dashboards tagged ``docqet-monitor`` that the code no longer builds are deleted only
with ``--prune``. Every save carries the live version, so a dashboard saved in Grafana since the plan read it
is refused (412) and never overwritten without ``force``.

The service-account token is only ever put in the ``Authorization`` header: never in messages, logs or
exceptions.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import requests

from docqet_monitor import __version__
from docqet_monitor.core import http, secrets
from docqet_monitor.core.config import GRAFANA_UID, TOKEN_URL_EXPECTED, GrafanaConfig, is_token_url
from docqet_monitor.core.errors import RunError, UsageError
from docqet_monitor.core.plan import Change, Desired, Live, Plan, diff
from docqet_monitor.core.yamlfile import short
from docqet_monitor.dashboards.build import fingerprint, recorded_fingerprint
from docqet_monitor.dashboards.style import TOOL_TAG

log = logging.getLogger(__name__)
SEARCH_PAGE_SIZE = 1000
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a Grafana answer (a dashboard, a search page) larger than this is refused
URL_ENV, TOKEN_ENV = "GRAFANA_URL", "GRAFANA_TOKEN"
MESSAGE = f"docqet-monitor {__version__}: dashboards as code"  # the version history entry of each save
TARGET = "grafana"
KINDS = ("folder", "dashboard")  # the folder is created before the dashboards in it


class GrafanaError(RunError):
    """A failed Grafana API call; the message names the call and what went wrong, never the token."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class GrafanaAuthError(GrafanaError):
    """401/403: nothing else can succeed with this token, so publishing stops."""


class GrafanaSettingsError(UsageError):
    """No usable Grafana URL or token (exit 2)."""


class Grafana:
    """A thin client for the few Grafana HTTP API calls publishing needs."""

    def __init__(self, url: str, token: str, timeout: float = 10.0, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session = session or http.session()
        secrets.register(token, secrets.url_password(url))

    def _call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              accept: Iterable[int] = ()) -> requests.Response:
        what = f"{method} {path}"
        try:
            resp = http.request(self._session, method, self.url + path, json=body, params=params,
                                deadline_seconds=self._timeout, max_bytes=MAX_RESPONSE_BYTES, service="grafana",
                                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"})
        except (requests.Timeout, http.DeadlineExceeded):
            raise GrafanaError(f"{what}: Grafana did not answer within {self._timeout:g} s") from None
        except http.ResponseTooLarge as exc:
            raise GrafanaError(f"{what}: {exc}") from None
        except requests.RequestException as exc:
            raise GrafanaError(f"{what}: cannot reach Grafana at {self.url} ({type(exc).__name__})") from None
        log.debug("grafana %s -> %s", what, resp.status_code)
        if resp.status_code < 300 or resp.status_code in accept:
            return resp
        raise self._error(what, resp)

    def _error(self, what: str, resp: requests.Response) -> GrafanaError:
        try:
            data = http.loads(resp.content)
        except (ValueError, http.TooDeep):
            data = {}
        data = data if isinstance(data, dict) else {}
        said = secrets.redact(str(data.get("message", ""))[:300])
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
        if resp.status_code == 404:
            return None
        answer = _json(resp)
        if not (isinstance(answer, dict) and isinstance(answer.get("dashboard"), dict)
                and isinstance(answer.get("meta", {}), dict)):
            raise GrafanaError(f"GET /api/dashboards/uid/{uid}: the answer is not a dashboard with its meta",
                               resp.status_code)
        return answer

    def save(self, model: dict[str, Any], folder_uid: str, overwrite: bool, message: str) -> dict[str, Any]:
        body = {"dashboard": model, "folderUid": folder_uid, "overwrite": overwrite, "message": message}
        return _json(self._call("POST", "/api/dashboards/db", body=body))

    def owned(self, tag: str = TOOL_TAG) -> list[dict[str, Any]]:
        """Every dashboard carrying the ownership tag (search hits: uid, title, url, folderUid...)."""
        hits: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = _json(self._call("GET", "/api/search", params={"tag": tag, "type": "dash-db",
                                                                   "limit": SEARCH_PAGE_SIZE, "page": page}))
            if not isinstance(batch, list) or not all(isinstance(h, Mapping) and isinstance(h.get("uid"), str)
                                                      and re.fullmatch(GRAFANA_UID, h["uid"], re.ASCII) for h in batch):
                raise GrafanaError("GET /api/search: the answer is not a list of dashboards with uids (a uid becomes "
                                   "a segment of the paths that delete them)")
            hits += batch
            if len(batch) < SEARCH_PAGE_SIZE:
                return hits
            page += 1

    def delete(self, uid: str) -> None:
        self._call("DELETE", f"/api/dashboards/uid/{uid}")


def _json(resp: requests.Response) -> Any:
    """A Grafana answer's JSON (depth-capped); GrafanaError when it is not JSON."""
    try:
        return http.loads(resp.content)
    except (ValueError, http.TooDeep) as exc:
        raise GrafanaError(f"{resp.request.method} {resp.request.path_url}: HTTP {resp.status_code} is not usable "
                           f"JSON ({str(exc)[:80] or type(exc).__name__})", resp.status_code) from None


def connect(settings: GrafanaConfig, environ: Mapping[str, str] = os.environ) -> Grafana:
    """A client for ``grafana.url`` (else ``$GRAFANA_URL``) with the token from ``$GRAFANA_TOKEN``."""
    url = settings.url or environ.get(URL_ENV, "")
    if not url.startswith(("http://", "https://")):
        raise GrafanaSettingsError(f"no Grafana URL: set grafana.url in the config or ${URL_ENV} (http(s)://...), "
                                   f"got {short(secrets.without_password(url))}")
    if not is_token_url(url):
        raise GrafanaSettingsError(f"${URL_ENV}: expected {TOKEN_URL_EXPECTED}, got "
                                   f"{short(secrets.without_password(url))}")
    try:
        token = secrets.env_token(environ, TOKEN_ENV)
    except ValueError as exc:
        raise GrafanaSettingsError(f"${TOKEN_ENV}: {exc}") from None
    if not token:
        raise GrafanaSettingsError(f"${TOKEN_ENV} is not set: a Grafana service-account token (Editor role)")
    return Grafana(url, token, timeout=settings.timeout_seconds)


# --- desired and live (pure) ---------------------------------------------------------------------


def live_model(live: Mapping[str, Any]) -> dict[str, Any]:
    """The live dashboard as we build it: without the ``id`` and ``version`` Grafana assigns (and ``meta``)."""
    return {k: v for k, v in live["dashboard"].items() if k not in ("id", "version")}


def desired(models: Mapping[str, dict[str, Any]], folder_uid: str, folder_title: str) -> list[Desired]:
    """The folder and one dashboard (model and folder) per built model."""
    return [Desired(folder_uid, "folder", {"title": folder_title}),
            *(Desired(uid, "dashboard", {"folderUid": folder_uid, "dashboard": model})
              for uid, model in models.items())]


def edited(current: Mapping[str, Any], meta: Mapping[str, Any], version: int | None) -> str:
    """Why a live dashboard is not ours to overwrite ("" when docqet-monitor published it and nobody edited it)."""
    recorded = recorded_fingerprint(current)
    if recorded is None:
        return "exists in Grafana but was not published by docqet-monitor"
    if recorded != fingerprint(current):
        who = f" by {meta['updatedBy']}" if meta.get("updatedBy") else ""
        return f"edited in Grafana{who} since docqet-monitor published it (version {version})"
    return ""


def live_dashboard(uid: str, answer: Mapping[str, Any], force: bool) -> Live:
    """A dashboard read from Grafana; not ours to change when edited there, unless ``force``."""
    current, meta = live_model(answer), answer.get("meta", {})
    version = answer["dashboard"].get("version")
    why = edited(current, meta, version)
    note = why and why + ("; --force overwrites it" if force else "; rerun with --force to overwrite")
    return Live(uid, "dashboard", {"folderUid": meta.get("folderUid", ""), "dashboard": current},
                owned=force or not why, ref=version, note=note)


def stale_dashboard(hit: Mapping[str, Any]) -> Live:
    """A dashboard with the ownership tag (a search hit) that the code no longer builds: ours to delete."""
    return Live(hit["uid"], "dashboard", {}, owned=True)


# --- the target: plan (reads) and backend (writes) ------------------------------------------------


def make_plan(grafana: Grafana, models: Mapping[str, dict[str, Any]], folder_uid: str, folder_title: str, *,
              prune: bool, force: bool) -> Plan:
    """Read the folder, each built dashboard and the tagged ones, then diff (lists compare in order)."""
    found: list[Live] = []
    try:
        if grafana.folder_exists(folder_uid):  # its title is not ours to change
            found.append(Live(folder_uid, "folder", {"title": folder_title}, owned=True))
        for uid in models:
            answer = grafana.dashboard(uid)
            if answer is not None:
                found.append(live_dashboard(uid, answer, force))
        found += [stale_dashboard(hit) for hit in grafana.owned() if hit["uid"] not in models]
    except GrafanaError as exc:
        raise type(exc)(f"cannot read the dashboards in Grafana: {exc}", exc.status, exc.reason) from None
    return diff(TARGET, desired(models, folder_uid, folder_title), found, prune, KINDS, ordered=True,
                clash="report")


class Publisher:
    """Writes a Grafana plan: the folder (409 = it exists), dashboards with the live version, deletes."""

    delete_batch = 1

    def __init__(self, grafana: Grafana, force: bool = False, message: str = MESSAGE) -> None:
        self.grafana, self.force, self.message = grafana, force, message

    def create(self, change: Change) -> None:
        if change.kind == "folder":
            self.grafana.create_folder(change.key, (change.desired or {})["title"])
        else:
            self._save(change)

    def update(self, change: Change) -> None:
        self._save(change)

    def delete(self, changes: Sequence[Change]) -> None:
        for change in changes:
            self.grafana.delete(change.key)

    def _save(self, change: Change) -> None:
        """POST one dashboard; the live version makes Grafana refuse (412) if it was saved since we read it."""
        wanted = change.desired or {}
        body = dict(wanted["dashboard"])
        if change.live is not None and change.live.ref is not None:
            body["version"] = change.live.ref
        try:
            self.grafana.save(body, wanted["folderUid"], overwrite=self.force, message=self.message)
        except GrafanaError as exc:
            if exc.status != 412:
                raise
            why = f"; status {exc.reason}" if exc.reason else ""  # version-mismatch: saved in Grafana meanwhile
            raise GrafanaError(f"Grafana refused the save: {exc}{why}; rerun to see the change, or with --force "
                               "to overwrite", 412, exc.reason) from None
