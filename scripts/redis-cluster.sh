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
#   scripts/redis-cluster.sh start-node BASE_PORT PORT  restart a killed node: first waits until
#                                                the cluster has failed it over (its replica
#                                                serves its slots, cluster_state:ok), then starts
#                                                it and waits until it is a replica in sync
#
# The nodes keep no data on disk (no RDB, no AOF): a killed master's data survives in its
# replica only. A master restarted before its replica took over would come back empty and keep
# its slots (its replica then copies the empty data set): start-node therefore waits for the
# failover (at most REDIS_FAILOVER_WAIT seconds, default 30) and refuses to restart otherwise.
#
# Environment: REDIS_CLUSTER_DIR (default ${TMPDIR:-/tmp}/halfstep-redis-cluster-BASE_PORT),
# REDIS_NODE_TIMEOUT (cluster-node-timeout in ms, default 1000: failover within a few seconds),
# REDIS_SERVER / REDIS_CLI (default: from PATH, then /usr/bin),
# REDIS_TLS_CERT, REDIS_TLS_KEY, REDIS_TLS_CA (all three: the nodes listen with TLS only, on the
# same ports, cluster bus and replication over TLS too; clients need rediss://),
# REDIS_EXTRA_ARGS (more redis-server arguments, e.g. "--aclfile /path/users.acl"),
# REDIS_FAILOVER_WAIT (seconds start-node waits for the failover, default 30).
set -euo pipefail

cmd=${1:-}
base=${2:-7100}
dir=${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/halfstep-redis-cluster-$base}
timeout_ms=${REDIS_NODE_TIMEOUT:-1000}
server=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
cli=${REDIS_CLI:-$(command -v redis-cli || echo /usr/bin/redis-cli)}
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base + i))); done
failover_wait=${REDIS_FAILOVER_WAIT:-30}
tls_server=()
tls_cli=()
if [[ -n ${REDIS_TLS_CERT:-} || -n ${REDIS_TLS_KEY:-} || -n ${REDIS_TLS_CA:-} ]]; then
  [[ -n ${REDIS_TLS_CERT:-} && -n ${REDIS_TLS_KEY:-} && -n ${REDIS_TLS_CA:-} ]] ||
    { echo "redis-cluster.sh: REDIS_TLS_CERT, REDIS_TLS_KEY and REDIS_TLS_CA go together" >&2; exit 1; }
  tls_server=(--port 0 --tls-port PORT --tls-cert-file "$REDIS_TLS_CERT" --tls-key-file "$REDIS_TLS_KEY"
    --tls-ca-cert-file "$REDIS_TLS_CA" --tls-auth-clients optional --tls-cluster yes --tls-replication yes)
  tls_cli=(--tls --cacert "$REDIS_TLS_CA")
fi
extra=()
if [[ -n ${REDIS_EXTRA_ARGS:-} ]]; then read -r -a extra <<<"$REDIS_EXTRA_ARGS"; fi

# redis-cli on node PORT (TLS when the cluster uses it).
rcli() {
  local port=$1
  shift
  "$cli" "${tls_cli[@]}" -h 127.0.0.1 -p "$port" "$@"
}

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
  local listen=(--port "$port")
  if ((${#tls_server[@]})); then listen=("${tls_server[@]/#PORT/$port}"); fi
  mkdir -p "$dir/$port"
  "$server" "${listen[@]}" --bind 127.0.0.1 --daemonize yes \
    --dir "$dir/$port" --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$timeout_ms" --cluster-replica-validity-factor 0 \
    --cluster-require-full-coverage no --save '' --appendonly no \
    --protected-mode no "${extra[@]}" >/dev/null
}

# The first node other than PORT that answers.
live_node() {
  local p
  for p in "${ports[@]}"; do
    [[ $p == "$1" ]] && continue
    if rcli "$p" ping 2>/dev/null | grep -q PONG; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Waits until the cluster no longer counts on the killed node PORT: when it was a master with
# slots, until another node serves them (its replica was promoted) and cluster_state is ok.
wait_failover() {
  local port=$1 id live line flags slots
  id=$(awk '$3 ~ /myself/ {print $1}' "$dir/$port/nodes.conf" 2>/dev/null || true)
  [[ -n $id ]] || return 0 # never joined: nothing to wait for
  for _ in $(seq $((failover_wait * 5))); do
    if live=$(live_node "$port"); then
      line=$(rcli "$live" cluster nodes 2>/dev/null | awk -v id="$id" '$1 == id')
      flags=$(awk '{print $3}' <<<"$line")
      slots=$(awk '{for (i = 9; i <= NF; i++) printf "%s ", $i}' <<<"$line")
      if [[ -z $line || $flags == *slave* ]]; then
        return 0 # a replica: restarting it loses nothing
      fi
      if [[ -z $slots ]] && rcli "$live" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
        return 0 # its slots are served by the promoted replica
      fi
      if [[ $flags == *fail* && $flags != *fail\?* ]] &&
        ! rcli "$live" cluster nodes 2>/dev/null | awk -v id="$id" '$4 == id' | grep -q .; then
        echo "redis-cluster.sh: master $port had no replica: its slots' data is lost; restarting it empty" >&2
        return 0
      fi
    fi
    sleep 0.2
  done
  die "node $port still holds its slots after ${failover_wait} s (no failover): not restarting it, which would bring it back empty and lose its slots' data (see $dir/*/redis.log)"
}

# Waits until the restarted node PORT answers and, as a replica, is in sync with its master.
wait_rejoined() {
  local port=$1
  for _ in $(seq $((failover_wait * 10))); do
    if rcli "$port" ping 2>/dev/null | grep -q PONG &&
      rcli "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
      case $(rcli "$port" role 2>/dev/null | head -1) in
        master) return 0 ;;
        slave) rcli "$port" info replication 2>/dev/null | grep -q 'master_link_status:up' && return 0 ;;
      esac
    fi
    sleep 0.1
  done
  die "node $port did not rejoin in sync within ${failover_wait} s (see $dir/$port/redis.log)"
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
      rcli "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    rcli "$port" ping >/dev/null 2>&1 || die "node $port did not start (see $dir/$port/redis.log)"
  done
  nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  "$cli" "${tls_cli[@]}" --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
    die "cluster create failed: $(tail -5 "$dir/create.log")"
  # Ok on every node, and every replica in sync with its master.
  for _ in $(seq 300); do
    ready=1
    for port in "${ports[@]}"; do
      rcli "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ready=0
      role=$(rcli "$port" role 2>/dev/null | head -1)
      if [[ $role == slave ]]; then
        rcli "$port" info replication 2>/dev/null | grep -q 'master_link_status:up' || ready=0
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
    pid=$(cat "$dir/$port/redis.pid")
    kill -9 "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ;;
  start-node)
    port=${3:?usage: $0 start-node BASE_PORT PORT}
    if rcli "$port" ping 2>/dev/null | grep -q PONG; then die "node $port is running"; fi
    wait_failover "$port"
    rm -f "$dir/$port/redis.pid"
    start_node "$port"
    wait_rejoined "$port"
    echo "node $port rejoined as $(rcli "$port" role 2>/dev/null | head -1)"
    ;;
  status)
    rcli "$base" cluster info
    rcli "$base" cluster nodes
    ;;
  *) die "usage: $0 start|stop|status [BASE_PORT] | kill-node|start-node BASE_PORT PORT" ;;
esac
