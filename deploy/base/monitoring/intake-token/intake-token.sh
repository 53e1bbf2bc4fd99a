#!/bin/sh
# Gives Alertmanager a Grafana service-account token for MeshWatch's alert
# intake, and keeps a token that still works.
#
# Grafana authenticates every plugin resource route
# (/api/plugins/meshwatch-mesh-app/resources/intake/...) and strips the
# Authorization header before the plugin sees the request, so a sender
# presents a Grafana service-account token; role Viewer is enough. Run once
# Grafana is up (Kubernetes: Job meshwatch-intake-token; docker compose:
# service intake-token), this script
#   1. waits until GET $GRAFANA_URL/api/health answers 200;
#   2. reads the token it stored before (key $SECRET_KEY of Secret
#      $SECRET_NAME, or the file $TOKEN_FILE) and keeps it when Grafana still
#      accepts it (GET /api/user with it answers 200; that route refuses
#      anonymous callers, so a Grafana with anonymous access cannot make a dead
#      token look alive). Any answer but 200 or 401 stops the run with an
#      error rather than replace a token that may be good;
#   3. otherwise finds the service account $SA_NAME (or creates it, role
#      $SA_ROLE), creates a token, checks that it works, and stores it: the
#      Secret by server-side apply through the API server with the pod's
#      ServiceAccount token, or the file by an atomic rename. A token it could
#      not store is deleted from Grafana again.
# Nothing secret is printed or put on a command line: the token, the admin
# password and the ServiceAccount token reach curl in its config on stdin
# (-K -), and no response body that could hold a token is logged.
#
# Grafana's HTTP API as used here (legacy /api, served by Grafana 13; shapes
# from grafana/grafana docs/sources/developer-resources/api-reference/http-api/
# api-legacy/serviceaccount.md, pkg/services/serviceaccounts/api/api.go and
# token.go, pkg/services/serviceaccounts/models.go, pkg/api/user.go):
#   GET    /api/serviceaccounts/search?perpage=N&query=Q  (org admin)
#          200 {"totalCount":1,"serviceAccounts":[{"id":2,"name":"...",
#          "login":"sa-1-...","orgId":1,"isDisabled":false,"role":"Viewer",
#          "tokens":1,"avatarUrl":"..."}],"page":1,"perPage":N};
#          Q matches every name that contains it: the exact name is picked
#   POST   /api/serviceaccounts {"name","role","isDisabled"}
#          201 {"id":2,"name":"...","role":"Viewer",...}; a taken name is
#          400 {"messageId":"serviceaccounts.ErrAlreadyExists",...}
#   POST   /api/serviceaccounts/ID/tokens {"name"}
#          200 {"id":7,"name":"...","key":"glsa_..."}; token names are unique
#          in the org (400 serviceaccounts.ErrTokenAlreadyExists), so each
#          token gets a new name: the time and a random suffix
#   DELETE /api/serviceaccounts/ID/tokens/TOKEN_ID   200
#   GET    /api/user (any signed-in identity but anonymous)
#          200 for a service account's token; 401 for an unknown, revoked or
#          expired token or a disabled account
# Grafana writes compact JSON (encoding/json); the image has no jq, so the
# few values needed (an id, a key, a flag) are cut out with sed, one object
# of the search answer at a time.
#
# Environment:
#   GRAFANA_URL                  required, e.g. http://grafana.monitoring.svc:3000
#   GRAFANA_ADMIN_USER           default admin
#   GRAFANA_ADMIN_PASSWORD_FILE  file with the admin password, or
#   GRAFANA_ADMIN_PASSWORD       the password itself
#   SA_NAME                      default meshwatch-alert-intake
#   SA_ROLE                      default Viewer
#   SECRET_NAME                  store in this Secret (Kubernetes), or
#   TOKEN_FILE                   store in this file (docker compose)
#   SECRET_KEY                   default token
#   TOKEN_FILE_OWNER             chown the file to this (user:group)
#   KUBE_SA_DIR                  default /var/run/secrets/kubernetes.io/serviceaccount
#   KUBE_API                     default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
#   NAMESPACE                    default: $KUBE_SA_DIR/namespace
#   WAIT_SECONDS, POLL_SECONDS   wait for Grafana (default 900, every 5)
set -eu
umask 077
nl='
'

log() { printf 'intake-token: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

GRAFANA_URL=${GRAFANA_URL:?GRAFANA_URL is required}
GRAFANA_URL=${GRAFANA_URL%/}
ADMIN_USER=${GRAFANA_ADMIN_USER:-admin}
SA_NAME=${SA_NAME:-meshwatch-alert-intake}
SA_ROLE=${SA_ROLE:-Viewer}
SECRET_NAME=${SECRET_NAME:-}
SECRET_KEY=${SECRET_KEY:-token}
TOKEN_FILE=${TOKEN_FILE:-}
TOKEN_FILE_OWNER=${TOKEN_FILE_OWNER:-}
KUBE_SA_DIR=${KUBE_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
WAIT_SECONDS=${WAIT_SECONDS:-900}
POLL_SECONDS=${POLL_SECONDS:-5}

# The names go into URLs, JSON and sed patterns unescaped: keep them plain.
for v in "$SA_NAME" "$SECRET_KEY" "$SA_ROLE"; do
	case $v in '' | *[!A-Za-z0-9._-]*) die "'$v' is not a plain name (letters, digits, . _ -)" ;; esac
done
if [ -n "$SECRET_NAME" ] && [ -n "$TOKEN_FILE" ]; then
	die "set SECRET_NAME or TOKEN_FILE, not both"
elif [ -n "$SECRET_NAME" ]; then
	case $SECRET_NAME in *[!a-z0-9.-]*) die "SECRET_NAME '$SECRET_NAME' is not a Kubernetes name" ;; esac
	NAMESPACE=${NAMESPACE:-$(cat "$KUBE_SA_DIR/namespace")}
	if [ -z "${KUBE_API:-}" ]; then
		host=${KUBERNETES_SERVICE_HOST:?not in a pod: set KUBE_API}
		case $host in *:*) host="[$host]" ;; esac
		KUBE_API="https://$host:${KUBERNETES_SERVICE_PORT:-443}"
	fi
	where="Secret $NAMESPACE/$SECRET_NAME (key $SECRET_KEY)"
elif [ -n "$TOKEN_FILE" ]; then
	where="file $TOKEN_FILE"
else
	die "set SECRET_NAME (Kubernetes) or TOKEN_FILE (a shared volume)"
fi

if [ -n "${GRAFANA_ADMIN_PASSWORD_FILE:-}" ]; then
	ADMIN_PASSWORD=$(cat "$GRAFANA_ADMIN_PASSWORD_FILE") || die "cannot read GRAFANA_ADMIN_PASSWORD_FILE"
else
	ADMIN_PASSWORD=${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD_FILE or GRAFANA_ADMIN_PASSWORD}
fi
unset GRAFANA_ADMIN_PASSWORD # curl needs no copy in its environment

# cfgq quotes a value for curl's config syntax (backslash and " escaped).
cfgq() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

# req CONFIG URL [CURL-OPTION...] sends one request, with CONFIG (curl
# config lines: credentials, headers, body) on curl's stdin, and sets
# $status (000 when nothing answered) and $body.
req() {
	_cfg=$1 _url=$2
	shift 2
	_out=$(printf '%s\n' "$_cfg" | curl -q -sS -A meshwatch-intake-token --connect-timeout 5 --max-time 30 \
		-K - -w '\n%{http_code}' "$@" "$_url") || true
	status=${_out##*"$nl"}
	body=${_out%"$nl"*}
	case $status in [0-9][0-9][0-9]) ;; *) status=000 body= ;; esac
}

# grafana METHOD PATH [JSON] calls Grafana's API as the admin.
grafana() {
	_c="user = $(cfgq "$ADMIN_USER:$ADMIN_PASSWORD")"
	if [ $# -ge 3 ]; then
		_c="$_c${nl}header = \"Content-Type: application/json\"${nl}data-binary = $(cfgq "$3")"
	fi
	req "$_c" "$GRAFANA_URL$2" -X "$1"
}

# kube METHOD PATH [CONTENT-TYPE BODY] calls the API server as the pod's
# ServiceAccount.
kube() {
	_c="header = $(cfgq "Authorization: Bearer $(cat "$KUBE_SA_DIR/token")")"
	if [ $# -ge 4 ]; then
		_c="$_c${nl}header = $(cfgq "Content-Type: $3")${nl}data-binary = $(cfgq "$4")"
	fi
	req "$_c" "$KUBE_API$2" -X "$1" --cacert "$KUBE_SA_DIR/ca.crt"
}

# num FIELD / str FIELD read the first "FIELD":123 / "FIELD":"text" of the
# compact JSON on stdin. Splitting at commas keeps a match to the start of
# a member: text inside a string value has its quotes escaped (\").
num() { tr ',' '\n' | sed -n "s/^[[{]*\"$1\":\([0-9][0-9]*\)[]}]*\$/\1/p" | head -n 1; }
str() { tr ',' '\n' | sed -n "s/^[[{]*\"$1\":\"\([^\"\\\\]*\)\"[]}]*\$/\1/p" | head -n 1; }
# why: the message of Grafana's error answer or of the API server's Status
# (neither carries a token), unescaped, at most 300 characters.
why() { printf '%s' "$body" | sed -nE 's/.*"message":"(([^"\\]|\\.)*)".*/\1/p' | sed 's/\\"/"/g' | cut -c1-300; }

# token_works TOKEN: 0 when Grafana accepts it, 1 when it answers 401.
token_works() {
	req "header = $(cfgq "Authorization: Bearer $1")" "$GRAFANA_URL/api/user"
	case $status in
	200) return 0 ;;
	401) return 1 ;;
	*) die "Grafana answered $status to GET /api/user with the token; not replacing a token that may still work (the run is retried)" ;;
	esac
}

read_stored() {
	stored=
	if [ -n "$TOKEN_FILE" ]; then
		if [ -f "$TOKEN_FILE" ]; then
			stored=$(tr -d ' \t\r\n' <"$TOKEN_FILE") || die "cannot read $TOKEN_FILE"
		fi
		return 0
	fi
	kube GET "/api/v1/namespaces/$NAMESPACE/secrets/$SECRET_NAME"
	case $status in
	200)
		_b64=$(printf '%s' "$body" | sed -n 's/.*"data":{\([^}]*\)}.*/\1/p' | str "$SECRET_KEY")
		if [ -n "$_b64" ]; then
			stored=$(printf '%s' "$_b64" | base64 -d) || die "key $SECRET_KEY of Secret $NAMESPACE/$SECRET_NAME is not base64"
		fi
		;;
	404) ;;
	*) die "the API server answered $status to GET $where: $(why)" ;;
	esac
}

# find_sa sets sa_id to the id of the service account named SA_NAME, creating
# it when there is none.
find_sa() {
	grafana GET "/api/serviceaccounts/search?perpage=1000&query=$SA_NAME"
	case $status in
	200) ;;
	401) die "Grafana refused user $ADMIN_USER's password (401): GRAFANA_ADMIN_PASSWORD(_FILE) must be the admin password Grafana has now" ;;
	403) die "user $ADMIN_USER may not manage service accounts (403): it must be an org admin" ;;
	*) die "Grafana answered $status to GET /api/serviceaccounts/search: $(why)" ;;
	esac
	_obj=$(printf '%s' "$body" | tr '{}' '\n\n' | grep -F "\"name\":\"$SA_NAME\"" | head -n 1) || true
	if [ -n "$_obj" ]; then
		sa_id=$(printf '%s' "$_obj" | num id)
		[ -n "$sa_id" ] || die "no id in Grafana's entry for service account $SA_NAME"
		case $_obj in *'"isDisabled":true'*)
			die "service account $SA_NAME (id $sa_id) is disabled in Grafana: enable it (Administration > Users and access > Service accounts) or delete it, then run this again" ;;
		esac
		_role=$(printf '%s' "$_obj" | str role)
		if [ "$_role" != "$SA_ROLE" ]; then
			log "note: service account $SA_NAME has role $_role; $SA_ROLE is all the intake needs"
		fi
		log "service account $SA_NAME exists (id $sa_id)"
		return 0
	fi
	grafana POST /api/serviceaccounts "{\"name\":\"$SA_NAME\",\"role\":\"$SA_ROLE\",\"isDisabled\":false}"
	case $status in
	200 | 201) ;;
	*) die "Grafana answered $status to POST /api/serviceaccounts: $(why)" ;;
	esac
	sa_id=$(printf '%s' "$body" | num id)
	[ -n "$sa_id" ] || die "no id in Grafana's answer to POST /api/serviceaccounts"
	log "created service account $SA_NAME (id $sa_id, role $SA_ROLE)"
}

# new_token sets token, token_id and token_name: a new token of sa_id.
new_token() {
	token_name="$SA_NAME-$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
	grafana POST "/api/serviceaccounts/$sa_id/tokens" "{\"name\":\"$token_name\"}"
	case $status in
	200 | 201) ;;
	*) die "Grafana answered $status to POST /api/serviceaccounts/$sa_id/tokens: $(why)" ;;
	esac
	token=$(printf '%s' "$body" | str key)
	token_id=$(printf '%s' "$body" | num id)
	body=
	[ -n "$token" ] && [ -n "$token_id" ] || die "no key or id in Grafana's answer to POST /api/serviceaccounts/$sa_id/tokens"
}

drop_token() {
	grafana DELETE "/api/serviceaccounts/$sa_id/tokens/$token_id"
	log "deleted token $token_name (id $token_id) from Grafana again (answer $status)"
}

store() {
	if [ -n "$TOKEN_FILE" ]; then
		_tmp="$TOKEN_FILE.tmp.$$"
		(umask 027 && printf '%s\n' "$1" >"$_tmp") || return 1
		if [ -n "$TOKEN_FILE_OWNER" ]; then
			chown "$TOKEN_FILE_OWNER" "$_tmp" || {
				rm -f "$_tmp"
				return 1
			}
		fi
		mv -f "$_tmp" "$TOKEN_FILE"
		return
	fi
	_b64=$(printf '%s' "$1" | base64 | tr -d '\n')
	_doc=$(printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s","namespace":"%s","labels":{"app.kubernetes.io/name":"meshwatch-intake-token","app.kubernetes.io/part-of":"meshwatch"},"annotations":{"meshwatch.io/grafana-token":"%s/%s"}},"type":"Opaque","data":{"%s":"%s"}}' \
		"$SECRET_NAME" "$NAMESPACE" "$SA_NAME" "$token_name" "$SECRET_KEY" "$_b64")
	kube PATCH "/api/v1/namespaces/$NAMESPACE/secrets/$SECRET_NAME?fieldManager=meshwatch-intake-token&force=true" \
		application/apply-patch+yaml "$_doc"
	_doc= _b64=
	case $status in
	200 | 201) return 0 ;;
	*)
		log "the API server answered $status to the server-side apply of $where: $(why)"
		return 1
		;;
	esac
}

# 1. Grafana up.
start=$(date +%s)
while :; do
	req "" "$GRAFANA_URL/api/health"
	[ "$status" = 200 ] && break
	[ $(($(date +%s) - start)) -lt "$WAIT_SECONDS" ] ||
		die "GET $GRAFANA_URL/api/health did not answer 200 within ${WAIT_SECONDS}s (last answer: $status)"
	log "waiting for Grafana: GET $GRAFANA_URL/api/health answered $status"
	sleep "$POLL_SECONDS"
done

# 2. Keep a token that works.
read_stored
if [ -n "$stored" ]; then
	if token_works "$stored"; then
		log "Grafana accepts the token in $where: kept it"
		exit 0
	fi
	log "Grafana refuses the token in $where (401): making a new one"
else
	log "no token in $where yet: making one"
fi
stored=

# 3. Service account, token, check, store.
find_sa
new_token
if ! token_works "$token"; then
	drop_token
	die "Grafana refuses the token it just made for $SA_NAME (401)"
fi
if ! store "$token"; then
	drop_token
	die "could not store the token in $where"
fi
log "stored token $token_name (id $token_id) of service account $SA_NAME (id $sa_id) in $where"
