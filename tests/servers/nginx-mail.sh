#!/bin/bash
# tests/servers/nginx-mail.sh - nginx's mail proxy (SMTP) on 127.0.0.1:PORT in
# front of SRV_BACKEND.
#
#   SRV_BACKEND=127.0.0.1:BPORT nginx-mail.sh start DIR PORT
#   nginx-mail.sh stop DIR      nginx-mail.sh log DIR
#
# (contract in tests/servers/common.sh; packages nginx and
# libnginx-mod-mail from install-packages.sh)
#
# How it runs (Debian bookworm, nginx 1.22.1):
# * `nginx -c DIR/nginx.conf -p DIR/` in the foreground (daemon off), one
#   worker, the mail module loaded from /usr/lib/nginx/modules; the
#   machine's /etc/nginx is not read. Workers run as root: they connect to
#   the helper's socket inside DIR, which may be a 0700 folder.
# * nginx greets ("220 mail.nginx.test ESMTP ready") and answers EHLO
#   itself, from smtp_capabilities (SIZE, ENHANCEDSTATUSCODES, 8BITMIME,
#   DSN: fewer than Postfix offers) and STARTTLS (starttls on, DIR/cert.pem);
#   inside TLS it answers EHLO again itself. Only after MAIL FROM (smtp_auth
#   none) does it ask the auth_http helper where to go and open a
#   connection to the backend (xclient off: it sends its own EHLO there).
#   So a check that sends no mail never reaches the backend.
# * The auth_http helper is nginx-auth.py beside this script (Debian's
#   /usr/bin/python3), on the Unix socket DIR/auth.sock: every session is
#   sent to SRV_BACKEND. Its log is DIR/auth.log.
#
# Environment: SRV_BACKEND (required), SRV_HOSTNAME (default
# mail.nginx.test), SRV_START_TIMEOUT, SRV_STOP_TIMEOUT (seconds).
set -euo pipefail

SRV_NAME=nginx-mail.sh
SRV_KIND=nginx-mail
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.nginx.test}
SRV_NEEDS_BACKEND=1
SRV_LOGS="error.log auth.log nginx.out"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

NGINX=/usr/sbin/nginx
MAIL_MODULE=/usr/lib/nginx/modules/ngx_mail_module.so
PYTHON=/usr/bin/python3

srv_pids() { srv_proc_pids "$(srv_exe_re "$NGINX")|$(srv_exe_re "$PYTHON")" "$1"; }

srv_launch() {
    local dir=$1 port=$2 i
    { [ -x "$NGINX" ] && [ -f "$MAIL_MODULE" ]; } ||
        srv_die "nginx or its mail module is missing (run tests/servers/install-packages.sh)"
    cat >"$dir/nginx.conf" <<CONF
# throw-away nginx configuration made by tests/servers/nginx-mail.sh
load_module $MAIL_MODULE;
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
mail {
    server_name $SRV_HOSTNAME;
    auth_http unix:$dir/auth.sock:/auth;
    proxy_pass_error_message on;
    xclient off;
    smtp_auth none;
    smtp_capabilities "SIZE 10240000" "ENHANCEDSTATUSCODES" "8BITMIME" "DSN";
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    server {
        listen 127.0.0.1:$port;
        protocol smtp;
        starttls on;
    }
}
CONF
    srv_spawn "$dir" auth.log "$PYTHON" "$HERE/nginx-auth.py" "$dir/auth.sock" "$BACKEND_HOST" "$BACKEND_PORT"
    for ((i = 0; i < 100; i++)); do
        [ -S "$dir/auth.sock" ] && break
        sleep 0.05
    done
    [ -S "$dir/auth.sock" ] || srv_die "the auth_http helper did not make $dir/auth.sock: $(cat "$dir/auth.log")"
    "$NGINX" -t -q -c "$dir/nginx.conf" -p "$dir/" >"$dir/check.log" 2>&1 ||
        { cat "$dir/check.log" >&2; srv_die "nginx refused $dir/nginx.conf"; }
    # srv_spawn would overwrite the helper's spawn.pid: that is fine, stop
    # finds both by their working folder.
    srv_spawn "$dir" nginx.out "$NGINX" -c "$dir/nginx.conf" -p "$dir/"
}

srv_main "$@"
