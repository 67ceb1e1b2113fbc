#!/usr/bin/env bash
# One command for the client benchmarks (see benchmarks/README.md):
#
#   bash benchmarks/run.sh [--quick] [--only seq,conc,ws-echo] [--clients hyperclient,aiohttp]
#                          [--loops asyncio,uvloop] [--rounds N] [--no-record]
#   bash benchmarks/run.sh profile [--scenario ws-echo] [--client aiohttp] [--loop uvloop]
#                                  [--count N] [--top N]
#   bash benchmarks/run.sh serve          # only start the servers and wait, for manual runs
#   bash benchmarks/run.sh ab REV [--scenario seq] [--loop uvloop] [--pairs 10]
#                                         # REV against the working tree, alternated (ab.py)
#
# It installs nginx from Debian if needed, starts one nginx worker and the WebSocket server
# (wsserver.py) on CPU 1 with a config of its own under benchmarks/.work/, builds
# benchmarks/.work/venv (hyperclient editable, aiohttp with its C parser, httpx, uvloop), runs the
# clients on CPU 0 and stops the servers on every exit path.
set -euo pipefail
STARTED="$(date +%s.%N)"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
WORK="$HERE/.work"
VENV="$WORK/venv"
NGX="$WORK/nginx"
PYTHON="${PYTHON:-python3}"
BIG_MIB=100
BENCH_PACKAGES=(aiohttp httpx uvloop pyinstrument)
ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so

# aiohttp falls back to its pure-Python parser when this is set; the comparison is against the
# C parser, so it must not leak in from the caller's environment.
unset AIOHTTP_NO_EXTENSIONS

log() { printf '[bench] %s\n' "$*" >&2; }

mode=bench
case "${1:-}" in
    profile | serve | ab) mode="$1"; shift ;;
esac

if [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU=1
    CLIENT_CPU=0
else
    log "only one CPU: nothing is pinned and the server shares the core with the clients"
    SERVER_CPU=""
    CLIENT_CPU=""
fi

pinned() {
    local cpu="$1"
    shift
    if [ -n "$cpu" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_nginx() {
    if command -v nginx >/dev/null && [ -f "$ECHO_MODULE" ]; then
        return
    fi
    log "installing nginx and its echo module from Debian"
    # The package would start the system's own nginx on port 80; a temporary policy-rc.d (the
    # Debian mechanism for exactly this) keeps it from doing so when none is in place.
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod +x "$policy"
        made_policy=1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        nginx libnginx-mod-http-echo >/dev/null
    if [ -n "$made_policy" ]; then as_root rm -f "$policy"; fi
}

setup_venv() {
    local stamp="$VENV/.bench-stamp" want
    want="$(cat "$REPO/pyproject.toml" <(printf '%s\n' "${BENCH_PACKAGES[@]}") | sha256sum)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    log "building $VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$REPO[speedups]" "${BENCH_PACKAGES[@]}"
    # The peer must be aiohttp at its fastest: its C (llhttp) response parser, not the fallback.
    "$VENV/bin/python" -c '
import aiohttp._http_parser as c, aiohttp.http_parser as p
assert p.HttpResponseParser is c.HttpResponseParser, "aiohttp runs its pure-Python parser"
'
    printf '%s\n' "$want" >"$stamp"
}

make_big_file() {
    local big="$WORK/www/big" size=$((BIG_MIB * 1024 * 1024))
    mkdir -p "$WORK/www"
    if [ "$(stat -c %s "$big" 2>/dev/null || echo 0)" != "$size" ]; then
        log "writing a ${BIG_MIB} MiB file for /big"
        head -c "$size" /dev/urandom >"$big.tmp"
        mv "$big.tmp" "$big"
    fi
}

free_port() {
    "$VENV/bin/python" -c '
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
'
}

write_nginx_conf() {
    local port="$1" user_line=""
    mkdir -p "$NGX/tmp"
    # Workers of a root master switch to "nobody", who may not read the work tree.
    if [ "$(id -u)" -eq 0 ]; then user_line="user root;"; fi
    cat >"$NGX/nginx.conf" <<EOF
# Written by benchmarks/run.sh on every run; edits here are lost.
load_module $ECHO_MODULE;
$user_line
daemon off;
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    server {
        listen 127.0.0.1:$port backlog=1024;
        root $WORK/www;
        location = /small {
            default_type text/plain;
            return 200 "Hello, World!";
        }
        location = /big {
            default_type application/octet-stream;
        }
        # "return" would answer before the body is read (nginx then discards it while the
        # client is still sending); echo_read_request_body reads it all first, into memory
        # because the buffer is larger than one 16 MiB upload.
        location = /upload {
            client_max_body_size 0;
            client_body_buffer_size 32m;
            echo_read_request_body;
            echo -n "ok";
        }
    }
}
EOF
}

NGINX_PID=""
stop_nginx() {
    local pid="$NGINX_PID"
    # nginx writes its master's pid itself: the authority if anything came between us and it.
    if [ -s "$NGX/nginx.pid" ]; then pid="$(cat "$NGX/nginx.pid")"; fi
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        if [ "$pid" = "$NGINX_PID" ]; then
            wait "$pid" 2>/dev/null || true
        else
            for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        fi
        log "nginx stopped"
    fi
    rm -f "$NGX/nginx.pid"
    NGINX_PID=""
}

WS_PID=""
stop_ws_server() {
    if [ -n "$WS_PID" ] && kill -0 "$WS_PID" 2>/dev/null; then
        kill -TERM "$WS_PID" 2>/dev/null || true
        wait "$WS_PID" 2>/dev/null || true
        log "WebSocket server stopped"
    fi
    WS_PID=""
}

stop_servers() {
    stop_ws_server
    stop_nginx
}

start_ws_server() {
    local port cmd
    port="$(free_port)"
    cmd=("$VENV/bin/python" "$HERE/wsserver.py" "$port")
    if [ -n "$SERVER_CPU" ]; then cmd=(taskset -c "$SERVER_CPU" "${cmd[@]}"); fi
    # Exec'd by the forked child like nginx, so $! is the server itself (its CPU is recorded).
    "${cmd[@]}" </dev/null >"$WORK/wsserver.log" 2>&1 9>&- &
    WS_PID=$!
    WS_URL="ws://127.0.0.1:$port"
}

start_nginx() {
    local port cmd
    port="$(free_port)"
    write_nginx_conf "$port"
    : >"$NGX/error.log"
    rm -f "$NGX/nginx.pid" # so that stop_nginx never reads a stale one
    cmd=(nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log")
    if [ -n "$SERVER_CPU" ]; then cmd=(taskset -c "$SERVER_CPU" "${cmd[@]}"); fi
    # A simple command run with & is exec'd in the forked child (taskset then execs nginx), so
    # $! is the nginx master; its output goes to the log so that it never holds our stdout open.
    "${cmd[@]}" </dev/null >>"$NGX/error.log" 2>&1 9>&- &
    NGINX_PID=$!
    BASE_URL="http://127.0.0.1:$port"
}

check_servers() {
    if ! "$VENV/bin/python" "$HERE/bench.py" check --url "$BASE_URL" --ws-url "$WS_URL" \
        --big-size $((BIG_MIB * 1024 * 1024)); then
        log "the servers are not serving as expected; their logs:"
        cat "$NGX/error.log" "$WORK/wsserver.log" >&2
        exit 1
    fi
    log "nginx $(nginx -v 2>&1 | sed 's|.*/||') serving $BASE_URL (pid $NGINX_PID)," \
        "wsserver.py serving $WS_URL (pid $WS_PID), on cpu ${SERVER_CPU:-any}"
}

install_nginx
mkdir -p "$WORK"
# Two runs at once would measure each other and share nginx's pid file, so that the first to
# exit would stop the other's server: a second run waits for the first. The servers do not
# inherit the lock (9>&- where they start), so a server outliving a killed run cannot hold it.
exec 9>"$WORK/run.lock"
if ! flock -n 9; then
    log "another benchmark run holds $WORK/run.lock; waiting for it to finish"
    flock 9
fi
setup_venv
make_big_file
trap stop_servers EXIT
trap 'stop_servers; exit 130' INT TERM
start_nginx
start_ws_server
check_servers

case "$mode" in
    bench)
        "$VENV/bin/python" "$HERE/bench.py" run --url "$BASE_URL" --ws-url "$WS_URL" \
            --big-size $((BIG_MIB * 1024 * 1024)) --client-cpu "$CLIENT_CPU" \
            --server-pids "$NGINX_PID,$WS_PID" --started "$STARTED" \
            --server "nginx $(nginx -v 2>&1 | sed 's|.*/||'), wsserver.py on uvloop" "$@"
        ;;
    profile)
        pinned "$CLIENT_CPU" "$VENV/bin/python" "$HERE/profile.py" --url "$BASE_URL" \
            --ws-url "$WS_URL" "$@"
        ;;
    ab)
        "$VENV/bin/python" "$HERE/ab.py" --url "$BASE_URL" --ws-url "$WS_URL" \
            --client-cpu "$CLIENT_CPU" "$@"
        ;;
    serve)
        log "serving until interrupted (Ctrl-C)"
        wait "$NGINX_PID"
        ;;
esac
