"""What botocore keeps once per client or session, kept once per AWS service or process instead.

An exporter over 20 accounts x 3 regions holds about 700 clients (one per account, region and AWS service) in 60
sessions (one per account and region). botocore gives each client its own parsed service model, client class (a
method and a docstring object per operation), endpoint rules, TLS context and copy of every event handler of its
session (for 36 services), and each session its own loaded models and exception classes: about 0.45 MB a client.
What is built from the same models is the same for every client of one service, so:

- :func:`install` (once per process) makes botocore build one service model and one client class per service for
  the clients of :func:`loader` (clients of another loader, e.g. a test's own session, are left alone), and
  keeps more resolved endpoints: botocore keeps 100 for all clients together, which S3's endpoints (one per
  bucket) and 700 clients evict long before they are asked again;
- :func:`equip` gives a session the process's data loader and exception classes;
- :func:`adopt` gives a client of such a session its service's endpoint rules, the process's TLS context and
  only its own service's event handlers (:func:`prune_events`, :func:`share_tls`).

They rest on botocore internals (``ClientCreator``, the emitter's trie, the endpoint provider and its cache, the
HTTP session's pool manager, the session's internal components); ``tests/test_botoshare.py`` proves them on the
botocore installed.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from botocore import loaders, utils
from botocore.client import ClientCreator
from botocore.endpoint_provider import EndpointProvider
from botocore.errorfactory import ClientExceptionsFactory
from botocore.httpsession import create_urllib3_context, get_cert_path

ENDPOINT_CACHE_SIZE = 4096  # resolved endpoints kept for all clients (20 accounts x 3 regions: about 2,100)
_lock = threading.Lock()
_models: dict[tuple[str, str | None], Any] = {}
_classes: dict[str, type] = {}
_endpoint_rules: dict[str, EndpointProvider] = {}


class _Loader(loaders.Loader):
    """botocore's data loader, with the service models' documentation emptied once loaded (about a fifth of their
    memory; it only ever makes docstrings; the keys stay, botocore reads some of them)."""

    def __init__(self, data_path: str | None = None) -> None:
        # as botocore's own loaders.create_loader: $AWS_DATA_PATH's folders are searched before botocore's data
        super().__init__(extra_search_paths=[os.path.expanduser(os.path.expandvars(path))
                                             for path in data_path.split(os.pathsep)] if data_path else None)
        self._undocumented: set[int] = set()  # the models (cached by botocore, never freed) already left out

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)  # cached by botocore
        if type_name == "service-2" and id(model) not in self._undocumented:
            _drop_documentation(model)
            self._undocumented.add(id(model))
        return model


def _drop_documentation(node: Any) -> None:
    if isinstance(node, dict):
        for key in ("documentation", "documentationUrl"):
            if key in node:
                node[key] = ""
        for value in node.values():
            _drop_documentation(value)
    elif isinstance(node, list):
        for value in node:
            _drop_documentation(value)


@functools.cache
def loader() -> loaders.Loader:
    """The process's one botocore data loader (service models, endpoint rules): the files never change while it
    runs, and each session's own loader would parse and keep its own copy (about 25 MB each). It searches
    ``$AWS_DATA_PATH`` first, as a session's own loader would."""
    return _Loader(os.environ.get("AWS_DATA_PATH"))


@functools.cache
def _exceptions() -> ClientExceptionsFactory:
    return ClientExceptionsFactory()  # the clients' exception classes, made once per service


def equip(session: Any) -> None:
    """Give a botocore session (before it makes a client) the process's data loader and exception classes."""
    session.register_component("data_loader", loader())
    session._internal_components.register_component("exceptions_factory", _exceptions())


def adopt(client: Any) -> None:
    """Give ``client`` (made by a session given to :func:`equip`) what it may share with every client of its
    service: the endpoint rules, the TLS context, and only its own service's event handlers."""
    prune_events(client)
    share_tls(client)
    resolver = client._ruleset_resolver
    if resolver is not None:  # the endpoint rules, parsed into objects for each client (S3's: over 1,000 rules)
        own = resolver._provider
        resolver._provider = _once(_endpoint_rules, client.meta.service_model.service_name, lambda: own)


def _once(cache: dict[Any, Any], key: Any, make: Callable[[], Any]) -> Any:
    """``cache[key]``, made by ``make()`` the first time (under the module's lock)."""
    with _lock:
        if key not in cache:
            cache[key] = make()
        return cache[key]


@functools.cache
def install() -> None:
    """Share service models and client classes among the clients of :func:`loader`, and keep
    :data:`ENDPOINT_CACHE_SIZE` resolved endpoints (once per process)."""
    load_model, make_class = ClientCreator._load_service_model, ClientCreator._create_client_class

    def shared_model(self: ClientCreator, service_name: str, api_version: str | None = None) -> Any:
        make = functools.partial(load_model, self, service_name, api_version)
        return _once(_models, (service_name, api_version), make) if self._loader is loader() else make()

    def shared_class(self: ClientCreator, service_name: str, service_model: Any) -> type:
        make = functools.partial(make_class, self, service_name, service_model)
        return _once(_classes, service_name, make) if self._loader is loader() else make()

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
