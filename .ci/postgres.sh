# Sourced by .ci/run (and usable by hand: `source .ci/postgres.sh`): starts a private PostgreSQL
# cluster for the test suite and exports BORDIN_TEST_PG_URL and BORDIN_REQUIRE_PG=1. The cluster
# lives in a temporary directory, listens only on 127.0.0.1 on its own port, and is stopped and
# removed when the shell exits. It uses the same durability settings Bordin promises for
# production (fsync=on, synchronous_commit=on), so the crash test tests them.
#
# Works on a fresh Debian machine: installs Debian's `postgresql` package when no server binaries
# are found. As root, the server runs as the `postgres` user (initdb refuses root).

bordin_pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

bordin_pg_start() {
    local bindir
    if ! bindir="$(bordin_pg_bindir)"; then
        echo "== installing postgresql (Debian package)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bindir="$(bordin_pg_bindir)" || { echo "PostgreSQL server binaries not found after install" >&2; return 1; }
    fi
    BORDIN_PG_DIR="$(mktemp -d /tmp/bordin-pg.XXXXXX)"
    local run=()
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        chown postgres "$BORDIN_PG_DIR"
        run=(runuser -u postgres --)
    fi
    BORDIN_PG_RUN=("${run[@]}")
    BORDIN_PG_CTL="$bindir/pg_ctl"
    # A free port: ask the kernel for one (python3 is on every Debian CI image; fall back to a
    # port derived from the PID).
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 20000)))"
    "${run[@]}" "$bindir/initdb" -D "$BORDIN_PG_DIR/data" -U bordin --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
        "${run[@]}" "$bindir/initdb" -D "$BORDIN_PG_DIR/data" -U bordin --auth=trust -E UTF8 --locale=C >/dev/null
    # Durability as in production (shared/reference/security.md): a commit returns only once
    # its WAL is on disk. Only loopback, a socket directory of our own, enough connections for
    # parallel tests (each test's pool holds up to 16).
    "${run[@]}" "$BORDIN_PG_CTL" -D "$BORDIN_PG_DIR/data" -l "$BORDIN_PG_DIR/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$BORDIN_PG_DIR -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=400" \
        start >/dev/null || { cat "$BORDIN_PG_DIR/log" >&2; return 1; }
    # Stop it at exit, keeping any EXIT trap set before (other blocks of .ci/run may have one).
    local prev
    prev="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
    trap "bordin_pg_stop${prev:+; $prev}" EXIT
    export BORDIN_TEST_PG_URL="postgres://bordin@127.0.0.1:$port/postgres"
    export BORDIN_REQUIRE_PG=1
    echo "== PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync=on, synchronous_commit=on)"
}

bordin_pg_stop() {
    if [ -n "${BORDIN_PG_DIR:-}" ] && [ -d "$BORDIN_PG_DIR/data" ]; then
        "${BORDIN_PG_RUN[@]}" "$BORDIN_PG_CTL" -D "$BORDIN_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$BORDIN_PG_DIR"
    fi
}

if ! declare -F as_root >/dev/null; then
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
fi
