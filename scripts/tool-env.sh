# Sourced: sets PROMETHEUS_BIN, PROMTOOL_BIN, ALERTMANAGER_BIN, AMTOOL_BIN, PG_BIN_DIR and
# CHROMIUM_BIN (Debian's chromium, for the console's browser test) from
# the environment, else from PATH and Debian's locations. Leaves a variable empty when not found.
_cw_find() { command -v "$1" 2>/dev/null || true; }
export PROMETHEUS_BIN="${PROMETHEUS_BIN:-$(_cw_find prometheus)}"
export PROMTOOL_BIN="${PROMTOOL_BIN:-$(_cw_find promtool)}"
export ALERTMANAGER_BIN="${ALERTMANAGER_BIN:-$(_cw_find prometheus-alertmanager)}"
[ -n "$ALERTMANAGER_BIN" ] || ALERTMANAGER_BIN="$(_cw_find alertmanager)"
export AMTOOL_BIN="${AMTOOL_BIN:-$(_cw_find amtool)}"
export CHROMIUM_BIN="${CHROMIUM_BIN:-$(_cw_find chromium)}"
if [ -z "${PG_BIN_DIR:-}" ]; then
    for _cw_dir in /usr/lib/postgresql/*/bin; do
        [ -x "$_cw_dir/initdb" ] && PG_BIN_DIR="$_cw_dir"
    done
    [ -n "${PG_BIN_DIR:-}" ] || PG_BIN_DIR="$(dirname "$(_cw_find initdb)" 2>/dev/null || true)"
    [ "$PG_BIN_DIR" = "." ] && PG_BIN_DIR=""
fi
export PG_BIN_DIR
unset -f _cw_find
