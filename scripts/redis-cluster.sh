#!/usr/bin/env bash
# A local Redis Cluster for halfstep's row store: 3 masters + 3 replicas on 127.0.0.1, in a
# temporary directory, from the system's redis-server (Debian: apt-get install redis-server).
#
#   scripts/redis-cluster.sh start [BASE_PORT]   start on BASE_PORT .. BASE_PORT+5 (default 7100;
#                                                cluster bus ports are those + 10000),
#                                                wait until the cluster is ok, print the nodes
#   scripts/redis-cluster.sh stop [BASE_PORT]    stop those nodes and delete their directory
#   scripts/redis-cluster.sh status [BASE_PORT]  print `cluster info` / `cluster nodes`
#   scripts/redis-cluster.sh kill-node BASE_PORT PORT   SIGKILL one node (failover drills)
#   scripts/redis-cluster.sh start-node BASE_PORT PORT  restart a killed node (it rejoins)
#
# Environment: REDIS_CLUSTER_DIR (default ${TMPDIR:-/tmp}/halfstep-redis-cluster-BASE_PORT),
# REDIS_NODE_TIMEOUT (cluster-node-timeout in ms, default 1000: failover within a few seconds),
# REDIS_SERVER / REDIS_CLI (default: from PATH, then /usr/bin).
set -euo pipefail

cmd=${1:-}
base=${2:-7100}
dir=${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/halfstep-redis-cluster-$base}
timeout_ms=${REDIS_NODE_TIMEOUT:-1000}
server=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
cli=${REDIS_CLI:-$(command -v redis-cli || echo /usr/bin/redis-cli)}
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base + i))); done

die() {
  echo "redis-cluster.sh: $*" >&2
  exit 1
}

stop() {
  # Read every pid first: a node removes its pid file as it shuts down.
  local pids=()
  for port in "${ports[@]}"; do
    pid=$(cat "$dir/$port/redis.pid" 2>/dev/null || true)
    # Only a live redis-server: a killed node's stale pid file may name another process now.
    if [[ -n $pid ]] && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
      pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Wait for the processes to go, then remove their files.
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

start_node() {
  local port=$1
  mkdir -p "$dir/$port"
  "$server" --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir "$dir/$port" --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$timeout_ms" --cluster-replica-validity-factor 0 \
    --cluster-require-full-coverage no --save '' --appendonly no \
    --protected-mode no >/dev/null
}

start() {
  [[ -x $server ]] || die "redis-server not found (install Debian's redis-server package)"
  [[ -x $cli ]] || die "redis-cli not found (install Debian's redis-tools package)"
  # Each node also listens on its cluster bus port, port + 10000.
  for port in "${ports[@]}"; do
    for p in "$port" $((port + 10000)); do
      if (echo >/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
        die "port $p is in use (a node's port or cluster bus port, port + 10000); choose another BASE_PORT"
      fi
    done
  done
  mkdir -p "$dir"
  for port in "${ports[@]}"; do start_node "$port"; done
  for port in "${ports[@]}"; do
    for _ in $(seq 100); do
      "$cli" -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    "$cli" -p "$port" ping >/dev/null 2>&1 || die "node $port did not start (see $dir/$port/redis.log)"
  done
  nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  "$cli" --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
    die "cluster create failed: $(tail -5 "$dir/create.log")"
  # Ok on every node, and every replica in sync with its master.
  for _ in $(seq 300); do
    ready=1
    for port in "${ports[@]}"; do
      "$cli" -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ready=0
      role=$("$cli" -p "$port" role 2>/dev/null | head -1)
      if [[ $role == slave ]]; then
        "$cli" -p "$port" info replication 2>/dev/null | grep -q 'master_link_status:up' || ready=0
      fi
    done
    ((ready)) && break
    sleep 0.1
  done
  ((ready)) || die "the cluster did not become ok within 30 s (logs in $dir)"
  echo "redis cluster ok: ${nodes[*]} (directory $dir)"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  kill-node)
    port=${3:?usage: $0 kill-node BASE_PORT PORT}
    kill -9 "$(cat "$dir/$port/redis.pid")"
    ;;
  start-node)
    port=${3:?usage: $0 start-node BASE_PORT PORT}
    rm -f "$dir/$port/redis.pid"
    start_node "$port"
    ;;
  status)
    "$cli" -p "$base" cluster info
    "$cli" -p "$base" cluster nodes
    ;;
  *) die "usage: $0 start|stop|status [BASE_PORT] | kill-node|start-node BASE_PORT PORT" ;;
esac
