{{/* Chart name, truncated for label values. */}}
{{- define "coffer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name of the release's objects. */}}
{{- define "coffer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "coffer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "coffer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "coffer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "coffer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "coffer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "coffer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Refuses combinations that cannot work, at render time: every template that
matters includes it, so `helm install` stops before anything is created.
*/}}
{{- define "coffer.validate" -}}
{{- $db := .Values.database.type }}
{{- if not (has $db (list "sqlite" "postgres")) }}
{{- fail (printf "database.type must be sqlite or postgres, got %q" $db) }}
{{- end }}
{{- if and (eq $db "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs database.type=postgres: a SQLite database is a file that only one pod may open" }}
{{- end }}
{{- if and (eq $db "postgres") (not .Values.database.postgres.existingSecret) }}
{{- fail "database.postgres.existingSecret is required with database.type=postgres (a Secret holding the DSN)" }}
{{- end }}
{{- $kek := .Values.kek.provider }}
{{- if not (has $kek (list "secretKey" "vault")) }}
{{- fail (printf "kek.provider must be secretKey or vault, got %q" $kek) }}
{{- end }}
{{- if and (eq $kek "secretKey") (not .Values.kek.secretKey.existingSecret) }}
{{- fail "kek.secretKey.existingSecret is required: a Secret holding a base64 key of at least 32 bytes (docs/deploy.md)" }}
{{- end }}
{{- if and (eq $kek "vault") (not .Values.kek.vault.address) }}
{{- fail "kek.vault.address is required with kek.provider=vault" }}
{{- end }}
{{- if eq $kek "vault" }}
{{- $auth := .Values.kek.vault.authMethod }}
{{- if not (has $auth (list "token" "kubernetes")) }}
{{- fail (printf "kek.vault.authMethod must be token or kubernetes, got %q" $auth) }}
{{- end }}
{{- if and (eq $auth "token") (not .Values.kek.vault.token.existingSecret) }}
{{- fail "kek.vault.token.existingSecret is required with kek.vault.authMethod=token (a Secret holding the Vault token)" }}
{{- end }}
{{- if and (eq $auth "kubernetes") (not .Values.kek.vault.kubernetes.role) }}
{{- fail "kek.vault.kubernetes.role is required with kek.vault.authMethod=kubernetes" }}
{{- end }}
{{- end }}
{{- with .Values.config.coffer }}
{{- if hasKey . "listen" }}
{{- fail "config.coffer.listen is not allowed: set containerPort (the probes and the Service follow it)" }}
{{- end }}
{{- if hasKey . "data_dir" }}
{{- fail "config.coffer.data_dir is not allowed: the chart mounts the data volume at /data" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Coffer's configuration file, in the NeMo Platform's shape: the platform's
service section gives the listen address and log format. The chart's keys
are merged over .Values.config.
*/}}
{{- define "coffer.config" -}}
{{- $enc := dict }}
{{- if eq .Values.kek.provider "secretKey" }}
{{- $enc = dict "current_provider" .Values.kek.secretKey.name "providers" (dict "secret_key" (dict .Values.kek.secretKey.name (dict "from_env" .Values.kek.secretKey.key))) }}
{{- else }}
{{- $v := .Values.kek.vault }}
{{- $transit := dict "address" $v.address "key_name" $v.keyName "mount" $v.mount }}
{{- with $v.namespace }}{{ $_ := set $transit "namespace" . }}{{ end }}
{{- if $v.caCert.existingSecret }}{{ $_ := set $transit "ca_cert" (printf "/etc/coffer/vault-ca/%s" $v.caCert.key) }}{{ end }}
{{- if eq $v.authMethod "kubernetes" }}
{{- $_ := set $transit "auth_method" "kubernetes" }}
{{- $_ := set $transit "kubernetes" (dict "role" $v.kubernetes.role "mount" $v.kubernetes.mount "token_file" "/var/run/secrets/coffer/vault/token") }}
{{- end }}
{{- $enc = dict "current_provider" $v.name "providers" (dict "vault" (dict $v.name $transit)) }}
{{- end }}
{{- $coffer := dict "data_dir" "/data" "log" (dict "level" .Values.logLevel) }}
{{- if eq .Values.database.type "postgres" }}
{{- $_ := set $coffer "database" (dict "max_open_conns" (int .Values.database.postgres.maxOpenConns)) }}
{{- end }}
{{- $own := dict
  "service" (dict "host" "0.0.0.0" "port" (int .Values.containerPort) "log_format" .Values.logFormat)
  "coffer" $coffer
  "secrets" (dict "encryption" $enc) }}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $own) }}
{{- end }}
