{{/*
Labels every object of the release carries. Selectors use only the fixed app label, since
selectors cannot change after install and the controller finds TMM pods by app=f5-tmm.
*/}}
{{- define "spk.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: spk
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/*
spk.image renders <registry>/<repository>:<tag> of one component.
Call with (dict "root" $ "image" .Values.<component>.image).
*/}}
{{- define "spk.image" -}}
{{- $registry := .root.Values.image.registry | default "" | trimSuffix "/" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if $registry -}}
{{ printf "%s/%s:%s" $registry .image.repository $tag }}
{{- else -}}
{{ printf "%s:%s" .image.repository $tag }}
{{- end -}}
{{- end }}

{{/*
spk.tmmNetworks is the Multus annotation of the TMM pod: the attachments in order, named
net1, net2, … (TMM interfaces 1.1, 1.2, …).
*/}}
{{- define "spk.tmmNetworks" -}}
{{- $nets := list -}}
{{- range $i, $name := .Values.tmm.networks -}}
{{- $nets = append $nets (dict "name" $name "interface" (printf "net%d" (add1 $i))) -}}
{{- end -}}
{{- toJson $nets -}}
{{- end }}

{{/* spk.tmmInterfaces is spk-tmm's --interfaces value: net1,net2,… in attachment order. */}}
{{- define "spk.tmmInterfaces" -}}
{{- $ifs := list -}}
{{- range $i, $name := .Values.tmm.networks -}}
{{- $ifs = append $ifs (printf "net%d" (add1 $i)) -}}
{{- end -}}
{{- join "," $ifs -}}
{{- end }}

{{/* spk.tmmValues is the controller's values file: tmm.dynamicRouting only. */}}
{{- define "spk.tmmValues" -}}
{{- dict "tmm" (dict "dynamicRouting" .Values.tmm.dynamicRouting) | toYaml -}}
{{- end }}

{{/* The name the TMMs' API certificate carries (spkchart.TMMAPIServerName). */}}
{{- define "spk.tmmAPIServerName" -}}
f5-tmm.{{ .Release.Namespace }}.svc
{{- end }}
