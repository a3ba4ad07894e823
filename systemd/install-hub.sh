#!/bin/sh
# stems hub installer: installs the hub from a built checkout as a systemd
# service. Run as root from the checkout (after `pnpm install && pnpm build`):
#
#   sh systemd/install-hub.sh --repo https://git.example/you/cluster.git [--listen 0.0.0.0:7400]
#
# It installs:
#   /opt/stems/src                             a copy of the checkout (code, node_modules, builds)
#   /usr/local/bin/hub                         the wrapper that runs /opt/stems/src/packages/hub/bin/hub
#   /etc/systemd/system/stems-hub.service      the unit, enabled and started as user stems-hub
#   /var/lib/stems-hub                         hub.yaml, the hub key, the database (`hub init`, first time only)
# Running it again (from a newer checkout) upgrades the code and restarts the
# hub; the data dir is kept. Nodes then join with the line it prints.
#   --uninstall [--purge]   removes unit, wrapper and /opt/stems/src (--purge
#                           also removes /var/lib/stems-hub and the user)
set -eu

NODE_MIN_MAJOR=20
DEST=/opt/stems/src
WRAPPER=/usr/local/bin/hub
UNIT_FILE=/etc/systemd/system/stems-hub.service
DATA=/var/lib/stems-hub
HUB_USER=stems-hub

say() { printf 'stems: %s\n' "$*"; }
die() {
  printf 'stems: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
Usage: sh systemd/install-hub.sh --repo URL [options]      (as root, in a built checkout)

  --repo URL|PATH     desired-state git repository (needed the first time only)
  --branch NAME       branch to follow (default main)
  --listen HOST:PORT  where agents and the CLI reach the hub (default 0.0.0.0:7400)
  --src DIR           the built checkout to install (default: the one holding this script)
  --uninstall         stop and remove the hub (keeps /var/lib/stems-hub)
  --purge             with --uninstall: also remove /var/lib/stems-hub and the stems-hub user
  -h, --help          this help
EOF
}

SRC=$(cd "$(dirname "$0")/.." && pwd)
REPO=
BRANCH=
LISTEN=0.0.0.0:7400
MODE=install
PURGE=no
need_value() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case $1 in
  --repo) need_value "$1" $# && REPO=$2 && shift 2 ;;
  --branch) need_value "$1" $# && BRANCH=$2 && shift 2 ;;
  --listen) need_value "$1" $# && LISTEN=$2 && shift 2 ;;
  --src) need_value "$1" $# && SRC=$(cd "$2" && pwd) && shift 2 ;;
  --uninstall) MODE=uninstall && shift ;;
  --purge) PURGE=yes && shift ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die "unknown option $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die 'run this as root'
[ -d /run/systemd/system ] || die 'systemd is not running on this machine; the hub is installed as a systemd unit'

if [ "$MODE" = uninstall ]; then
  [ -f "$UNIT_FILE" ] && { systemctl disable --now stems-hub.service >/dev/null 2>&1 || say 'stems-hub.service was not running'; }
  rm -f "$UNIT_FILE" "$WRAPPER"
  systemctl daemon-reload
  rm -rf "$DEST"
  rmdir /opt/stems 2>/dev/null || true
  if [ "$PURGE" = yes ]; then
    rm -rf "$DATA"
    if id -u "$HUB_USER" >/dev/null 2>&1; then userdel "$HUB_USER"; fi
    say "removed the hub, its data ($DATA) and the $HUB_USER user"
  else
    say "removed the hub; its data is kept in $DATA (--purge removes it)"
  fi
  exit 0
fi
[ "$PURGE" = no ] || die '--purge only goes with --uninstall'

NODE=$(command -v node 2>/dev/null || true)
[ -n "$NODE" ] || die "Node.js $NODE_MIN_MAJOR or newer is needed and was not found on PATH"
NODE_VERSION=$("$NODE" -p 'process.versions.node')
[ "${NODE_VERSION%%.*}" -ge "$NODE_MIN_MAJOR" ] || die "Node.js $NODE_VERSION is too old: the hub needs $NODE_MIN_MAJOR or newer"

for built in packages/hub/dist/cli/main.js packages/agent/dist/stems-agent.mjs packages/hub/node_modules/better-sqlite3; do
  [ -e "$SRC/$built" ] || die "$SRC is not a built checkout ($built is missing): run \`pnpm install && pnpm build\` in it first"
done

if ! id -u "$HUB_USER" >/dev/null 2>&1; then
  useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$HUB_USER"
  say "created the system user $HUB_USER"
fi
install -d -m 0700 -o "$HUB_USER" -g "$HUB_USER" "$DATA"

# The code: copied next to its place, then swapped in with two renames (the
# running hub keeps its open files until the restart below).
if [ "$SRC" != "$DEST" ]; then
  mkdir -p /opt/stems
  rm -rf "$DEST.new" "$DEST.old"
  mkdir "$DEST.new"
  (cd "$SRC" && tar --exclude=./.git -cf - .) | (cd "$DEST.new" && tar -xf -)
  chown -R root:root "$DEST.new"
  chmod -R go-w,a+rX "$DEST.new"
  [ ! -e "$DEST" ] || mv "$DEST" "$DEST.old"
  mv "$DEST.new" "$DEST"
  rm -rf "$DEST.old"
  say "installed the code in $DEST"
fi

cat >"$WRAPPER.stems-new" <<EOF
#!/bin/sh
# stems hub CLI (written by install-hub.sh); the service runs it as $HUB_USER
STEMS_HUB_DATA=\${STEMS_HUB_DATA:-$DATA} exec "$NODE" $DEST/packages/hub/bin/hub "\$@"
EOF
chmod 0755 "$WRAPPER.stems-new"
mv -f "$WRAPPER.stems-new" "$WRAPPER"

# hub init runs as the service user, so the key and database belong to it.
if [ ! -f "$DATA/hub.yaml" ]; then
  [ -n "$REPO" ] || die 'this hub is not initialised yet: pass --repo URL (the desired-state git repository)'
  set -- init --repo "$REPO" --listen "$LISTEN"
  [ -z "$BRANCH" ] || set -- "$@" --branch "$BRANCH"
  runuser -u "$HUB_USER" -- "$WRAPPER" "$@"
else
  say "already initialised ($DATA/hub.yaml): keeping its settings"
fi

cp "$DEST/systemd/stems-hub.service" "$UNIT_FILE.stems-new"
chmod 0644 "$UNIT_FILE.stems-new"
mv -f "$UNIT_FILE.stems-new" "$UNIT_FILE"
systemctl daemon-reload
systemctl enable stems-hub.service >/dev/null 2>&1
systemctl restart stems-hub.service
say "stems-hub.service is enabled and $(systemctl is-active stems-hub.service || true)"
say "hub key: $("$WRAPPER" key)"
say "join a node: hub join-token create, then on the node (as root):"
say "  curl -fsSL http://THIS-HOST:${LISTEN##*:}/install.sh | sh -s -- --token TOKEN --name NODE"
