# shellcheck shell=bash disable=SC2016,SC2015
# (SC2016: the single-quoted bash -c scripts expand their own $1.)
# tests/servers/common.sh - helpers shared by the server and proxy scripts
# of tests/servers/. Sourced, not run. Bash only.
#
# Conventions of the server scripts:
#   start DIR PORT   DIR is created (it may not exist, or be an empty folder, or a
#                    folder left by an earlier start of the same kind of server)
#                    and holds everything: configuration, spool, logs, certificate.
#                    The server listens on 127.0.0.1:PORT only.
#                    Exit 0 once the port answers a 220 greeting from this server;
#                    exit 3 if PORT was already taken by something else (the caller
#                    may retry another port); exit 1 on any other failure, with the
#                    server's own log on stderr.
#   stop DIR         stops the server, waits until all its processes are gone,
#                    removes DIR. Idempotent: a missing DIR is fine.
#   log DIR          prints the server's log.
# Proxies take the same three commands and learn their backend from the
# environment: SRV_BACKEND=127.0.0.1:PORT (loopback only: nothing is ever
# sent anywhere else).
#
# Every folder the scripts remove carries a marker file, so that `stop` given a
# wrong folder never deletes something that isn't ours.

SRV_MARKER=.check_smtp_fixup-server
SRV_START_TIMEOUT=${SRV_START_TIMEOUT:-15}   # seconds to wait for the 220 greeting
SRV_STOP_TIMEOUT=${SRV_STOP_TIMEOUT:-10}     # seconds to wait for processes to go

srv_die() { printf '%s: error: %s\n' "$SRV_NAME" "$*" >&2; exit 1; }
srv_note() { printf '%s: %s\n' "$SRV_NAME" "$*" >&2; }

# srv_check_port PORT: a decimal port in 1024..65535 (unprivileged only).
srv_check_port() {
    case $1 in '' | *[!0-9]*) srv_die "PORT must be a number, got '$1'" ;; esac
    [ "$1" -ge 1024 ] && [ "$1" -le 65535 ] || srv_die "PORT must be in 1024..65535, got $1"
}

# srv_abs_dir DIR: print DIR as an absolute path without creating it. Rejects
# characters that the servers' configuration syntaxes cannot take safely.
srv_abs_dir() {
    local d=$1
    [ -n "$d" ] || srv_die "DIR is empty"
    case $d in /*) ;; *) d=${SRV_CALLER_PWD:-$PWD}/$d ;; esac
    case $d in *[!A-Za-z0-9._/+@=-]*)
        srv_die "DIR may only hold letters, digits and . _ / + @ = - (got '$d')" ;;
    esac
    # Normalise // and trailing /, and resolve . and .. lexically.
    local out='' part IFS=/
    for part in $d; do
        case $part in '' | .) ;; ..) out=${out%/*} ;; *) out=$out/$part ;; esac
    done
    [ -n "$out" ] && [ "$out" != / ] || srv_die "refusing to use '/' as DIR"
    printf '%s\n' "$out"
}

# srv_prepare_dir DIR KIND: make DIR an empty folder of ours. An existing DIR
# must be empty or carry our marker for the same KIND with no server running.
srv_prepare_dir() {
    local dir=$1 kind=$2
    if [ -e "$dir" ]; then
        [ -d "$dir" ] || srv_die "$dir exists and is not a folder"
        if [ -f "$dir/$SRV_MARKER" ]; then
            [ "$(cat "$dir/$SRV_MARKER")" = "$kind" ] ||
                srv_die "$dir belongs to a $(cat "$dir/$SRV_MARKER") server, not $kind"
            if [ -n "$(srv_pids "$dir")" ]; then
                srv_die "a $kind server is still running in $dir (stop it first)"
            fi
            rm -rf "$dir"
        elif [ -n "$(ls -A "$dir")" ]; then
            srv_die "$dir exists, is not empty and was not made by these scripts"
        fi
    fi
    mkdir -p "$dir"
    chmod 755 "$dir"
    printf '%s\n' "$kind" >"$dir/$SRV_MARKER"
}

# srv_make_cert DIR: self-signed certificate DIR/cert.pem, key DIR/key.pem,
# for localhost and 127.0.0.1 (and the server's host name in $SRV_HOSTNAME).
# ECDSA P-256: made in ~20 ms where an RSA-2048 key takes 0.1 s to over 1 s
# (prime search), and both OpenSSL (Postfix) and GnuTLS (Exim) serve it.
srv_make_cert() {
    local dir=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 30 \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" \
        -subj "/CN=$SRV_HOSTNAME" \
        -addext "subjectAltName=DNS:$SRV_HOSTNAME,DNS:localhost,IP:127.0.0.1" \
        >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; srv_die "openssl could not make a certificate"; }
    chmod 600 "$dir/key.pem"
    chmod 644 "$dir/cert.pem"
}

# srv_port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
srv_port_open() {
    timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1' _ "$1" 2>/dev/null
}

# srv_greeting PORT: print the first greeting line of 127.0.0.1:PORT (reading a
# multi-line 220- greeting to its end), then say QUIT. False if no connection.
srv_greeting() {
    timeout 5 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
        first=
        while IFS= read -r -t 4 line <&3; do
            line=${line%$'"'"'\r'"'"'}
            [ -n "$first" ] || first=$line
            case $line in [0-9][0-9][0-9]-*) continue ;; esac
            break
        done
        printf "QUIT\r\n" >&3 2>/dev/null
        [ -n "$first" ] || exit 1
        printf "%s\n" "$first"
    ' _ "$1" 2>/dev/null
}

# srv_alive PID: true if PID runs and is not a zombie (here PID 1 may not reap
# the daemons it inherits, so an exited server can stay as a zombie).
srv_alive() {
    local line rest
    { IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${line##*) }          # the field after "(comm)" is the state
    case ${rest%% *} in Z | X | x | '') return 1 ;; esac
    return 0
}

# srv_tls_greeting PORT: the same through implicit TLS (openssl s_client,
# no certificate check: this only tells that the listener is up).
srv_tls_greeting() {
    local first
    first=$(printf 'QUIT\r\n' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$1" \
        -servername localhost 2>/dev/null | head -n 1 | tr -d '\r') || true
    [ -n "$first" ] || return 1
    printf '%s\n' "$first"
}

# srv_wait_greeting PORT PIDFUNC: wait up to SRV_START_TIMEOUT seconds for a
# greeting on PORT that matches the glob SRV_GREETING_GLOB (default: a 220
# from "$SRV_HOSTNAME"); SRV_GREETING_TLS=1 reads it through implicit TLS.
# PIDFUNC is a command that prints the server's pids; while waiting, if it
# prints none after the first seconds, the server died and we stop early.
srv_wait_greeting() {
    local port=$1 pidfunc=$2 g='' start=$SECONDS
    local glob=${SRV_GREETING_GLOB:-"220[ -]$SRV_HOSTNAME*"}
    local reader=srv_greeting
    [ "${SRV_GREETING_TLS:-0}" = 0 ] || reader=srv_tls_greeting
    while [ $((SECONDS - start)) -lt "$SRV_START_TIMEOUT" ]; do
        if g=$($reader "$port"); then
            # shellcheck disable=SC2053  # a glob on purpose
            [[ $g == $glob ]] && return 0
            srv_note "port $port answers '$g', which is not our server"
            return 1
        fi
        if [ $((SECONDS - start)) -ge 3 ] && [ -z "$($pidfunc)" ]; then
            srv_note "the server is not running"
            return 1
        fi
        sleep 0.1
    done
    srv_note "no 220 greeting on 127.0.0.1:$port within ${SRV_START_TIMEOUT}s"
    return 1
}

# srv_proc_pids EXE_REGEX DIR: pids of live processes whose executable matches
# EXE_REGEX (extended regex, whole path) and that belong to DIR: their working
# folder is inside DIR or their command line names a file inside DIR. Both
# conditions are needed, so a shell that merely stands in DIR is never matched.
srv_proc_pids() {
    local re=$1 dir=$2 path target pid cwd arg match
    local -a argv
    # One find lists every process's executable and working folder (no fork
    # per process); zombies and other users' unreadable entries just drop out.
    while IFS=$'\t' read -r path target; do
        pid=${path#/proc/}; pid=${pid%/exe}
        [ "$pid" != "$$" ] || continue
        target=${target% (deleted)}
        [[ $target =~ ^($re)$ ]] || continue
        match=
        cwd=$(cd "/proc/$pid/cwd" 2>/dev/null && pwd -P) || cwd=
        case "$cwd/" in "$dir"/*) match=1 ;; esac
        if [ -z "$match" ]; then
            mapfile -d '' argv 2>/dev/null <"/proc/$pid/cmdline" || argv=()
            for arg in "${argv[@]}"; do
                case $arg in "$dir"/*) match=1; break ;; esac
            done
        fi
        [ -n "$match" ] && srv_alive "$pid" && printf '%s\n' "$pid"
    done < <(find /proc/[0-9]*/exe -maxdepth 0 -printf '%p\t%l\n' 2>/dev/null)
    return 0
}

# srv_kill_wait PIDFUNC: SIGTERM what PIDFUNC prints, wait up to
# SRV_STOP_TIMEOUT seconds, then SIGKILL what is left and wait again.
srv_kill_wait() {
    local pidfunc=$1 pids start=$SECONDS
    pids=$($pidfunc)
    # shellcheck disable=SC2086  # a list of pids
    [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true
    while [ -n "$($pidfunc)" ]; do
        if [ $((SECONDS - start)) -ge "$SRV_STOP_TIMEOUT" ]; then
            pids=$($pidfunc)
            srv_note "still running after ${SRV_STOP_TIMEOUT}s, killing: $pids"
            # shellcheck disable=SC2086
            [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
            sleep 0.2
            [ -z "$($pidfunc)" ] || srv_die "could not kill: $($pidfunc)"
            return 0
        fi
        sleep 0.05
    done
}

# srv_start_failed DIR OUTFILE MESSAGE: a start that failed: print OUTFILE
# (what the start command said) and MESSAGE, then the server's log (the
# script's cmd_log_to_stderr), and stop what is left of the server.
srv_start_failed() {
    local dir=$1
    cat "$2" >&2
    srv_note "$3"
    cmd_log_to_stderr "$dir"
    srv_kill_wait "srv_pids $dir"
}

# srv_check_ours DIR KIND: fail unless DIR carries the marker of KIND.
srv_check_ours() {
    local dir=$1 kind=$2 mark
    [ -f "$dir/$SRV_MARKER" ] || srv_die "$dir was not made by $SRV_NAME (no $SRV_MARKER in it)"
    mark=$(cat "$dir/$SRV_MARKER")
    [ "$mark" = "$kind" ] || srv_die "$dir holds a $mark server, not $kind: use $mark.sh"
}

# srv_remove_dir DIR KIND: remove DIR if it is ours.
srv_remove_dir() {
    local dir=$1
    [ -e "$dir" ] || return 0
    srv_check_ours "$dir" "$2"
    rm -rf "$dir"
}

srv_usage() {
    cat >&2 <<EOF
usage: $0 start DIR PORT   start $SRV_NAME on 127.0.0.1:PORT, state in DIR
       $0 stop DIR         stop it and remove DIR
       $0 log DIR          print its log
EOF
    exit 2
}

# ---- simple daemons and proxies ------------------------------------------
# The scripts after postfix.sh and exim.sh share one start/stop/log: each
# defines
#   SRV_KIND          the marker of its folders (its own name)
#   srv_pids DIR      the pids of its processes
#   srv_launch DIR PORT   writes the configuration and starts the program
#                     (srv_spawn for one that stays in the foreground)
#   SRV_LOGS          files of DIR that `log` prints, in order
# and ends with `srv_main "$@"`. SRV_NEEDS_BACKEND=1 for a proxy.

# srv_backend: check SRV_BACKEND (HOST:PORT on loopback); sets BACKEND_HOST
# and BACKEND_PORT.
srv_backend() {
    local b=${SRV_BACKEND:-}
    [ -n "$b" ] || srv_die "SRV_BACKEND=127.0.0.1:PORT must name the server behind the proxy"
    BACKEND_HOST=${b%:*}
    BACKEND_PORT=${b##*:}
    case $BACKEND_HOST in 127.* | localhost) ;;
        *) srv_die "SRV_BACKEND must be on 127.0.0.0/8, got '$b'" ;;
    esac
    srv_check_port "$BACKEND_PORT"
}

# srv_spawn DIR LOG COMMAND...: run COMMAND in the background in its own
# session, working folder DIR, no standard input, output to DIR/LOG; its pid
# goes to DIR/spawn.pid.
srv_spawn() {
    local dir=$1 log=$2
    shift 2
    (cd "$dir" && exec setsid "$@" </dev/null >"$dir/$log" 2>&1) &
    printf '%s\n' "$!" >"$dir/spawn.pid"
}

# 0 if a log of the server in DIR says its port was taken.
srv_log_says_in_use() {
    local f
    for f in $SRV_LOGS; do
        [ -s "$1/$f" ] && grep -qiE 'address already in use|EADDRINUSE' "$1/$f" && return 0
    done
    return 1
}

srv_main_start() {
    [ $# -eq 2 ] || srv_usage
    local dir port
    dir=$(srv_abs_dir "$1"); port=$2
    srv_check_port "$port"
    [ "$(id -u)" = 0 ] || srv_die "these test servers need root to start"
    [ "${SRV_NEEDS_BACKEND:-0}" = 0 ] || srv_backend
    if srv_port_open "$port"; then
        srv_note "127.0.0.1:$port is already in use"
        exit 3
    fi
    srv_prepare_dir "$dir" "$SRV_KIND"
    srv_make_cert "$dir"
    srv_launch "$dir" "$port"
    if ! srv_wait_greeting "$port" "srv_pids $dir"; then
        : >"$dir/.empty"
        srv_start_failed "$dir" "$dir/.empty" "$SRV_KIND did not come up on 127.0.0.1:$port; log follows"
        # Ours is stopped: whatever still listens there took the port
        # between our check and our bind, or did and has gone again (its
        # log says so): another port will do.
        ! srv_port_open "$port" || exit 3
        srv_log_says_in_use "$dir" && exit 3
        exit 1
    fi
}

srv_main_stop() {
    [ $# -eq 1 ] || srv_usage
    local dir
    dir=$(srv_abs_dir "$1")
    [ -e "$dir" ] || return 0
    srv_check_ours "$dir" "$SRV_KIND"
    srv_kill_wait "srv_pids $dir"
    srv_remove_dir "$dir" "$SRV_KIND"
}

cmd_log() {
    [ $# -eq 1 ] || srv_usage
    local dir f found=
    dir=$(srv_abs_dir "$1")
    [ -d "$dir" ] || srv_die "no log in $dir"
    for f in $SRV_LOGS; do
        [ -s "$dir/$f" ] || continue
        found=1
        printf -- '----- %s -----\n' "$f"
        cat "$dir/$f"
    done
    [ -n "$found" ] || true
}

cmd_log_to_stderr() {
    printf -- '----- %s -----\n' "$1" >&2
    cmd_log "$1" >&2 2>/dev/null || true
    printf -- '----- end of log -----\n' >&2
}

srv_main() {
    SRV_CALLER_PWD=$PWD
    cd /
    case ${1:-} in
        start) shift; srv_main_start "$@" ;;
        stop) shift; srv_main_stop "$@" ;;
        log) shift; cmd_log "$@" ;;
        *) srv_usage ;;
    esac
}

# srv_exe_re PATH: PATH (resolved) as an extended regex.
srv_exe_re() {
    readlink -f "$1" | sed 's/[][\.*^$(){}+?|]/\\&/g'
}

# srv_ns_pids EXE_REGEX DIR: live processes whose executable matches and
# whose mount namespace is the one recorded in DIR/mntns (for a server that
# runs in a mount namespace of its own, see opensmtpd.sh).
srv_ns_pids() {
    local re=$1 dir=$2 ns path target pid
    [ -s "$dir/mntns" ] || return 0
    ns=$(cat "$dir/mntns")
    while IFS=$'\t' read -r path target; do
        pid=${path#/proc/}; pid=${pid%/exe}
        target=${target% (deleted)}
        [[ $target =~ ^($re)$ ]] || continue
        [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$ns" ] || continue
        srv_alive "$pid" && printf '%s\n' "$pid"
    done < <(find /proc/[0-9]*/exe -maxdepth 0 -printf '%p\t%l\n' 2>/dev/null)
    return 0
}
