{{/* Names, labels and shared values of the mlkube chart. */}}

{{- define "mlkube.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mlkube.labels" -}}
app.kubernetes.io/part-of: mlkube
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{- define "mlkube.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
app.kubernetes.io/component: {{ .component | quote }}
{{- end -}}

{{/*
An image reference, registry/repository:tag, composed in one place. Call it with
(dict "root" $ "image" <an image value: registry, repository, tag>): an empty registry falls back
to image.registry, an empty tag to the chart's appVersion.
*/}}
{{- define "mlkube.image" -}}
{{- $registry := .image.registry | default .root.Values.image.registry -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* mlkube's own image: operator, tracking server, Run init containers, serving pods. */}}
{{- define "mlkube.mlkubeImage" -}}
{{- include "mlkube.image" (dict "root" . "image" .Values.image) -}}
{{- end -}}

{{/* The object store's URL as pods reach it: the bundled MinIO's Service unless one is given. */}}
{{- define "mlkube.s3Endpoint" -}}
{{- if .Values.objectStore.endpoint -}}
{{- .Values.objectStore.endpoint -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%d" (include "mlkube.minioName" .) .Release.Namespace (int .Values.minio.port) -}}
{{- end -}}
{{- end -}}

{{/* The bundled MinIO's Deployment, Service and claim. */}}
{{- define "mlkube.minioName" -}}
{{- printf "%s-minio" (include "mlkube.fullname" .) -}}
{{- end -}}

{{- define "mlkube.s3Secret" -}}
{{- .Values.objectStore.existingSecret | default (printf "%s-s3" (include "mlkube.fullname" .)) -}}
{{- end -}}

{{- define "mlkube.trackingUri" -}}
{{- printf "http://%s-server.%s.svc:%d" (include "mlkube.fullname" .) .Release.Namespace (int .Values.server.port) -}}
{{- end -}}

{{/* Environment every mlkube container shares: where the object store is. */}}
{{- define "mlkube.s3Env" -}}
- name: MLKUBE_S3_ENDPOINT
  value: {{ include "mlkube.s3Endpoint" . | quote }}
- name: MLKUBE_S3_BUCKET
  value: {{ .Values.objectStore.bucket | quote }}
- name: MLKUBE_S3_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ include "mlkube.s3Secret" . | quote }}, key: accessKey}}
- name: MLKUBE_S3_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ include "mlkube.s3Secret" . | quote }}, key: secretKey}}
- name: MLKUBE_ID_NAMESPACE
  value: {{ .Release.Namespace | quote }}
{{- end -}}
