#!/usr/bin/env bash
# The packages' tests (`make package-test`, part of `make test`): debug packages are
# made from the binaries the test build already made (scripts/package.sh with
# PACKAGE_PROFILE=debug: nothing is compiled), into a temporary directory, then
#
#   server  the server .deb is unpacked into a throwaway root (dpkg -x); its unit is
#           checked (hardening, `systemd-analyze verify`, `systemd-analyze security`);
#           the unit's ExecStart runs as systemd would run it: in a private mount
#           namespace where /usr/bin/latchkey and /etc/latchkey are the package's and
#           /var/lib is empty, as an unprivileged user, with the unit's environment,
#           working directory and umask, no new privileges, no capabilities, and
#           memory-deny-write-execute (the kernel's PR_SET_MDWE). A client gets a token
#           with client credentials; the KEK is a 0600 file under the state directory
#           and on no command line. Then everything goes.
#   console the console .deb is unpacked; its desktop entry, icon and declared
#           dependencies are checked; the unpacked binary opens under Xvfb (through
#           tauri-driver) to its first screen, as a new user starting it from the menu
#           would (an empty home, no arguments), and its About names the same version
#           and commit as the packaged `latchkey --version`.
#
# Prints "N passed, M failed"; exits non-zero on any failure. Needs root (or sudo) for
# the mount namespace. PACKAGE_TEST=server or console runs one half;
# PACKAGE_TEST_PROFILE=release tests release packages (building them first).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# --- inside the mount namespace: the unit's command line, as systemd runs it ----------
# Called as: package-test.sh __serve_as_unit PKGROOT CTRL WORK PUBLIC_PORT ADMIN_PORT
if [ "${1:-}" = __serve_as_unit ]; then
  PKGROOT="$2"; CTRL="$3"; WORK="$4"; PUB="$5"; ADM="$6"
  # The package's files where the unit expects them; the host's stay as they were
  # outside this namespace (overlays whose upper layers are in WORK).
  for d in /etc /usr/bin /usr/lib/systemd/system; do
    n="$(echo "$d" | tr / _)"
    mkdir -p "$WORK/ovl$n/upper" "$WORK/ovl$n/work"
    cp -a "$PKGROOT$d/." "$WORK/ovl$n/upper/"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$WORK/ovl$n/upper,workdir=$WORK/ovl$n/work" "$d"
  done
  mount -t tmpfs -o mode=0755 tmpfs /var/lib
  unit=/usr/lib/systemd/system/latchkey.service
  # The package's own postinst, as dpkg runs it on install: it makes the `latchkey`
  # user (in this namespace's /etc) and the state directory.
  "$CTRL/postinst" configure >"$WORK/postinst.log" 2>&1 && echo ok >"$WORK/postinst.ok" || true
  SVC_UID="$(id -u latchkey 2>/dev/null || echo 64721)"
  SVC_GID="$(id -g latchkey 2>/dev/null || echo 64721)"
  echo "$SVC_UID" >"$WORK/uid"
  stat -c '%a %U' /var/lib/latchkey >"$WORK/postinst-state" 2>&1 || true
  [ -e /etc/systemd/system/multi-user.target.wants/latchkey.service ] || echo ok >"$WORK/not-enabled"
  # systemd-analyze verify: the unit parses, its ExecStart is an executable.
  systemd-analyze verify "$unit" >"$WORK/verify.log" 2>&1 && echo "verify ok" >"$WORK/verify.ok" || true

  # StateDirectory=latchkey, StateDirectoryMode=0700, owned by the service's user.
  state=/var/lib/$(sed -n 's/^StateDirectory=//p' "$unit")
  install -d -m "$(sed -n 's/^StateDirectoryMode=//p' "$unit")" -o "$SVC_UID" -g "$SVC_GID" "$state"
  read -r -a cmd <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
  workdir="$(sed -n 's/^WorkingDirectory=//p' "$unit")"
  umask_="$(sed -n 's/^UMask=//p' "$unit")"
  # The unit's own Environment= lines (KEY=VALUE, unquoted), if any.
  read -r -a unit_env <<<"$(sed -n 's/^Environment=//p' "$unit" | tr '\n' ' ')"
  # As the service's user, with the unit's hardening that a process can take on itself:
  # MemoryDenyWriteExecute (PR_SET_MDWE, kept across exec), NoNewPrivileges, an empty
  # capability bounding set. The environment is what systemd gives a User= service
  # plus what a `systemctl edit` drop-in would set: the loopback ports of this test.
  # Called in a subshell or in the background: it execs, so $! is the server itself.
  as_unit() {
    cd "$workdir"; umask "$umask_"; exec env -i \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      USER=latchkey LOGNAME=latchkey HOME="$state" SHELL=/usr/sbin/nologin \
      STATE_DIRECTORY="$state" "${unit_env[@]}" \
      LATCHKEY_ISSUER="http://127.0.0.1:$PUB" LATCHKEY_PUBLIC_ADDR="127.0.0.1:$PUB" \
      LATCHKEY_ADMIN_ADDR="127.0.0.1:$ADM" \
      python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
# PR_SET_MDWE = 65, PR_MDWE_REFUSE_EXEC_GAIN = 1 (Linux 6.3+)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE refused: errno %d" % ctypes.get_errno())
os.execvp(sys.argv[1], sys.argv[1:])' \
      setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups --no-new-privs \
        --inh-caps=-all --bounding-set=-all -- "$@"
  }
  printf '%s\n' "${cmd[@]}" >"$WORK/execstart"
  as_unit "${cmd[@]}" >"$WORK/serve.log" 2>&1 &
  pid=$!
  echo "$pid" >"$WORK/serve.pid"
  up=""
  for _ in $(seq 300); do
    if curl -sf "http://127.0.0.1:$ADM/admin/v1/health" >/dev/null; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] && echo up >"$WORK/up"
  if [ -n "$up" ]; then
    # The server's pid (python execs setpriv, which execs latchkey: one process).
    cat "/proc/$pid/cmdline" | tr '\0' ' ' >"$WORK/cmdline"
    tr '\0' '\n' <"/proc/$pid/environ" >"$WORK/environ"
    grep -c ' rwxp\| rwxs' "/proc/$pid/maps" >"$WORK/rwx" || true
    grep '^NoNewPrivs\|^CapBnd\|^CapEff\|^Uid' "/proc/$pid/status" >"$WORK/status"
    stat -c '%a %u %n' "$state" "$state"/* >"$WORK/modes" 2>&1 || true
    cp "$state/latchkey.db.kek" "$WORK/kek.copy" 2>/dev/null || true
    # An administrator on the same files, as the same user (README: sudo -u latchkey).
    (as_unit /usr/bin/latchkey admin --db "$state/latchkey.db" scopes create api) >"$WORK/admin.log" 2>&1 || true
    (as_unit /usr/bin/latchkey admin --db "$state/latchkey.db" clients create --name pkg \
      --type confidential --grant client_credentials --scope api --json) >"$WORK/client.json" 2>>"$WORK/admin.log" || true
    id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_id"])' "$WORK/client.json" 2>/dev/null || true)"
    secret="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_secret"])' "$WORK/client.json" 2>/dev/null || true)"
    curl -s -u "$id:$secret" -d grant_type=client_credentials -d scope=api \
      "http://127.0.0.1:$PUB/token" >"$WORK/token.json" || true
    kill -0 "$pid" 2>/dev/null && echo alive >"$WORK/alive-after-token"
    (as_unit /usr/bin/latchkey --version) >"$WORK/version" 2>&1 || true
  fi
  # systemd stops it with SIGTERM.
  kill -TERM "$pid" 2>/dev/null || true
  rc=0
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "still running 30 s after SIGTERM" >"$WORK/stop"; fi
  wait "$pid" || rc=$?
  echo "$rc" >"$WORK/exit"
  # Removal and purge, as dpkg runs the scripts: the data stays.
  { "$CTRL/prerm" remove && "$CTRL/postrm" remove && "$CTRL/postrm" purge; } >"$WORK/remove.log" 2>&1 \
    && [ -f /var/lib/latchkey/latchkey.db.kek ] && echo ok >"$WORK/remove.ok" || true
  exit 0
fi

# --- the tests -----------------------------------------------------------------------
PASSED=0; FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "  ok    $1"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $1"; [ -z "${2:-}" ] || echo "        $2"; }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
WORK="$(mktemp -d /tmp/latchkey-package-test.XXXXXX)"
cleanup() {
  [ -n "${TD_PID:-}" ] && kill "$TD_PID" 2>/dev/null
  $SUDO rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
SHOTS="$CARGO_TARGET_DIR/e2e-shots"
mkdir -p "$SHOTS"

echo "package-test: ${PACKAGE_TEST_PROFILE:-debug} packages (into $WORK/pkgs)"
t0=$(date +%s)
PACKAGE_PROFILE="${PACKAGE_TEST_PROFILE:-debug}" PACKAGE_OUT="$WORK/pkgs" PACKAGE_APPIMAGE=0 \
  bash "$ROOT/scripts/package.sh" >"$WORK/package.log" 2>&1 \
  || { tail -n 30 "$WORK/package.log"; echo "package-test: making the packages failed"; exit 1; }
echo "package-test: packages made in $(( $(date +%s) - t0 )) s:"
ls -l "$WORK/pkgs"
SERVER_DEB="$(ls "$WORK"/pkgs/latchkey_*.deb)"
CONSOLE_DEB="$(ls "$WORK"/pkgs/*.deb | grep -v '/latchkey_[0-9]' | head -n 1)"
WHICH="${PACKAGE_TEST:-all}"

# --- the server ------------------------------------------------------------------------
if [ "$WHICH" = all ] || [ "$WHICH" = server ]; then
echo "package-test: server ($SERVER_DEB)"
S="$WORK/server"; mkdir -p "$S/root" "$S/ctrl" "$S/run"
dpkg-deb -x "$SERVER_DEB" "$S/root"
dpkg-deb -e "$SERVER_DEB" "$S/ctrl"
UNIT="$S/root/usr/lib/systemd/system/latchkey.service"
f() { dpkg-deb -f "$SERVER_DEB" "$1"; }

check "the server package holds latchkey, its unit and its configuration" \
  test -x "$S/root/usr/bin/latchkey" -a -f "$UNIT" -a -f "$S/root/etc/latchkey/latchkey.toml"
check "/etc/latchkey/latchkey.toml is a conffile (an upgrade keeps the administrator's edits)" \
  grep -qx /etc/latchkey/latchkey.toml "$S/ctrl/conffiles"
check "the package depends on adduser and the libraries the binary links (dpkg-shlibdeps)" \
  bash -c "f=\$(dpkg-deb -f '$SERVER_DEB' Depends); [[ \$f == *adduser* && \$f == *libc6* ]]"
check "its postinst starts nothing (configure first, then systemctl enable --now)" \
  bash -c "! grep -q 'deb-systemd-invoke start' '$S/ctrl/postinst'"

missing=()
for want in "User=latchkey" "StateDirectory=latchkey" "StateDirectoryMode=0700" "UMask=0077" \
            "ProtectSystem=strict" "NoNewPrivileges=yes" "CapabilityBoundingSet=" "AmbientCapabilities=" \
            "PrivateTmp=yes" "ProtectHome=yes" "PrivateDevices=yes" \
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "SystemCallFilter=@system-service" \
            "MemoryDenyWriteExecute=yes" "ProtectKernelTunables=yes" "ProtectControlGroups=yes" \
            "RestrictNamespaces=yes" "LockPersonality=yes"; do
  grep -qx -- "$want" "$UNIT" || missing+=("$want")
done
if [ ${#missing[@]} -eq 0 ]; then ok "the unit is hardened (user, state directory, ProtectSystem=strict, no capabilities, syscall filter, …)"
else bad "the unit is hardened" "missing: ${missing[*]}"; fi
check "neither the unit nor the configuration passes a KEK (no LATCHKEY_KEK, no key material)" \
  bash -c "! grep -v '^#' '$UNIT' '$S/root/etc/latchkey/latchkey.toml' | grep -qi 'kek'"
if exposure="$(systemd-analyze security --offline=yes --root="$S/root" --threshold=20 latchkey.service 2>&1 | sed -n 's/.*Overall exposure level for latchkey.service: \([0-9.]*\).*/\1/p')" \
   && [ -n "$exposure" ] && python3 -c "import sys; sys.exit(0 if float('$exposure') <= 2.0 else 1)"; then
  ok "systemd-analyze security rates the unit's exposure $exposure (at most 2.0, 'OK')"
else bad "systemd-analyze security rates the unit's exposure at most 2.0" "got: ${exposure:-nothing}"; fi

PUB="$(free_port)"; ADM="$(free_port)"
$SUDO unshare --mount --propagation private bash "$ROOT/scripts/package-test.sh" __serve_as_unit "$S/root" "$S/ctrl" "$S/run" "$PUB" "$ADM"
R="$S/run"
SVC_UID="$(cat "$R/uid")"
if [ -f "$R/postinst.ok" ] && [ "$(cat "$R/postinst-state")" = "700 latchkey" ]; then
  ok "the package's postinst creates the latchkey system user and its 0700 state directory"
  check "and does not enable the service" test -f "$R/not-enabled"
else bad "the package's postinst creates the latchkey system user and its 0700 state directory" "$(cat "$R/postinst.log" "$R/postinst-state" 2>/dev/null)"; fi
if [ -f "$R/verify.ok" ]; then ok "systemd-analyze verify accepts the unit with the package's binary in place"
else bad "systemd-analyze verify accepts the unit" "$(cat "$R/verify.log" 2>/dev/null)"; fi
check "the unit's ExecStart is /usr/bin/latchkey serve --config /etc/latchkey/latchkey.toml" \
  bash -c "[ \"\$(tr '\n' ' ' <'$R/execstart')\" = '/usr/bin/latchkey serve --config /etc/latchkey/latchkey.toml ' ]"
if [ -f "$R/up" ]; then ok "the unit's command line starts the server (as an unprivileged user, no capabilities, MDWE)"
else bad "the unit's command line starts the server" "$(tail -n 20 "$R/serve.log" 2>/dev/null)"; fi
check "it runs as the service's user with no new privileges and no capabilities" \
  bash -c "grep -q '^Uid:[[:space:]]*$SVC_UID' '$R/status' && grep -q '^NoNewPrivs:[[:space:]]*1' '$R/status' && grep -q '^CapBnd:[[:space:]]*0000000000000000' '$R/status' && grep -q '^CapEff:[[:space:]]*0000000000000000' '$R/status'"
check "the KEK was created as a 0600 file of the service's user in the state directory" \
  grep -qx "600 $SVC_UID /var/lib/latchkey/latchkey.db.kek" "$R/modes"
check "the state directory is 0700 and the database 0600" \
  bash -c "grep -qx '700 $SVC_UID /var/lib/latchkey' '$R/modes' && grep -qx '600 $SVC_UID /var/lib/latchkey/latchkey.db' '$R/modes'"
if [ -s "$R/kek.copy" ] && ! grep -qF -- "$(tr -d '\n' <"$R/kek.copy")" "$R/cmdline" "$R/environ"; then
  ok "the KEK is on neither the server's command line nor in its environment"
else bad "the KEK is on neither the server's command line nor in its environment"; fi
if python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); sys.exit(0 if t.get("access_token") and t.get("token_type")=="Bearer" else 1)' "$R/token.json" 2>/dev/null; then
  ok "a client made with the packaged CLI gets a token with client credentials"
else bad "a client gets a token with client credentials" "$(cat "$R/admin.log" "$R/token.json" 2>/dev/null | head -c 600)"; fi
check "no memory of the server is writable and executable, and MDWE did not stop it" \
  bash -c "[ \"\$(cat '$R/rwx')\" = 0 ] && [ -f '$R/alive-after-token' ]"
check "SIGTERM (systemctl stop) ends it cleanly" bash -c "[ \"\$(cat '$R/exit')\" = 0 ]"
if [ -f "$R/remove.ok" ]; then ok "removing and purging the package (prerm, postrm) keeps /var/lib/latchkey: the database and its KEK"
else bad "removing and purging the package keeps the database and its KEK" "$(cat "$R/remove.log" 2>/dev/null)"; fi
check "nothing of the test reached the host (/etc/latchkey, /var/lib/latchkey, /usr/bin/latchkey, a latchkey user)" \
  bash -c "[ ! -e /etc/latchkey ] && [ ! -e /var/lib/latchkey ] && [ ! -e /usr/bin/latchkey ] && ! getent passwd latchkey >/dev/null"
SERVER_VERSION="$(sed -n 's/^latchkey //p' "$R/version")"
fi

# --- the console -----------------------------------------------------------------------
if [ "$WHICH" = all ] || [ "$WHICH" = console ]; then
echo "package-test: console ($CONSOLE_DEB)"
C="$WORK/console"; mkdir -p "$C/root" "$C/home"
dpkg-deb -x "$CONSOLE_DEB" "$C/root"
APP="$C/root/usr/bin/latchkey-desktop"
check "the console package holds latchkey-desktop" test -x "$APP"
deps="$(dpkg-deb -f "$CONSOLE_DEB" Depends)"
check "it declares WebKitGTK, GTK and D-Bus (the OS keyring) as dependencies" \
  bash -c "[[ '$deps' == *libwebkit2gtk-4.1-0* && '$deps' == *libgtk-3-0* && '$deps' == *libdbus-1-3* ]]"
# Every library the binary links comes from a declared package or one they pull in.
read -r -a declared <<<"$(echo "$deps" | sed 's/([^)]*)//g; s/,/ /g')"
# The closure of the declared packages over Depends/Pre-Depends (and Provides), from
# dpkg's own database: no apt lists needed.
closure="$(python3 - "${declared[@]}" <<'PY'
import re, sys
pkgs, provides = {}, {}
for stanza in open('/var/lib/dpkg/status', encoding='utf-8').read().split('\n\n'):
    f = dict(re.findall(r'^([A-Za-z-]+): ?(.*)$', stanza, re.M))
    if 'Package' not in f or 'installed' not in f.get('Status', ''):
        continue
    deps = [alt.strip().split()[0].split(':')[0] for field in ('Depends', 'Pre-Depends')
            for group in f.get(field, '').split(',') if group.strip() for alt in group.split('|')]
    pkgs[f['Package']] = deps
    for p in f.get('Provides', '').split(','):
        if p.strip():
            provides.setdefault(p.strip().split()[0], []).append(f['Package'])
seen, todo = set(), list(sys.argv[1:])
while todo:
    p = todo.pop()
    for q in [p] + provides.get(p, []):
        if q not in seen and q in pkgs:
            seen.add(q)
            todo.extend(pkgs[q])
print('\n'.join(sorted(seen)))
PY
)"
unowned=()
while read -r lib; do
  # "libx.so => /path (addr)", or "/lib64/ld-linux-x86-64.so.2 (addr)" for the loader.
  path="$(ldd "$APP" | awk -v l="$lib" '$1 == l { print $3 } $1 ~ ("/" l "$") { print $1 }' | head -n 1)"
  # usrmerge: dpkg knows a library by the path its package shipped, /lib or /usr/lib.
  pkg=""
  for p in "$path" "$(readlink -f "$path")" "${path/#\/usr\/lib\//\/lib\/}" "${path/#\/lib\//\/usr\/lib\/}"; do
    pkg="$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 || true)"; [ -n "$pkg" ] && break
  done
  grep -qx -- "$pkg" <<<"$closure" || unowned+=("$lib(${pkg:-?})")
done < <(readelf -d "$APP" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if [ ${#unowned[@]} -eq 0 ]; then ok "every library the console links is provided by its declared dependencies"
else bad "every library the console links is provided by its declared dependencies" "not covered: ${unowned[*]}"; fi
desktop="$(ls "$C"/root/usr/share/applications/*.desktop 2>/dev/null | head -n 1)"
check "its desktop entry is valid (desktop-file-validate)" bash -c "[ -n '$desktop' ] && desktop-file-validate '$desktop'"
icon="$(sed -n 's/^Icon=//p' "$desktop" 2>/dev/null)"
check "the entry starts latchkey-desktop and its icon is in the package" \
  bash -c "grep -q '^Exec=latchkey-desktop' '$desktop' && ls '$C'/root/usr/share/icons/hicolor/*/apps/'$icon'.png >/dev/null 2>&1"

TAURI_DRIVER="$(command -v tauri-driver || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver")"
DRIVER_PORT="$(free_port)"; NATIVE_PORT="$(free_port)"; APP_PORT="$(free_port)"
# A new user's first start from the menu: an empty home, no arguments. The port comes
# from the environment so that the test does not collide with a console already running.
export PKG_APP="$APP" PKG_DRIVER="http://127.0.0.1:$DRIVER_PORT" PKG_SHOTS="$SHOTS" PKG_PORT="$APP_PORT" \
       PKG_VERSION="${SERVER_VERSION:-}" TAURI_DRIVER DRIVER_PORT NATIVE_PORT WORK ROOT
if timeout 300 env -u XDG_DATA_HOME -u XDG_CONFIG_HOME HOME="$C/home" LATCHKEY_DESKTOP_PORT="$APP_PORT" \
   xvfb-run -a -s "-screen 0 1280x820x24 -nolisten tcp" bash -c '
     "$TAURI_DRIVER" --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" >"$WORK/tauri-driver.log" 2>&1 &
     TD=$!; trap "kill $TD 2>/dev/null || true" EXIT
     for _ in $(seq 100); do curl -sf "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null && break; sleep 0.1; done
     timeout 240 node "$ROOT/packaging/first-screen.e2e.mjs"' >"$WORK/console.log" 2>&1; then :; fi
# first-screen.e2e.mjs prints one "ok"/"FAIL" line per check; count them into this run's tally.
while IFS= read -r line; do
  case "$line" in
    "ok "*) ok "${line#ok }" ;;
    "FAIL "*) bad "${line#FAIL }" ;;
  esac
done <"$WORK/console.log"
grep -q '^ok the console opens' "$WORK/console.log" || { bad "the unpacked console opens under Xvfb" "$(tail -n 15 "$WORK/console.log"; tail -n 10 "$WORK/tauri-driver.log" 2>/dev/null)"; }
check "the console made its store under the user's data directory" test -f "$C/home/.local/share/latchkey/latchkey.db"
fi

echo "package-test: $PASSED passed, $FAILED failed"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
