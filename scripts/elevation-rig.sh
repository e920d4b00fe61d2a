#!/usr/bin/env bash
# The real elevation path for the tests: a system D-Bus, polkitd, an unprivileged test user that polkit lets run
# pkexec without a password, and a stranger whom polkit refuses. `start` starts only what is not running and
# records what it started; `stop` stops exactly that and removes the rule (the users stay: harmless, and
# useradd is slow). Needs root and the Debian packages pkexec, polkitd, dbus.
set -euo pipefail
STATE=/run/atlas-elevation-rig
RULE=/etc/polkit-1/rules.d/49-atlas-imager-tests.rules
USER_OK=atlas-tester
USER_NO=atlas-stranger

start() {
  mkdir -p "$STATE"
  for u in "$USER_OK" "$USER_NO"; do
    id "$u" > /dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
  done
  cat > "$RULE" <<RULES
// Atlas Imager's tests (scripts/elevation-rig.sh): the test user elevates without a password, the stranger never.
polkit.addRule(function (action, subject) {
  if (action.id == "org.freedesktop.policykit.exec") {
    if (subject.user == "$USER_OK") return polkit.Result.YES;
    if (subject.user == "$USER_NO") return polkit.Result.NO;
  }
});
RULES
  if [ ! -S /run/dbus/system_bus_socket ] || ! dbus-send --system --dest=org.freedesktop.DBus --print-reply / org.freedesktop.DBus.GetId > /dev/null 2>&1; then
    mkdir -p /run/dbus
    rm -f /run/dbus/pid /run/dbus/system_bus_socket
    dbus-daemon --system --fork --print-pid > "$STATE/dbus.pid"
  fi
  if ! pgrep -x polkitd > /dev/null; then
    /usr/lib/polkit-1/polkitd --no-debug > "$STATE/polkitd.log" 2>&1 &
    echo $! > "$STATE/polkitd.pid"
  else
    # a running polkitd reads new rules files itself; give it a moment
    sleep 1
  fi
  # ready when the test user really gets root through pkexec
  for _ in $(seq 1 50); do
    if [ "$(runuser -u "$USER_OK" -- pkexec --disable-internal-agent /usr/bin/id -u 2> /dev/null)" = 0 ]; then
      echo "elevation rig: $USER_OK elevates through pkexec"
      return 0
    fi
    sleep 0.2
  done
  echo "elevation rig: pkexec does not elevate $USER_OK" >&2
  cat "$STATE/polkitd.log" >&2 2> /dev/null || true
  return 1
}

stop() {
  rm -f "$RULE"
  for name in polkitd dbus; do
    if [ -f "$STATE/$name.pid" ]; then
      kill "$(cat "$STATE/$name.pid")" 2> /dev/null || true
      rm -f "$STATE/$name.pid"
    fi
  done
  rm -rf "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
