#!/usr/bin/env bash
# gpuctl-rpc.sh: talk to gpuctld with nothing but socat and jq.
#
#   gpuctl-rpc.sh call METHOD [PARAMS_JSON]   any method; prints its result as JSON
#   gpuctl-rpc.sh status                      one line: budget, backends, resident models
#   gpuctl-rpc.sh swap MODEL                  make MODEL the one resident model
#   gpuctl-rpc.sh generate MODEL [PROMPT]     stream the answer (the prompt from stdin if not given)
#   gpuctl-rpc.sh events [TYPE...]            follow events as JSON lines until Ctrl-C
#
# The socket: $GPUCTL_SOCKET, else $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock, else
# /run/gpuctl/gpuctld.sock (as gpuctl resolves it). An error is printed as the daemon's one
# sentence with its kind, and the exit status is 1 (2 for bad usage, 69 when no daemon answers).
set -euo pipefail

for tool in socat jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "gpuctl-rpc.sh: $tool is needed (apt install $tool)" >&2; exit 69; }
done

socket=${GPUCTL_SOCKET:-}
if [ -z "$socket" ]; then
  if [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -S "$XDG_RUNTIME_DIR/gpuctl/gpuctld.sock" ]; then
    socket=$XDG_RUNTIME_DIR/gpuctl/gpuctld.sock
  else
    socket=/run/gpuctl/gpuctld.sock
  fi
fi
[ -S "$socket" ] || { echo "gpuctl-rpc.sh: gpuctld is not running: no socket at $socket; start gpuctld or set GPUCTL_SOCKET" >&2; exit 69; }

# rpc METHOD PARAMS: sends one request and prints every line the daemon answers (stream
# notifications, then the reply). socat keeps reading for up to an hour after it has sent the
# request, which is what a long generation needs; the daemon closes when it has answered.
rpc() {
  jq -cn --arg method "$1" --argjson params "$2" '{jsonrpc: "2.0", id: 1, method: $method, params: $params}' |
    socat -t 3600 - "UNIX-CONNECT:$socket"
}

# result: reads reply lines, prints the result, or the error on stderr with status 1.
result() {
  jq -c --unbuffered 'select(has("id")) | if .error then .error else .result end' | {
    IFS= read -r line || { echo "gpuctl-rpc.sh: gpuctld closed the connection without answering" >&2; return 1; }
    if jq -e 'has("code") and has("message")' <<<"$line" >/dev/null; then
      jq -r '"gpuctl-rpc.sh: \(.message) [\(.data.kind // "error")]"' <<<"$line" >&2
      return 1
    fi
    printf '%s\n' "$line"
  }
}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

command=${1:-}
[ -n "$command" ] || usage
shift
case "$command" in
  call)
    [ $# -ge 1 ] || usage
    rpc "$1" "${2:-{\}}" | result
    ;;
  status)
    rpc status '{}' | result | jq -r '
      "budget \(.budget.budget / 1073741824 * 10 | round / 10) GiB of \(.budget.total / 1073741824 * 10 | round / 10) GiB; ollama \(.backends.ollama.state), comfyui \(.backends.comfyui.state); jobs \(.jobs.queued) queued, \(.jobs.running) running"'
    rpc models.list '{}' | result | jq -r '.models[] | select(.state != "absent") | "  \(.name) \(.state)"'
    ;;
  swap)
    [ $# -eq 1 ] || usage
    rpc models.swap "$(jq -cn --arg model "$1" '{model: $model}')" | result |
      jq -r '"\(.model) \(.outcome) in \(.elapsedMs | round) ms; resident: \(.resident | join(", "))"'
    ;;
  generate)
    [ $# -ge 1 ] || usage
    model=$1
    if [ $# -ge 2 ]; then prompt=$2; else prompt=$(cat); fi
    params=$(jq -cn --arg model "$model" --arg prompt "$prompt" '{model: $model, prompt: $prompt}')
    # Text as it arrives; the error, if any, on stderr with status 1.
    rpc generate "$params" | jq -j --unbuffered '
      if .method == "stream" then (.params.data.text // "")
      elif .error then ("gpuctl-rpc.sh: \(.error.message) [\(.error.data.kind // "error")]\n" | halt_error(1))
      else "\n" end'
    ;;
  events)
    params=$(jq -cn '$ARGS.positional as $types | if ($types | length) > 0 then {types: $types} else {} end' --args "$@")
    rpc events.subscribe "$params" | jq -c --unbuffered '
      if .method == "stream" then .params.data
      elif .error then ("gpuctl-rpc.sh: \(.error.message) [\(.error.data.kind // "error")]\n" | halt_error(1))
      else empty end'
    ;;
  *) usage ;;
esac
