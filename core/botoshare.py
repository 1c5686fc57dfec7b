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
  that client emits can reach them.

They rest on botocore internals (``ClientCreator``, the emitter's trie, the endpoint provider's cache);
``tests/test_botoshare.py`` proves them on the botocore installed.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from botocore import loaders, utils
from botocore.client import ClientCreator
from botocore.endpoint_provider import EndpointProvider

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
