"""What botocore keeps once per client, kept once per AWS service instead.

An exporter over 20 accounts x 3 regions holds about 700 clients (one per account, region and AWS service).
botocore gives each of them its own parsed service model, its own client class (a method and a docstring object
per operation) and its own copy of every event handler of its session, for 36 services: about 0.3 MB a client.
Everything the :class:`~core.aws.Aws` sessions load comes from one process-wide data loader (:func:`loader`), so
what is built from it is the same for every client of one service:

- :func:`install` makes botocore build one service model and one client class per service of that loader and
  hand them to every client (clients made from another loader, e.g. a test's own session, are left alone), and
  keeps more resolved endpoints: botocore keeps 100 for all clients together, which S3's endpoints (one per
  bucket) and 700 clients evict long before they are asked again;
- :func:`prune_events` drops from a client's event handlers those registered for other services only: no event
  that client emits can reach them;
- :func:`share_tls` gives a client's HTTPS connections the process's TLS context, its CA bundle loaded once:
  botocore makes one per client, each holds its own copy of the bundle once it has connected (about 0.7 MB: about
  490 MB for 700), and urllib3 loads the bundle into it again for every new connection (about 20 ms of CPU).

They rest on botocore internals (``ClientCreator``, the emitter's trie, the endpoint provider's cache, the HTTP
session's pool manager);
``tests/test_botoshare.py`` proves them on the botocore installed.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from botocore import loaders, utils
from botocore.client import ClientCreator
from botocore.endpoint_provider import EndpointProvider
from botocore.httpsession import create_urllib3_context, get_cert_path

ENDPOINT_CACHE_SIZE = 4096  # resolved endpoints kept for all clients (20 accounts x 3 regions: about 2,100)
_lock = threading.Lock()
_models: dict[tuple[str, str | None], Any] = {}
_classes: dict[str, type] = {}


@functools.cache
def loader() -> loaders.Loader:
    """The process's one botocore data loader (service models, endpoint rules): the files never change while it
    runs, and each session's own loader would parse and keep its own copy (about 25 MB each)."""
    return loaders.create_loader()


@functools.cache
def install() -> None:
    """Share service models and client classes among the clients of :func:`loader`, and keep
    :data:`ENDPOINT_CACHE_SIZE` resolved endpoints (once per process)."""
    load_model, make_class = ClientCreator._load_service_model, ClientCreator._create_client_class

    def shared_model(self: ClientCreator, service_name: str, api_version: str | None = None) -> Any:
        if self._loader is not loader():
            return load_model(self, service_name, api_version)
        with _lock:
            key = (service_name, api_version)
            if key not in _models:
                _models[key] = load_model(self, service_name, api_version)
            return _models[key]

    def shared_class(self: ClientCreator, service_name: str, service_model: Any) -> type:
        if self._loader is not loader():
            return make_class(self, service_name, service_model)
        with _lock:
            if service_name not in _classes:
                _classes[service_name] = make_class(self, service_name, service_model)
            return _classes[service_name]

    ClientCreator._load_service_model = shared_model  # type: ignore[method-assign]
    ClientCreator._create_client_class = shared_class  # type: ignore[method-assign]
    resolve = EndpointProvider._resolve_endpoint.__wrapped__  # botocore's function, under its 100-entry cache
    EndpointProvider._resolve_endpoint = utils.lru_cache_weakref(maxsize=ENDPOINT_CACHE_SIZE)(resolve)


def prune_events(client: Any) -> None:
    """Drop the handlers of ``client`` registered for other services only (pure in effect: the handlers called
    for any event it emits, ``<event>.<its service id>[.<operation>]``, stay the same, in the same order)."""
    emitter = client.meta.events._emitter
    own = client.meta.service_model.service_id.hyphenize()
    for node in emitter._handlers._root["children"].values():
        node["children"] = {chunk: child for chunk, child in node["children"].items() if chunk in ("*", own)}
    emitter._lookup_cache = {}


@functools.cache
def _tls_context(verify: bool | str) -> Any:
    """The process's TLS context for botocore's ``verify`` setting, with its CA bundle loaded (once)."""
    context = create_urllib3_context()
    if verify:
        context.load_verify_locations(get_cert_path(verify))
    return context


def share_tls(client: Any) -> None:
    """Make ``client``'s HTTPS connections use the process's TLS context for its ``verify`` setting (True, False or
    a CA bundle's path) instead of a context of its own, into which urllib3 would load the CA bundle again for
    each new connection (about 20 ms of CPU for the 144 certificates of the system's bundle). Verification is
    unchanged: the same certificates, required as before. A client with a client certificate (loaded into its
    context) keeps its own, and connections through a proxy keep botocore's."""
    session = client._endpoint.http_session
    if session._cert_file is not None:
        return
    session._manager.connection_pool_kw["ssl_context"] = _tls_context(session._verify)
    setup = session._setup_ssl_cert

    def setup_ssl_cert(conn: Any, url: str, verify: bool | str) -> None:
        setup(conn, url, verify)  # sets the certificates required, and the bundle to load ...
        conn.ca_certs = None  # ... which the shared context already holds
    session._setup_ssl_cert = setup_ssl_cert
