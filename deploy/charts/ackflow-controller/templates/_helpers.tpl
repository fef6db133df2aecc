{{- define "ackflow-controller.labels" -}}
app.kubernetes.io/name: ackflow-controller
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ackflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "ackflow-controller.selector" -}}
app.kubernetes.io/name: ackflow-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
