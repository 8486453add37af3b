{{/*
The tracking server's RBAC rules, split by where they apply (docs/security.md explains every row;
a test compares `kubectl auth can-i --list` with that table). No secrets anywhere: the object-store
key reaches the server through its own Deployment's env (secretKeyRef), which needs no RBAC.
*/}}

{{/* Rules on namespaced objects: cluster-wide, or per namespace of operator.watchNamespaces. */}}
{{- define "mlkube.server.namespacedRules" -}}
# Experiments, runs and the registry are resources in each workspace (namespace): the server
# watches them into its cache and writes them for its (authorised) callers.
- apiGroups: [mlkube.io]
  resources: [experiments, runs, registeredmodels, modelversions]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [mlkube.io]
  resources: [experiments/status, runs/status, registeredmodels/status, modelversions/status]
  verbs: [get, update, patch]
# ModelDeployments, read only: watched into the cache, so a model version's answers can say
# which deployments serve it (the derived tag mlkube.deployments).
- apiGroups: [mlkube.io]
  resources: [modeldeployments]
  verbs: [list, watch]
{{- end -}}

{{/* Rules on cluster-scoped objects: always in the ClusterRole. */}}
{{- define "mlkube.server.clusterRules" -}}
# Every request's bearer token is checked by a TokenReview and its right by a
# SubjectAccessReview in the workspace's namespace.
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
{{- if not .Values.operator.watchNamespaces }}
# The workspace list: every namespace, filtered to those the caller may use. With
# operator.watchNamespaces the workspaces are those namespaces and this rule goes.
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list]
{{- end }}
{{- end -}}


{{/*
The workspace of requests without an X-MLFLOW-WORKSPACE header: server.defaultWorkspace (or the
release's namespace), unless operator.watchNamespaces leaves it out: the server serves only those
namespaces and will not start with another default, so the first of them.
*/}}
{{- define "mlkube.server.defaultWorkspace" -}}
{{- $wanted := .Values.server.defaultWorkspace | default .Release.Namespace -}}
{{- $watched := .Values.operator.watchNamespaces -}}
{{- if or (not $watched) (has $wanted $watched) -}}
{{- $wanted -}}
{{- else -}}
{{- first $watched -}}
{{- end -}}
{{- end -}}
