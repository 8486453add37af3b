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

{{- define "mlkube.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* The object store's URL as pods reach it. */}}
{{- define "mlkube.s3Endpoint" -}}
{{- if .Values.objectStore.endpoint -}}
{{- .Values.objectStore.endpoint -}}
{{- else -}}
{{- printf "http://%s-minio.%s.svc:%d" (include "mlkube.fullname" .) .Release.Namespace (int .Values.minio.port) -}}
{{- end -}}
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
- name: POD_IP
  valueFrom: {fieldRef: {fieldPath: status.podIP}}
{{- end -}}
