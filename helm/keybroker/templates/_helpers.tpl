{{/*
Names and labels.
*/}}
{{- define "keybroker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "keybroker.fullname" -}}
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

{{- define "keybroker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "keybroker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keybroker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "keybroker.labels" -}}
helm.sh/chart: {{ include "keybroker.chart" . }}
{{ include "keybroker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: broker
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "keybroker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "keybroker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "keybroker.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "keybroker.keyringSecretName" -}}
{{- default (printf "%s-keyring" (include "keybroker.fullname" .)) .Values.localKeyring.existingSecret }}
{{- end }}

{{- define "keybroker.pvcName" -}}
{{- default (printf "%s-data" (include "keybroker.fullname" .)) .Values.localKeyring.persistence.existingClaim }}
{{- end }}

{{/*
Where the chart mounts things in the container. The configuration's file paths are
built from these, so every path in config.yaml lies under one of the pod's mounts.
*/}}
{{- define "keybroker.paths" -}}
config: /etc/keybroker/config
keyring: /etc/keybroker/keyring
masterKey: /etc/keybroker/master-key
data: /var/lib/keybroker
tls: /etc/keybroker/tls
clientCA: /etc/keybroker/client-ca
keyVaultCA: /etc/keybroker/key-vault-ca
identities: /etc/keybroker/identities
entraCA: /etc/keybroker/entra-ca
{{- end }}

{{- define "keybroker.configFile" -}}
{{- printf "%s/config.yaml" (include "keybroker.paths" . | fromYaml).config }}
{{- end }}

{{/* "true" when an identity uses AKS workload identity. */}}
{{- define "keybroker.workloadIdentity" -}}
{{- range $name, $id := .Values.azure.identities }}
{{- if hasKey $id "workloadIdentity" }}true{{ end }}
{{- end }}
{{- end }}

{{/* "true" when an identity uses a managed identity (IMDS). */}}
{{- define "keybroker.managedIdentity" -}}
{{- range $name, $id := .Values.azure.identities }}
{{- if hasKey $id "managedIdentity" }}true{{ end }}
{{- end }}
{{- end }}

{{/*
"true" when gRPC is served over TLS: tls.enabled, unless insecurePlaintext asks for
plaintext (validate refuses insecurePlaintext next to a configured certificate).
*/}}
{{- define "keybroker.tlsServed" -}}
{{- if and .Values.tls.enabled (not .Values.insecurePlaintext) }}true{{ end }}
{{- end }}

{{/* The Secret with the server certificate: tls.secretName, or the one the chart's Certificate writes. */}}
{{- define "keybroker.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "keybroker.fullname" .)) .Values.tls.secretName }}
{{- end }}

{{/*
"true" when clients must present a certificate: tls.clientCA.enabled; null means on with
cert-manager (the issuer's CA) or when a client CA is named, off otherwise.
*/}}
{{- define "keybroker.mutualTls" -}}
{{- $ca := .Values.tls.clientCA }}
{{- $enabled := $ca.enabled }}
{{- if kindIs "invalid" $enabled }}
{{- $enabled = or .Values.tls.certManager.enabled $ca.secretName $ca.configMapName }}
{{- end }}
{{- if and (include "keybroker.tlsServed" .) $enabled }}true{{ end }}
{{- end }}

{{/* "true" when bindAddress is a loopback address: 127.0.0.0/8, ::1 or localhost. */}}
{{- define "keybroker.loopbackBind" -}}
{{- $host := .Values.bindAddress | trimPrefix "[" | trimSuffix "]" }}
{{- if or (hasPrefix "127." $host) (eq $host "::1") (eq $host "localhost") }}true{{ end }}
{{- end }}

{{- define "keybroker.listenAddress" -}}
{{- $host := .root.Values.bindAddress }}
{{- if contains ":" $host }}{{ $host = printf "[%s]" $host }}{{ end }}
{{- printf "%s:%d" $host (int .port) }}
{{- end }}

{{/*
A trust source {secretName | configMapName, key} as a volume source.
*/}}
{{- define "keybroker.caVolumeSource" -}}
{{- $key := default "ca.crt" .key }}
{{- if .secretName }}
secret:
  secretName: {{ .secretName }}
  defaultMode: 0440
  items:
    - key: {{ $key }}
      path: {{ $key }}
{{- else }}
configMap:
  name: {{ .configMapName }}
  items:
    - key: {{ $key }}
      path: {{ $key }}
{{- end }}
{{- end }}

{{/*
Refuses values that would render a broken deployment; the schema checks shapes,
this checks what spans several values.
*/}}
{{- define "keybroker.validate" -}}
{{- $v := .Values }}
{{- if and $v.localKeyring.enabled (eq $v.localKeyring.mode "persistentVolume") }}
{{- if or $v.autoscaling.enabled (ne (int $v.replicaCount) 1) }}
{{- fail "localKeyring.mode persistentVolume keeps a writable keyring that one replica only may hold: set replicaCount 1 and autoscaling.enabled false, or use mode secret" }}
{{- end }}
{{- end }}
{{- $certManager := $v.tls.certManager }}
{{- if and $certManager.enabled (not $certManager.issuerRef.name) }}
{{- fail "tls.certManager.enabled needs tls.certManager.issuerRef.name (a cert-manager Issuer, or a ClusterIssuer with issuerRef.kind ClusterIssuer)" }}
{{- end }}
{{- if and $certManager.enabled (or (ne $v.tls.certKey "tls.crt") (ne $v.tls.keyKey "tls.key")) }}
{{- fail "tls.certManager writes tls.crt and tls.key: leave tls.certKey and tls.keyKey at those names" }}
{{- end }}
{{- $certificate := or $v.tls.secretName $certManager.enabled }}
{{- if $v.tls.enabled }}
{{- if and $v.insecurePlaintext $certificate }}
{{- fail "insecurePlaintext serves plaintext gRPC, yet a server certificate is configured (tls.secretName or tls.certManager): drop insecurePlaintext to serve TLS, or set tls.enabled=false" }}
{{- else if not (or $v.insecurePlaintext $certificate) }}
{{- fail "tls.enabled (the default) needs a server certificate: set tls.secretName to an existing kubernetes.io/tls Secret, or set tls.certManager.enabled=true with tls.certManager.issuerRef.name to have cert-manager issue one (plaintext only behind a service mesh that provides mutual TLS itself: insecurePlaintext=true)" }}
{{- end }}
{{- else if not (or $v.insecurePlaintext (include "keybroker.loopbackBind" .)) }}
{{- fail (printf "tls.enabled=false serves plaintext gRPC on bindAddress %s, which is not a loopback address: enable TLS (tls.enabled with tls.secretName or tls.certManager), or set insecurePlaintext=true, only behind a service mesh that provides mutual TLS itself" $v.bindAddress) }}
{{- end }}
{{- if and (kindIs "bool" $v.tls.clientCA.enabled) $v.tls.clientCA.enabled (not (include "keybroker.tlsServed" .)) }}
{{- fail "tls.clientCA.enabled (mutual TLS) needs TLS served: tls.enabled with a certificate, and insecurePlaintext false" }}
{{- end }}
{{- if and $v.tls.clientCA.secretName $v.tls.clientCA.configMapName }}
{{- fail "tls.clientCA: set secretName or configMapName, not both" }}
{{- end }}
{{- if and $v.azure.keyVaultTls.secretName $v.azure.keyVaultTls.configMapName }}
{{- fail "azure.keyVaultTls: set secretName or configMapName, not both" }}
{{- end }}
{{- range $name, $id := $v.azure.identities }}
{{- with $id.tls }}
{{- if and .secretName .configMapName }}
{{- fail (printf "azure.identities.%s.tls: set secretName or configMapName, not both" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- with $v.config.edek_authentication }}
{{- if and .local_key (not $v.localKeyring.enabled) }}
{{- fail (printf "config.edek_authentication.local_key (%s) is a key of the local keyring: enable localKeyring" .local_key) }}
{{- end }}
{{- end }}
{{- range $i, $key := $v.config.keys }}
{{- if and $key.local_key (not $v.localKeyring.enabled) }}
{{- fail (printf "config.keys[%d] (%s) uses local_key: enable localKeyring" $i $key.alias) }}
{{- end }}
{{- if $key.azure_key }}
{{- if not (hasKey $v.azure.identities (default "" $key.identity)) }}
{{- fail (printf "config.keys[%d] (%s): identity %q is not in azure.identities" $i $key.alias (default "" $key.identity)) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $i, $source := (dig "kms" "azure" "key_sources" list $v.config) }}
{{- if not (hasKey $v.azure.identities (default "" $source.identity)) }}
{{- fail (printf "config.kms.azure.key_sources[%d]: identity %q is not in azure.identities" $i (default "" $source.identity)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
config.yaml: `config` as given, plus the listen addresses, TLS or insecure_plaintext
(the chart's alone: never taken from `config`), and the file paths of what the chart
mounts (TLS, local keyring, Azure trust and identities).
*/}}
{{- define "keybroker.config" -}}
{{- $v := .Values }}
{{- $p := include "keybroker.paths" . | fromYaml }}
{{- $c := omit (deepCopy $v.config) "tls" "insecure_plaintext" }}
{{- $_ := set $c "listen" (include "keybroker.listenAddress" (dict "root" . "port" $v.containerPorts.grpc)) }}
{{- $_ := set $c "metrics_listen" (include "keybroker.listenAddress" (dict "root" . "port" $v.containerPorts.metrics)) }}
{{- if include "keybroker.tlsServed" . }}
{{- $tls := dict "cert_file" (printf "%s/%s" $p.tls $v.tls.certKey) "key_file" (printf "%s/%s" $p.tls $v.tls.keyKey) }}
{{- if include "keybroker.mutualTls" . }}
{{- $_ := set $tls "client_ca_file" (printf "%s/%s" $p.clientCA $v.tls.clientCA.key) }}
{{- end }}
{{- $_ := set $tls "min_version" (toString $v.tls.minVersion) }}
{{- $_ := set $tls "reload_interval_seconds" (int $v.tls.reloadIntervalSeconds) }}
{{- $_ := set $c "tls" $tls }}
{{- else if $v.insecurePlaintext }}
{{- $_ := set $c "insecure_plaintext" true }}
{{- end }}
{{- $kms := dict }}
{{- if $v.localKeyring.enabled }}
{{- $local := deepCopy (dig "kms" "local" dict $v.config) }}
{{- if eq $v.localKeyring.mode "secret" }}
{{- $_ := set $local "keyring_file" (printf "%s/%s" $p.keyring $v.localKeyring.keyringKey) }}
{{- $_ := set $local "master_key_file" (printf "%s/%s" $p.keyring $v.localKeyring.masterKeyKey) }}
{{- $_ := set $local "read_only" true }}
{{- else }}
{{- $_ := set $local "keyring_file" (printf "%s/keyring" $p.data) }}
{{- $_ := set $local "master_key_file" (printf "%s/%s" $p.masterKey $v.localKeyring.masterKeyKey) }}
{{- $_ := set $local "read_only" false }}
{{- end }}
{{- $_ := set $kms "local" $local }}
{{- end }}
{{- if $v.azure.identities }}
{{- $azure := deepCopy (dig "kms" "azure" dict $v.config) }}
{{- with $v.azure.keyVaultTls }}
{{- if or .secretName .configMapName }}
{{- $_ := set $azure "key_vault_tls" (dict "ca_file" (printf "%s/%s" $p.keyVaultCA .key)) }}
{{- end }}
{{- end }}
{{- $identities := dict }}
{{- range $name, $id := $v.azure.identities }}
{{- $dir := printf "%s/%s" $p.identities $name }}
{{- $out := dict }}
{{- with $id.tenantId }}{{ $_ := set $out "tenant_id" . }}{{ end }}
{{- if $id.clientSecret }}
{{- $_ := set $out "client_id" (dict "password_file" (printf "%s/%s" $dir (default "client-id" $id.clientSecret.clientIdKey))) }}
{{- $_ := set $out "client_secret" (dict "password_file" (printf "%s/%s" $dir (default "client-secret" $id.clientSecret.clientSecretKey))) }}
{{- else if $id.clientCertificate }}
{{- $cc := $id.clientCertificate }}
{{- $_ := set $out "client_id" (dict "password_file" (printf "%s/%s" $dir (default "client-id" $cc.clientIdKey))) }}
{{- $_ := set $out "client_certificate" (dict "cert_file" (printf "%s/%s" $dir (default "tls.crt" $cc.certKey)) "key_file" (printf "%s/%s" $dir (default "tls.key" $cc.keyKey))) }}
{{- else if hasKey $id "workloadIdentity" }}
{{- $wi := default dict $id.workloadIdentity }}
{{- $w := dict }}
{{- with $wi.clientId }}{{ $_ := set $w "client_id" . }}{{ end }}
{{- with $wi.tenantId }}{{ $_ := set $w "tenant_id" . }}{{ end }}
{{- with $wi.tokenFile }}{{ $_ := set $w "token_file" . }}{{ end }}
{{- with $wi.authorityHost }}{{ $_ := set $w "authority_host" . }}{{ end }}
{{- $_ := set $out "workload_identity" $w }}
{{- else if hasKey $id "managedIdentity" }}
{{- $mi := default dict $id.managedIdentity }}
{{- $m := dict }}
{{- with $mi.clientId }}{{ $_ := set $m "client_id" . }}{{ end }}
{{- with $mi.endpoint }}{{ $_ := set $m "endpoint" . }}{{ end }}
{{- $_ := set $out "managed_identity" $m }}
{{- end }}
{{- with $id.oauthEndpointUrl }}{{ $_ := set $out "oauth_endpoint_url" . }}{{ end }}
{{- with $id.scope }}{{ $_ := set $out "scope" . }}{{ end }}
{{- with $id.tls }}
{{- if or .secretName .configMapName }}
{{- $_ := set $out "tls" (dict "ca_file" (printf "%s/%s/%s" $p.entraCA $name (default "ca.crt" .key))) }}
{{- end }}
{{- end }}
{{- $_ := set $identities $name $out }}
{{- end }}
{{- $_ := set $azure "identities" $identities }}
{{- $_ := set $kms "azure" $azure }}
{{- end }}
{{- if $kms }}
{{- $_ := set $c "kms" $kms }}
{{- else }}
{{- $_ := unset $c "kms" }}
{{- end }}
{{- /* in the order DESIGN.md shows them; then anything else */}}
{{- $order := list "listen" "metrics_listen" "log_level" "audit_log" "tls" "insecure_plaintext" "authorization" "cache" "kms" "keys" }}
{{- range $order }}
{{- if hasKey $c . }}
{{ toYaml (dict . (get $c .)) }}
{{- end }}
{{- end }}
{{- range $k := keys $c | sortAlpha }}
{{- if not (has $k $order) }}
{{ toYaml (dict $k (get $c $k)) }}
{{- end }}
{{- end }}
{{- end }}
