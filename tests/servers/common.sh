# shellcheck shell=bash disable=SC2016,SC2015
# (SC2016: the single-quoted bash -c scripts expand their own $1.)
# tests/servers/common.sh - helpers shared by tests/servers/postfix.sh and
# tests/servers/exim.sh. Sourced, not run. Bash only.
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

# srv_wait_greeting PORT PIDFUNC: wait up to SRV_START_TIMEOUT seconds for a
# "220 $SRV_HOSTNAME" greeting on PORT. PIDFUNC is a command that prints the
# server's pids; while waiting, if it prints none after the first seconds, the
# server died and we stop early.
srv_wait_greeting() {
    local port=$1 pidfunc=$2 g='' start=$SECONDS
    while [ $((SECONDS - start)) -lt "$SRV_START_TIMEOUT" ]; do
        if g=$(srv_greeting "$port"); then
            case $g in
                "220 $SRV_HOSTNAME"* | "220-$SRV_HOSTNAME"*) return 0 ;;
                *) srv_note "port $port answers '$g', which is not our server"; return 1 ;;
            esac
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
