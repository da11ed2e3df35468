#!/bin/bash
# AWS_LAMBDA_EXEC_WRAPPER of the functions whose spec pins V8 flags (v8Flags in
# lib/functions.ts; the flags arrive in LAMBDA_V8_FLAGS). The Node.js runtime starts
#   <this script> <node> <the runtime's flags...> <the runtime's entry script>
# and its flags size the heap from the function's memory (--max-old-space-size,
# --max-semi-space-size), which NODE_OPTIONS cannot override: Node reads NODE_OPTIONS
# first and the command line after it. So this drops the runtime's heap sizes, in either
# spelling and with their values, and starts Node with the pinned flags first.
set -euo pipefail
node="$1"
shift
# Nothing pinned: start Node exactly as the runtime asked.
[ -n "${LAMBDA_V8_FLAGS:-}" ] || exec "$node" "$@"
args=()
skip_value=0
for arg in "$@"; do
  if [ "$skip_value" = 1 ]; then
    skip_value=0
    continue
  fi
  case "$arg" in
    --max-old-space-size=* | --max_old_space_size=* | --max-semi-space-size=* | --max_semi_space_size=*) ;;
    --max-old-space-size | --max_old_space_size | --max-semi-space-size | --max_semi_space_size) skip_value=1 ;;
    *) args+=("$arg") ;;
  esac
done
read -r -a flags <<< "$LAMBDA_V8_FLAGS"
exec "$node" "${flags[@]}" "${args[@]}"
