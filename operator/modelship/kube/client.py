"""The one place that talks to the API server: create, patch, delete and read objects as dicts.

It wraps lightkube's async client, which reads kubeconfig or the in-cluster
service account the same way Kopf does, and maps its failures onto the small
error hierarchy in `modelship.kube.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ConfigError
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import CascadeType, PatchType

from modelship.core.objects import Ref
from modelship.kube.errors import (
    AlreadyExistsError,
    ConflictError,
    KubeError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)

FIELD_MANAGER = "modelship"

# Custom resources the operator reads or writes, known to lightkube as plain dicts.
CUSTOM_RESOURCES = (
    ("modelship.dev", "v1alpha1", "ModelDeployment", "modeldeployments"),
    ("modelship.dev", "v1alpha1", "RetrainJob", "retrainjobs"),
    ("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects"),
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
    ("gateway.networking.k8s.io", "v1", "GRPCRoute", "grpcroutes"),
)
for _group, _version, _kind, _plural in CUSTOM_RESOURCES:
    create_namespaced_resource(_group, _version, _kind, _plural)


class Kube:
    """Object operations against one API server."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_env(cls, field_manager: str = FIELD_MANAGER) -> Kube:
        """In-cluster service account, else $KUBECONFIG or ~/.kube/config; KubeError when
        there is none, saying what to set."""
        try:
            config = KubeConfig.from_env()
        except ConfigError as error:
            raise KubeError(
                f"no cluster to talk to ({error}): set KUBECONFIG to your kubeconfig file,"
                " as for kubectl"
            ) from error
        return cls(AsyncClient(config, field_manager=field_manager))

    @property
    def namespace(self) -> str:
        """The namespace of the kubeconfig's current context (or the service account's)."""
        return str(self._client.namespace)

    async def close(self) -> None:
        await self._client.close()

    async def get(self, ref: Ref) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            async with _translated(ref):
                found = await self._client.get(_resource(ref), ref.name, namespace=ref.namespace)
        except NotFoundError:
            return None
        return _to_dict(found)

    async def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Objects of a kind in a namespace carrying all the labels given."""
        ref = Ref(api_version, kind, namespace, "*")
        async with _translated(ref):
            resource: Any = resource_registry.load(api_version, kind)
            found = self._client.list(resource, namespace=namespace, labels=dict(labels))
            return [_to_dict(obj) async for obj in found]

    async def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        ref = Ref.of(manifest)
        async with _translated(ref):
            return _to_dict(await self._client.create(from_dict(dict(manifest))))

    async def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the object."""
        async with _translated(ref):
            patched = await self._client.patch(
                _resource(ref),
                ref.name,
                dict(patch),
                namespace=ref.namespace,
                patch_type=PatchType.MERGE,
            )
        return _to_dict(patched)

    async def patch_status(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the status subresource."""
        async with _translated(ref):
            patched = await self._client.patch(
                _resource(ref).Status,
                ref.name,
                {"status": dict(patch)},
                namespace=ref.namespace,
                patch_type=PatchType.MERGE,
            )
        return _to_dict(patched)

    async def delete(self, ref: Ref) -> None:
        """Delete the object and, in the background, what it owns; gone already is fine."""
        try:
            async with _translated(ref):
                await self._client.delete(
                    _resource(ref),
                    ref.name,
                    namespace=ref.namespace,
                    cascade=CascadeType.BACKGROUND,
                )
        except NotFoundError:
            pass


def _resource(ref: Ref) -> Any:
    return resource_registry.load(ref.api_version, ref.kind)


def _to_dict(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict())


@asynccontextmanager
async def _translated(ref: Ref) -> AsyncIterator[None]:
    try:
        yield
    except ApiError as error:
        code = error.status.code or error.response.status_code
        raise _error(
            ref, code, error.status.reason, error.status.message, error.response
        ) from error
    except httpx.HTTPStatusError as error:  # an error reply that is not a Kubernetes Status
        response = error.response
        raise _error(ref, response.status_code, None, response.text, response) from error
    except httpx.TransportError as error:
        raise UnavailableError(f"{ref}: no answer from the API server ({error})") from error


def _error(
    ref: Ref, code: int, reason: str | None, text: str | None, response: httpx.Response
) -> KubeError:
    message = f"{ref}: {text or reason or code}"
    if code == 404:
        return NotFoundError(message, code)
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExistsError(message, code)
    if code == 409:
        return ConflictError(message, code)
    if code == 429 or code >= 500:
        return UnavailableError(message, code, _retry_after(response))
    return RejectedError(message, code)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
