"""An emulated Kubernetes API server for running the real operator against, over HTTP.

It builds on kmock 0.8's scaffold (discovery, Kubernetes-shaped errors, the log
of requests in ``.requests``) and replaces its object store, whose gaps stop a
Kopf operator (see DESIGN.md): objects get a uid, resourceVersion, generation
and creationTimestamp; LIST carries a usable resourceVersion and WATCH replays
from it; a watch subscribes before it takes its snapshot; the status
subresource is kept apart from the rest; PUT, generateName, label and field
selectors, merge and JSON patches (a failed ``test`` is a 422) and the
namespaces kind (``/api/v1/namespaces``) work; an injected fault answers
*instead of* the write, as a real server would.

What it does not do, on purpose: garbage collection, controllers, CRD schema
validation, RBAC, compaction of the event history (so never a 410 Gone). Tests
check those properties by other means. Admission webhooks are not built in; a
test may add one to ``admission`` (a function that answers a refusal, or None).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import kmock

from support.merge_patch import merged

KMOCK_VERSION = "0.8"  # the gaps fixed here are those of this version
assert kmock.__version__.startswith(KMOCK_VERSION), kmock.__version__

T = TypeVar("T")
Obj = dict[str, Any]
Key = tuple[str, str, str | None, str]  # (group/version, plural, namespace, name)


@dataclass(frozen=True)
class Kind:
    """A resource the emulator serves."""

    group_version: str  # "apps/v1", "v1"
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


BUILTIN_KINDS = (
    Kind("v1", "namespaces", "Namespace", namespaced=False, status_subresource=True),
    Kind("v1", "events", "Event"),
    Kind("v1", "secrets", "Secret"),
    Kind("v1", "services", "Service", status_subresource=True),
    Kind("v1", "pods", "Pod", status_subresource=True),
    Kind("apps/v1", "deployments", "Deployment", status_subresource=True),
    Kind("batch/v1", "jobs", "Job", status_subresource=True),
    Kind("batch/v1", "cronjobs", "CronJob", status_subresource=True),
    Kind("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, True),
    Kind("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True, True),
    Kind("events.k8s.io/v1", "events", "Event"),
    Kind("coordination.k8s.io/v1", "leases", "Lease"),
)


@dataclass
class Fault:
    """An error the server answers with instead of serving matching requests."""

    method: str  # GET, POST, PATCH, PUT, DELETE; "WATCH" for watch requests
    plural: str
    status: int
    times: int = 1
    retry_after: int | None = None
    subresource: str | None = None
    served: int = 0


@dataclass
class _Watch:
    kind: Kind
    namespace: str | None
    selector: Callable[[Obj], bool]
    queue: asyncio.Queue[Obj | None] = field(default_factory=asyncio.Queue)


# A validating admission webhook: (operation CREATE or UPDATE, the object, the emulator)
# to the message it refuses the write with, or None when it admits it.
Admission = Callable[[str, "Obj", "KubernetesApiEmulator"], "str | None"]


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@attrs.define(kw_only=True)
class KubernetesApiEmulator(kmock.KubernetesScaffold):  # type: ignore[misc]
    """kmock's Kubernetes scaffold with an object store that behaves like the API server."""

    _kinds: dict[tuple[str, str], Kind] = attrs.field(factory=dict, init=False)
    _objects: dict[Key, Obj] = attrs.field(factory=dict, init=False)
    _events: list[tuple[int, Kind, Obj]] = attrs.field(factory=list, init=False)
    _watches: list[_Watch] = attrs.field(factory=list, init=False)
    _rv: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _last_rv: int = attrs.field(default=0, init=False)
    faults: list[Fault] = attrs.field(factory=list, init=False)
    admission: list[Admission] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for kind in BUILTIN_KINDS:
            self.register(kind)

    # --- setup ----------------------------------------------------------------

    def register(self, kind: Kind) -> None:
        """Serve a resource, with discovery."""
        self._kinds[kind.group_version, kind.plural] = kind
        self.resources[f"{kind.group_version}/{kind.plural}"] = kmock.ResourceInfo(
            kind=kind.kind,
            namespaced=kind.namespaced,
            singular=kind.kind.lower(),
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            shortnames=set(kind.short_names),
            categories=set(kind.categories),
            subresources={"status"} if kind.status_subresource else set(),
        )

    def register_crd(self, crd: Obj) -> None:
        """Serve the custom resource a CustomResourceDefinition describes."""
        spec = crd["spec"]
        for version in spec["versions"]:
            self.register(
                Kind(
                    group_version=f"{spec['group']}/{version['name']}",
                    plural=spec["names"]["plural"],
                    kind=spec["names"]["kind"],
                    namespaced=spec["scope"] == "Namespaced",
                    status_subresource="status" in version.get("subresources", {}),
                    short_names=tuple(spec["names"].get("shortNames", [])),
                    categories=tuple(spec["names"].get("categories", [])),
                )
            )

    # --- direct access for tests (call on the server's loop) -----------------------

    def objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(obj)
            for (_, p, ns, _), obj in self._objects.items()
            if p == plural and (namespace is None or ns == namespace)
        ]

    def drop_watches(self) -> None:
        """End every open watch stream, as an API server restart or a proxy timeout does."""
        for watch in self._watches:
            watch.queue.put_nowait(None)

    @property
    def requests(self) -> list[kmock.Request]:
        """Every HTTP request served so far, oldest first (watch requests included)."""
        return list(self._requests)

    @property
    def watching(self) -> bool:
        """Whether a watch stream is open."""
        return bool(self._watches)

    def store(self, body: Obj) -> Obj:
        """Create an object as a client's POST would, without an HTTP request."""
        return self._create(self._kind_of(body["apiVersion"], body["kind"]), None, body)

    def patch_status(self, obj: Obj, status: Obj) -> Obj:
        """Merge `status` into the status of the stored `obj`, as its controller would."""
        kind = self._kind_of(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        key = (kind.group_version, kind.plural, meta.get("namespace"), meta["name"])
        return self._patch(kind, key, {"status": status}, "application/merge-patch+json", "status")

    def _kind_of(self, api_version: str, kind_name: str) -> Kind:
        for kind in self._kinds.values():
            if (kind.group_version, kind.kind) == (api_version, kind_name):
                return kind
        raise KeyError(f"{kind_name} of {api_version} is not served: register it or its CRD")

    # --- serving --------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        match = _NAMESPACES_PATH.match(raw_request.path)
        if match is None:
            return await super().__call__(raw_request)
        # kmock cannot parse /api/v1/namespaces[/NAME] (it reads a namespace prefix there).
        body = await raw_request.read()
        request = kmock.Request(
            id=len(self._requests),
            method=raw_request.method,
            url=raw_request.url,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            body=body,
            data=json.loads(body) if body else None,
            resource=kmock.resource("", "v1", "namespaces"),
            name=match.group(1),
            subresource=match.group(2),
            raw_request=raw_request,
        )
        self._requests.append(request)
        return await self._handle(request)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        resource = request.resource
        if resource is None or not resource.plural:
            return await super()._handle(request)  # discovery, /version
        kind = self._kinds.get((_group_version(resource.group, resource.version), resource.plural))
        if kind is None:
            return _status_response(ApiError(404, "NotFound", f"{resource.plural} not served"))
        raw = request._raw_request
        method = "WATCH" if request.params.get("watch") in ("true", "1") else raw.method
        fault = self._take_fault(method, kind.plural, request.subresource)
        if fault is not None:
            error = ApiError(fault.status, "Injected", f"injected fault {fault.status}")
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return _status_response(error, headers)
        try:
            if method == "WATCH":
                return await self._serve_watch(request, kind)
            return _json_response(self._serve(request, kind, raw.method))
        except ApiError as error:
            return _status_response(error)

    def _take_fault(self, method: str, plural: str, subresource: str | None) -> Fault | None:
        for fault in self.faults:
            matches = (fault.method, fault.plural, fault.subresource) == (
                method,
                plural,
                subresource,
            )
            if matches and fault.served < fault.times:
                fault.served += 1
                return fault
        return None

    def _serve(self, request: kmock.Request, kind: Kind, method: str) -> Obj:
        namespace, name, sub = request.namespace, request.name, request.subresource
        if name is None:
            if method == "GET":
                return self._list(kind, namespace, request.params)
            if method == "POST":
                return self._create(kind, namespace, request.data)
        else:
            key = (kind.group_version, kind.plural, namespace if kind.namespaced else None, name)
            if method == "GET":
                return copy.deepcopy(self._get(key))
            if method == "PATCH":
                content_type = request.headers.get("Content-Type", "")
                return self._patch(kind, key, request.data, content_type, sub)
            if method == "PUT":
                return self._replace(kind, key, request.data, sub)
            if method == "DELETE":
                return self._delete(kind, key)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    def _get(self, key: Key) -> Obj:
        try:
            return self._objects[key]
        except KeyError:
            raise ApiError(404, "NotFound", f'{key[1]} "{key[3]}" not found') from None

    def _list(self, kind: Kind, namespace: str | None, params: dict[str, str]) -> Obj:
        selector = _selector(params)
        items = [
            copy.deepcopy(obj)
            for (gv, plural, ns, _), obj in sorted(self._objects.items(), key=_namespace_and_name)
            if (gv, plural) == (kind.group_version, kind.plural)
            and (namespace is None or ns == namespace)
            and selector(obj)
        ]
        return {
            "apiVersion": kind.group_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": items,
        }

    def _create(self, kind: Kind, namespace: str | None, body: Obj) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        if "name" not in meta and "generateName" in meta:
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        key = (kind.group_version, kind.plural, meta.get("namespace"), meta["name"])
        if key in self._objects:
            raise ApiError(409, "AlreadyExists", f'{kind.plural} "{meta["name"]}" already exists')
        if kind.status_subresource:
            obj.pop("status", None)
        meta.update(
            uid=str(uuid.uuid4()),
            generation=1,
            creationTimestamp=_now(),
        )
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        obj.setdefault("apiVersion", kind.group_version)
        obj.setdefault("kind", kind.kind)
        self._admit("CREATE", obj)
        self._objects[key] = obj
        self._publish(kind, "ADDED", obj)
        return copy.deepcopy(obj)

    def _patch(self, kind: Kind, key: Key, patch: Any, content_type: str, sub: str | None) -> Obj:
        old = self._get(key)
        new = copy.deepcopy(old)
        if "json-patch" in content_type:
            try:
                new = jsonpatch.apply_patch(new, patch)
            except jsonpatch.JsonPatchTestFailed as error:
                raise ApiError(422, "Invalid", f"the test operation failed: {error}") from None
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
                raise ApiError(422, "Invalid", str(error)) from None
        else:  # merge, strategic merge and apply patches are all merged as RFC 7386 here
            new = merged(new, patch)
        return self._update(kind, key, old, new, sub)

    def _replace(self, kind: Kind, key: Key, body: Obj, sub: str | None) -> Obj:
        old = self._get(key)
        given = body.get("metadata", {}).get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        return self._update(kind, key, old, copy.deepcopy(body), sub)

    def _update(self, kind: Kind, key: Key, old: Obj, new: Obj, sub: str | None) -> Obj:
        expected_rv = new.get("metadata", {}).get("resourceVersion")
        if expected_rv and expected_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified; please retry")
        if kind.status_subresource:
            # Only status changes through /status, and status never changes elsewhere.
            if sub == "status":
                new = {**copy.deepcopy(old), "status": new.get("status", {})}
            else:
                new = {k: v for k, v in new.items() if k != "status"}
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
        # Identity and server-set fields are not the client's to change.
        meta = new.setdefault("metadata", {})
        for field_name in ("uid", "name", "namespace", "creationTimestamp", "generation"):
            if field_name in old["metadata"]:
                meta[field_name] = old["metadata"][field_name]
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if old.get("metadata", {}).get("deletionTimestamp"):
            meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        if new == old:
            return copy.deepcopy(old)  # a no-op write changes nothing, not even resourceVersion
        if _spec_part(new) != _spec_part(old):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        if sub is None:
            self._admit("UPDATE", new)
        self._objects[key] = new
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self._objects[key]
            self._publish(kind, "DELETED", new)
        else:
            self._publish(kind, "MODIFIED", new)
        return copy.deepcopy(new)

    def _admit(self, operation: str, obj: Obj) -> None:
        """Validating webhooks deny with the code they choose; controller-runtime's, 403."""
        for webhook in self.admission:
            if (message := webhook(operation, obj, self)) is not None:
                raise ApiError(403, "Forbidden", f"admission webhook denied the request: {message}")

    def _delete(self, kind: Kind, key: Key) -> Obj:
        obj = self._get(key)
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj = copy.deepcopy(obj)
                obj["metadata"]["deletionTimestamp"] = _now()
                self._objects[key] = obj
                self._publish(kind, "MODIFIED", obj)
            return copy.deepcopy(obj)
        del self._objects[key]
        self._publish(kind, "DELETED", obj)
        return copy.deepcopy(obj)

    def _publish(self, kind: Kind, event_type: str, obj: Obj) -> None:
        rv = next(self._rv)
        self._last_rv = rv
        obj["metadata"]["resourceVersion"] = str(rv)
        event = {"type": event_type, "object": copy.deepcopy(obj)}
        self._events.append((rv, kind, event))
        for watch in self._watches:
            if watch.kind == kind and _in_watch(watch, obj):
                watch.queue.put_nowait(event)

    async def _serve_watch(self, request: kmock.Request, kind: Kind) -> aiohttp.web.StreamResponse:
        watch = _Watch(kind, request.namespace, _selector(request.params))
        since = request.params.get("resourceVersion")
        # Subscribe first, then take the snapshot: nothing happens in between (one loop,
        # no await), so no event is lost or doubled.
        self._watches.append(watch)
        try:
            if since and since != "0":
                backlog = [e for rv, k, e in self._events if rv > int(since) and k == kind]
            else:
                listing = self._list(kind, request.namespace, request.params)["items"]
                backlog = [{"type": "ADDED", "object": obj} for obj in listing]
            response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request._raw_request)
            timeout = float(request.params.get("timeoutSeconds", 300))
            async with asyncio.timeout(timeout):
                for event in backlog:
                    if _in_watch(watch, event["object"]):
                        await response.write(json.dumps(event).encode() + b"\n")
                while (event := await watch.queue.get()) is not None:
                    await response.write(json.dumps(event).encode() + b"\n")
        except TimeoutError:
            pass
        finally:
            self._watches.remove(watch)
        await response.write_eof()
        return response


def _namespace_and_name(item: tuple[Key, Obj]) -> tuple[str, str]:
    # Cluster-scoped objects have no namespace: sort them first rather than compare None.
    (_, _, namespace, name), _ = item
    return namespace or "", name


_NAMESPACES_PATH = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?(?:/(status))?/?$")


def _group_version(group: str | None, version: str | None) -> str:
    return f"{group}/{version}" if group else f"{version}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


_REQUIREMENT = re.compile(r"^\s*([^!=\s]+)\s*(==|=|!=)?\s*([^,\s]*)\s*$")


def _selector(params: dict[str, str]) -> Callable[[Obj], bool]:
    """Equality-based label selectors and metadata field selectors."""
    checks: list[Callable[[Obj], bool]] = []
    for source, lookup in (
        ("labelSelector", lambda obj: obj.get("metadata", {}).get("labels", {})),
        ("fieldSelector", _fields),
    ):
        for requirement in filter(None, params.get(source, "").split(",")):
            match = _REQUIREMENT.match(requirement)
            if match is None:
                raise ApiError(400, "BadRequest", f"unsupported selector {requirement!r}")
            name, operator, value = match.groups()
            checks.append(_check(lookup, name, operator, value))
    return lambda obj: all(check(obj) for check in checks)


def _check(
    lookup: Callable[[Obj], dict[str, str]], name: str, operator: str | None, value: str
) -> Callable[[Obj], bool]:
    if operator is None:
        return lambda obj: (name.lstrip("!") in lookup(obj)) != name.startswith("!")
    if operator == "!=":
        return lambda obj: lookup(obj).get(name) != value
    return lambda obj: lookup(obj).get(name) == value


def _fields(obj: Obj) -> dict[str, str]:
    meta = obj.get("metadata", {})
    return {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}


def _in_watch(watch: _Watch, obj: Obj) -> bool:
    namespace = obj.get("metadata", {}).get("namespace")
    return (watch.namespace is None or watch.namespace == namespace) and watch.selector(obj)


def _status_response(
    error: ApiError, headers: dict[str, str] | None = None
) -> aiohttp.web.Response:
    body = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": error.status,
        "reason": error.reason,
        "message": error.message,
    }
    return _json_response(body, error.status, headers)


def _json_response(
    body: Obj, status: int = 200, headers: dict[str, str] | None = None
) -> aiohttp.web.Response:
    # Exactly "application/json", no charset: clients such as lightkube match it literally.
    headers = {**(headers or {}), "Content-Type": "application/json"}
    return aiohttp.web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


class EmulatorThread:
    """The emulator served on 127.0.0.1 from its own thread and event loop.

    The operator under test runs in another process; tests in the main thread
    reach the store through ``call``, which runs a function on the server's loop.
    """

    def __init__(self, crds: list[Obj]) -> None:
        self._crds = crds
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self.emulator: KubernetesApiEmulator
        self.url = ""

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        started = threading.Event()
        self._serving = asyncio.run_coroutine_threadsafe(self._serve(started), self._loop)
        if not started.wait(timeout=30):
            raise RuntimeError("the emulated API server did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.call(lambda: self._stop.set() if self._stop else None)
        self.call(self.emulator.drop_watches)
        self._serving.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self, started: threading.Event) -> None:
        self._stop = asyncio.Event()
        async with KubernetesApiEmulator() as emulator, kmock.Server(emulator) as server:
            for crd in self._crds:
                emulator.register_crd(crd)
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            started.set()
            await self._stop.wait()

    def call(self, function: Callable[[], T]) -> T:
        """Run a function on the server's loop (the store is not thread-safe)."""

        async def run() -> T:
            return function()

        return self.run(run())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)
