#!/usr/bin/env bash
# A local Kubernetes cluster with modelship installed, for the e2e tests and for trying it.
#
# Creates (or reuses) a kind cluster, builds the operator image and loads it into the
# cluster, installs the Helm chart into modelship-system, and applies a sample
# ModelDeployment (into its own namespace, default for the samples). The operator's
# namespace and the sample's enforce the restricted Pod Security Standard.
# Needs a running Docker engine and kind; helm and kubectl come from hack/install-helm.sh.
#
# Environment:
#   CLUSTER_NAME   kind cluster name (modelship)
#   KUBECONFIG_OUT where to write the cluster's kubeconfig (.tools/kind-kubeconfig)
#   SAMPLE         ModelDeployment to apply, empty for none (crds/samples/modeldeployment-minimal.yaml)
#   BUILD_SERVING  1: also build and load the serving image (Triton base, large)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cluster=${CLUSTER_NAME:-modelship}
kubeconfig=${KUBECONFIG_OUT:-$root/.tools/kind-kubeconfig}
sample=${SAMPLE-crds/samples/modeldeployment-minimal.yaml}
release_namespace=modelship-system
sample_namespace=default
operator_image=ghcr.io/modelship/operator:dev
# The serving image ModelDeployments use by default (DEFAULT_TRITON_IMAGE in the API types).
serving_image=ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0

fail() {
    echo "kind-up: $*" >&2
    exit 1
}

command -v docker >/dev/null || fail "docker is not installed; see https://docs.docker.com/engine/install/"
command -v kind >/dev/null || fail "kind is not installed; see https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
docker info >/dev/null 2>&1 || fail "the Docker engine is not running ('docker info' failed)"
hack/install-helm.sh >/dev/null
export PATH="$root/.tools/bin:$PATH"

mkdir -p "$(dirname "$kubeconfig")"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    kind export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig"
else
    kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 180s
fi
export KUBECONFIG=$kubeconfig

docker build --file operator/Dockerfile --tag "$operator_image" .
kind load docker-image "$operator_image" --name "$cluster"
if [[ ${BUILD_SERVING:-0} == 1 ]]; then
    docker build --file serving/Dockerfile --tag "$serving_image" .
    kind load docker-image "$serving_image" --name "$cluster"
fi

# Both namespaces enforce the restricted Pod Security Standard, so a pod that breaks it
# (the operator's or one it creates) is refused here rather than passing unnoticed.
for namespace in "$release_namespace" "$sample_namespace"; do
    kubectl create namespace "$namespace" --dry-run=client --output=yaml | kubectl apply -f -
    kubectl label namespace "$namespace" --overwrite \
        pod-security.kubernetes.io/enforce=restricted \
        pod-security.kubernetes.io/warn=restricted
done

# The installed operator watches only the sample's namespace: the e2e tests run their
# own operator from this checkout in namespaces of their own, and two operators must
# never reconcile the same objects.
helm upgrade --install modelship charts/modelship \
    --namespace "$release_namespace" \
    --set "watchNamespaces={$sample_namespace}" \
    --set image.repository="${operator_image%:*}" \
    --set image.tag="${operator_image##*:}" \
    --set image.pullPolicy=Never \
    --wait --timeout 5m
kubectl --namespace "$release_namespace" rollout status deployment/modelship --timeout=120s

if [[ -n $sample ]]; then
    kubectl apply -f "$sample"
fi

cat <<DONE

modelship is running in kind cluster '$cluster', watching namespace '$sample_namespace'.
  export KUBECONFIG=$kubeconfig
  kubectl --namespace $sample_namespace get modeldeployments --watch
  .venv/bin/pytest tests/e2e          # the e2e tests use this cluster
  kind delete cluster --name $cluster # when done
A ModelDeployment becomes Ready once its Triton pods run: that needs the serving image
in the cluster (BUILD_SERVING=1) and its model uri reachable from the pods.
DONE
