{{/*
The operator's RBAC rules, split by where they apply (docs/security.md explains every row; a test
compares `kubectl auth can-i --list` with that table). No secrets anywhere: the object-store key
reaches the operator through its own Deployment's env (secretKeyRef), which needs no RBAC.
*/}}

{{/* Rules on namespaced objects: cluster-wide, or per namespace of operator.watchNamespaces. */}}
{{- define "mlkube.operator.namespacedRules" -}}
# Its own resources: Kopf lists and watches them and writes its annotations and finalizers; the
# controllers write status. Experiments: a Run may name one that does not exist yet. Runs: a
# Sweep's trials and parent run, which it owns.
- apiGroups: [mlkube.io]
  resources: [experiments, runs, registeredmodels, modelversions, modeldeployments, sweeps]
  verbs: [get, list, watch, patch, update]
- apiGroups: [mlkube.io]
  resources: [experiments, runs]
  verbs: [create]
- apiGroups: [mlkube.io]
  resources: [experiments/status, runs/status, registeredmodels/status, modelversions/status, modeldeployments/status, sweeps/status]
  verbs: [get, patch, update]
# A project Run's Job and the pods it reads the outcome from, and a distributed Run's headless
# Service; a ModelDeployment's Deployment, Service and autoscaler (server-side apply: create and
# patch).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, create, patch, delete]
# A Run's pods: watched for its outcome; their log saved as an artifact of the run, then the
# operator's finalizer (from the Job's pod template) taken off them.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
# A ModelDeployment's pods take connections on the model port only; a Run's pods only from
# their own Run's pods (server-side apply of one NetworkPolicy each, owned by the resource).
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# The per-namespace identities of run and serving pods (ServiceAccounts mlkube-run and
# mlkube-serving, each bound to its ClusterRole; `bind` on those two is a cluster rule).
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [get, create]
{{- if .Values.runs.caBundle }}
# runs.caBundle: the operator keeps its copy, ConfigMap mlkube-ca-bundle, in each namespace with
# runs (server-side apply). That one name only.
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [mlkube-ca-bundle]
  verbs: [get, create, patch]
{{- end }}
{{- end -}}

{{/* Rules on cluster-scoped objects: always in the ClusterRole. */}}
{{- define "mlkube.operator.clusterRules" -}}
# Kopf follows the CRDs it serves.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
# Bind the run and serving ClusterRoles (and no other) in the RoleBindings it makes.
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  resourceNames: [{{ include "mlkube.fullname" . }}-run, {{ include "mlkube.fullname" . }}-serving]
  verbs: [bind]
{{- end -}}
