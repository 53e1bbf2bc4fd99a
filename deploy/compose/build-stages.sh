#!/usr/bin/env bash
# Runs the build stages of deploy/compose/Dockerfile on this machine, without
# Docker: each stage's COPY (from the repository, as the build context) and
# RUN instructions, in order, in a clean directory of its own — so the
# commands `docker compose build` runs are known to work on a fresh copy of
# the checkout. Only what Docker adds is missing: the base image (this
# machine's Node and Go stand in for node:22 and golang:1.26) and the
# .dockerignore (the COPY sources name no ignored path; compose_test.go
# checks that). COPY --from between stages is left to Docker.
#
# Usage: bash deploy/compose/build-stages.sh [stage...]   (default: frontend backend)
# Prints each stage's time; keeps nothing (KEEP=1 keeps the work directory).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DF="$ROOT/deploy/compose/Dockerfile"
STAGES=("$@"); [[ ${#STAGES[@]} -gt 0 ]] || STAGES=(frontend backend)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/meshwatch-build-stages.XXXXXX")"
cleanup() { [[ -n "${KEEP:-}" ]] && { echo "kept $WORK"; return; }; chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export TARGETARCH="${TARGETARCH:-$(go env GOARCH)}"

# instructions STAGE: the stage's instructions, one a line, continuations joined.
instructions() {
  awk -v want="$1" '
    /^[ \t]*#/ && !cont { next }
    { line = cont ? line " " $0 : $0 }
    /\\[ \t]*$/ { sub(/\\[ \t]*$/, "", line); cont = 1; next }
    { cont = 0 }
    toupper($1) == "FROM" { in_stage = (tolower($3) == "as" && $4 == want); line = ""; next }
    in_stage && line ~ /[^ \t]/ { print line }
    { line = "" }
  ' "$DF"
}

for stage in "${STAGES[@]}"; do
  dir="$WORK/$stage"; mkdir -p "$dir"; cwd="$dir"
  n=0; t0=$(date +%s)
  echo "== stage $stage"
  while IFS= read -r ins; do
    n=$((n + 1))
    read -r op rest <<<"$ins"
    case "${op^^}" in
      WORKDIR) cwd="$dir$rest"; mkdir -p "$cwd" ;;
      ARG|ENV|EXPOSE|ENTRYPOINT|LABEL|USER|CMD) ;;
      COPY)
        read -r -a args <<<"$rest"
        if [[ "${args[0]}" == --from=* ]]; then echo "   (skipped: $ins)"; continue; fi
        args=("${args[@]/--chown=*/}")
        dst="${args[-1]}"; unset 'args[-1]'
        [[ "$dst" == /* ]] && dst="$dir$dst" || dst="$cwd/$dst"
        for src in "${args[@]}"; do
          [[ -n "$src" ]] || continue
          if [[ -d "$ROOT/$src" ]]; then mkdir -p "$dst"; cp -a "$ROOT/${src%/}/." "$dst"
          else mkdir -p "$(dirname "$dst/x")"; cp -a "$ROOT/"$src "$dst"; fi
        done
        echo "   COPY ${args[*]} -> ${dst#"$dir"}" ;;
      RUN)
        echo "   RUN $rest"
        (cd "$cwd" && bash -euo pipefail -c "$rest") 2>&1 | sed 's/^/     | /' ;;
      *) echo "build-stages: unsupported instruction in stage $stage: $ins" >&2; exit 1 ;;
    esac
  done < <(instructions "$stage")
  [[ $n -gt 0 ]] || { echo "build-stages: no stage $stage in $DF" >&2; exit 1; }
  echo "== stage $stage: $n instructions in $(( $(date +%s) - t0 ))s"
  case "$stage" in
    frontend) test -s "$cwd/dist/module.js" && test -s "$cwd/dist/plugin.json" ;;
    backend) ls "$cwd/dist/"gpx_mesh_linux_* >/dev/null && test -x "$cwd/out/meshwatch" ;;
  esac
done
echo "build stages ok: ${STAGES[*]}"
