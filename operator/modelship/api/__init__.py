"""API types of modelship.dev/v1alpha1: the single source of truth for the CRDs."""

from modelship.api.base import API_VERSION, GROUP, VERSION
from modelship.api.model_deployment import ModelDeployment, ModelDeploymentSpec
from modelship.api.retrain_job import RetrainJob, RetrainJobSpec

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "RetrainJob",
    "RetrainJobSpec",
]
