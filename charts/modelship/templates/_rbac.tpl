{{/*
The rights the operator needs wherever it manages ModelDeployments and RetrainJobs:
in a ClusterRole (all namespaces) or in a Role per watched namespace.
*/}}
{{- define "modelship.namespacedRules" -}}
# Its own resources: Kopf patches them (finalizers, progress annotations) and their status.
- apiGroups: ["modelship.dev"]
  resources: ["modeldeployments", "retrainjobs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["modelship.dev"]
  resources: ["modeldeployments/status", "retrainjobs/status"]
  verbs: ["get", "patch"]
# Children carry ownerReferences with blockOwnerDeletion, which needs update on the owner's finalizers.
- apiGroups: ["modelship.dev"]
  resources: ["modeldeployments/finalizers", "retrainjobs/finalizers"]
  verbs: ["update"]
# The children it creates, repairs and retires.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: ["batch"]
  resources: ["cronjobs", "jobs"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "grpcroutes"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
# Reading only: the trainer's result is in its pod's termination message, and why a
# Triton pod cannot start (a missing credentials Secret, say) in its status. No right
# on Secrets at all: only the kubelet reads them.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Events on its objects: what it did, and what needs a person's attention.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
