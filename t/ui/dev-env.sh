#!/bin/sh
# Development setup for the web UI without the module: Debian's registry:2
# behind a plain nginx that serves ui/ at / and proxies /v2/.
#
#   sh t/ui/dev-env.sh start DIR PORT [PORT2]  (registry:2 on PORT2, default PORT+1)
#   sh t/ui/dev-env.sh stop DIR
#
# nginx adds the headers the module sends (X-Registry-Delete: enabled,
# X-Registry-User: dev) and answers /v2/<name>/referrers/<digest> from
# DIR/referrers/<hex>.json, written by fixtures.pl --referrers-dir, since
# registry:2 has no referrers API.
set -eu
cmd=${1:?start|stop}
dir=${2:?DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)

case $cmd in
start)
    port=${3:?PORT}
    port2=${4:-$((port + 1))}
    mkdir -p "$dir/storage" "$dir/referrers" "$dir/logs"
    cat > "$dir/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port2
EOF
    docker-registry serve "$dir/registry.yml" > "$dir/logs/registry.log" 2>&1 &
    echo $! > "$dir/registry.pid"
    cat > "$dir/nginx.conf" <<EOF
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    types { text/javascript mjs; }
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$port;
        location / {
            root $root/ui;
            index index.html;
        }
        location ~ "^/v2/.+/referrers/sha256:([0-9a-f]{64})\$" {
            root $dir/referrers;
            default_type application/vnd.oci.image.index.v1+json;
            try_files /\$1.json =404;
        }
        location /v2/ {
            proxy_pass http://127.0.0.1:$port2;
            proxy_set_header Host \$http_host;
            proxy_buffering off;
            proxy_request_buffering off;
            add_header X-Registry-Delete enabled always;
            add_header X-Registry-User dev always;
            add_header Access-Control-Expose-Headers "Link, Docker-Content-Digest" always;
        }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    i=0
    while [ $i -lt 50 ]; do
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/"; then
            echo "up: http://127.0.0.1:$port/ (registry:2 pid $(cat "$dir/registry.pid"), nginx pid $(cat "$dir/nginx.pid"))"
            exit 0
        fi
        i=$((i + 1))
        sleep 0.2
    done
    echo "did not come up; see $dir/logs" >&2
    exit 1
    ;;
stop)
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    [ -f "$dir/registry.pid" ] && kill "$(cat "$dir/registry.pid")" 2>/dev/null || true
    rm -f "$dir/nginx.pid" "$dir/registry.pid"
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
