#!/bin/sh
# stems agent installer. The hub serves this file at /install.sh with its own
# URL, its public key and the sha256 of both bundles filled in, so a new node
# joins with one line (as root):
#
#   curl -fsSL http://HUB:7400/install.sh | sh -s -- --token JOIN_TOKEN [--name NODE]
#
# It checks Node.js (>= 20), downloads the agent bundle and the hub client from
# the hub, verifies their sha256 against the hashes pinned below (a mismatch
# aborts before anything is installed), enrolls the node pinning the hub key
# below, and installs:
#   /opt/stems/agent/stems-agent.mjs          the agent, one self-contained file
#   /usr/local/bin/stems-agent                the wrapper that runs it with node
#   /etc/systemd/system/stems-agent.service   the unit (enabled and started)
#   /opt/stems/agent/hub.mjs                  the read-only hub client, one file
#   /usr/local/bin/hub                        its wrapper: `hub status` on the node
#                                             asks the hub, signed with the node key
#                                             (left alone if it is a hub's own CLI)
# Running it again upgrades both in place and restarts the agent; the node key,
# /etc/stems/agent.yaml and the applied state are kept.
#   --uninstall [--purge]   removes unit, wrappers and bundles (--purge also
#                           removes /var/lib/stems-agent and /etc/stems/agent.yaml)
set -eu

# Everything is one brace group: sh reads it whole before running any of it,
# so a download cut short by `curl | sh` runs nothing at all.
{

# Filled in by the hub when it serves the script.
STEMS_HUB_URL='@@STEMS_HUB_URL@@'
STEMS_HUB_KEY='@@STEMS_HUB_KEY@@'
STEMS_AGENT_SHA256='@@STEMS_AGENT_SHA256@@'
STEMS_CLIENT_SHA256='@@STEMS_CLIENT_SHA256@@'

NODE_MIN_MAJOR=20
AGENT_DIR=/opt/stems/agent
BUNDLE=$AGENT_DIR/stems-agent.mjs
WRAPPER=/usr/local/bin/stems-agent
CLIENT=$AGENT_DIR/hub.mjs
HUB_CLIENT=/usr/local/bin/hub
# A line of HUB_CLIENT's wrapper: install-hub.sh's `hub` (the hub's full CLI) lacks it.
CLIENT_MARK='# stems: the read-only hub client of this node (written by install.sh)'
UNIT_FILE=/etc/systemd/system/stems-agent.service
CONFIG=/etc/stems/agent.yaml
STATE=/var/lib/stems-agent

say() { printf 'stems: %s\n' "$*"; }
die() {
  printf 'stems: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
Usage: curl -fsSL http://HUB:7400/install.sh | sh -s -- [options]

  --token T      join token from the hub (`hub join-token create`); without one
                 the node waits until `hub nodes accept NODE` on the hub
  --name NODE    node name as in cluster.yaml (default: the short host name)
  --hub URL      reach the hub at URL instead of the one this script came from
  --reenroll     enroll again even if this node is enrolled already
  --uninstall    stop and remove the agent (keeps its key and state)
  --purge        with --uninstall: also remove /var/lib/stems-agent and
                 /etc/stems/agent.yaml
  -h, --help     this help
EOF
}

TOKEN=
NAME=
MODE=install
PURGE=no
REENROLL=no
need_value() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case $1 in
  --token) need_value "$1" $# && TOKEN=$2 && shift 2 ;;
  --token=*) TOKEN=${1#*=} && shift ;;
  --name) need_value "$1" $# && NAME=$2 && shift 2 ;;
  --name=*) NAME=${1#*=} && shift ;;
  --hub) need_value "$1" $# && STEMS_HUB_URL=$2 && shift 2 ;;
  --hub=*) STEMS_HUB_URL=${1#*=} && shift ;;
  --reenroll) REENROLL=yes && shift ;;
  --uninstall) MODE=uninstall && shift ;;
  --purge) PURGE=yes && shift ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die "unknown option $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die 'run this as root (… | sudo sh -s -- …)'

# Is HUB_CLIENT absent or the wrapper this script writes (not a hub's full CLI)?
client_is_ours() { [ ! -e "$HUB_CLIENT" ] || grep -qxF "$CLIENT_MARK" "$HUB_CLIENT"; }

uninstall() {
  if [ -d /run/systemd/system ] && [ -f "$UNIT_FILE" ]; then
    systemctl disable --now stems-agent.service >/dev/null 2>&1 || say 'stems-agent.service was not running'
  fi
  rm -f "$UNIT_FILE" "$WRAPPER" "$BUNDLE" "$CLIENT"
  if client_is_ours; then rm -f "$HUB_CLIENT"; fi
  [ -d /run/systemd/system ] && systemctl daemon-reload
  rmdir "$AGENT_DIR" /opt/stems 2>/dev/null || true
  if [ "$PURGE" = yes ]; then
    rm -rf "$STATE"
    rm -f "$CONFIG"
    rmdir /etc/stems 2>/dev/null || true
    say "removed the agent and the hub client, the node key and state ($STATE, $CONFIG)"
  else
    say "removed the agent and the hub client; the node key and state are kept in $STATE and $CONFIG (--purge removes them)"
  fi
}

if [ "$MODE" = uninstall ]; then
  uninstall
  exit 0
fi
[ "$PURGE" = no ] || die '--purge only goes with --uninstall'

case $STEMS_HUB_URL$STEMS_HUB_KEY$STEMS_AGENT_SHA256$STEMS_CLIENT_SHA256 in
*@@*) die 'this is the template of the install script: fetch it from your hub instead, curl -fsSL http://HUB:7400/install.sh | sh -s -- --token T' ;;
esac
[ -d /run/systemd/system ] || die 'systemd is not running on this machine; the agent is installed as a systemd unit'

# Node.js: on PATH or at /usr/local/bin/node, major version >= 20.
NODE=$(command -v node 2>/dev/null || true)
[ -n "$NODE" ] || { [ -x /usr/local/bin/node ] && NODE=/usr/local/bin/node; } || true
if [ -z "$NODE" ]; then
  die "Node.js $NODE_MIN_MAJOR or newer is needed and was not found. Install it first (a nodejs package of version $NODE_MIN_MAJOR+ from your distribution, or the official Node.js $NODE_MIN_MAJOR+ Linux binary unpacked so that 'node' is on PATH or at /usr/local/bin/node), then run this again."
fi
NODE_VERSION=$("$NODE" -p 'process.versions.node' 2>/dev/null) || die "$NODE does not run"
if [ "${NODE_VERSION%%.*}" -lt "$NODE_MIN_MAJOR" ]; then
  die "Node.js $NODE_VERSION at $NODE is too old: the agent needs $NODE_MIN_MAJOR or newer. Upgrade it, then run this again."
fi
say "using Node.js $NODE_VERSION ($NODE)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

STEMS_HUB_URL=${STEMS_HUB_URL%/}
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL -o "$TMP/$1" "$STEMS_HUB_URL/agent/$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$TMP/$1" "$STEMS_HUB_URL/agent/$1"; }
else
  die 'neither curl nor wget is installed'
fi
# download FILE WHAT SHA256: the hub's /agent/FILE into $TMP, kept only if its sha256 is the pinned one
download() {
  fetch "$1" || die "could not download $STEMS_HUB_URL/agent/$1"
  if command -v sha256sum >/dev/null 2>&1; then
    GOT=$(sha256sum "$TMP/$1")
    GOT=${GOT%% *}
  else
    GOT=$("$NODE" -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$TMP/$1")
  fi
  if [ "$GOT" != "$3" ]; then
    die "the downloaded $2's sha256 is $GOT, but this script expects $3: nothing was installed. If the hub was just upgraded, fetch install.sh again."
  fi
  say "$2 verified (sha256 $GOT), version $("$NODE" "$TMP/$1" --version </dev/null)"
}
say "downloading the agent and the hub client from $STEMS_HUB_URL"
download stems-agent.mjs agent "$STEMS_AGENT_SHA256"
download hub.mjs 'hub client' "$STEMS_CLIENT_SHA256"

# Enroll with the verified download before installing anything else, so a
# refused token leaves the node as it was.
if [ -f "$CONFIG" ] && [ "$REENROLL" = no ]; then
  say "already enrolled ($CONFIG): keeping the node key and config"
else
  set -- enroll --hub "$STEMS_HUB_URL" --hub-key "$STEMS_HUB_KEY"
  [ -z "$TOKEN" ] || set -- "$@" --token "$TOKEN"
  [ -z "$NAME" ] || set -- "$@" --name "$NAME"
  STEMS_AGENT_CONFIG=$CONFIG STEMS_AGENT_STATE=$STATE "$NODE" "$TMP/stems-agent.mjs" "$@" </dev/null ||
    die 'enrolling failed (see above): nothing was installed'
fi

# Each file goes to a temp name beside its target, then rename(2): a reader
# sees the old file or the new one, never a half-written one.
install_file() { # mode source target
  cp "$2" "$3.stems-new"
  chmod "$1" "$3.stems-new"
  mv -f "$3.stems-new" "$3"
}

mkdir -p "$AGENT_DIR" /usr/local/bin /etc/systemd/system
install_file 0644 "$TMP/stems-agent.mjs" "$BUNDLE"
cat >"$TMP/wrapper" <<EOF
#!/bin/sh
# stems agent: the bundle in $AGENT_DIR run by Node.js (written by install.sh)
exec "$NODE" "$BUNDLE" "\$@"
EOF
install_file 0755 "$TMP/wrapper" "$WRAPPER"
install_file 0644 "$TMP/hub.mjs" "$CLIENT"
if client_is_ours; then
  cat >"$TMP/hub" <<EOF
#!/bin/sh
$CLIENT_MARK
# It reads the hub URL from $CONFIG and signs requests with the node key (root only).
exec "$NODE" "$CLIENT" "\$@"
EOF
  install_file 0755 "$TMP/hub" "$HUB_CLIENT"
else
  say "kept $HUB_CLIENT: it is not the hub client this script installs (a hub's own CLI?); the client is $CLIENT"
fi
cat >"$TMP/unit" <<'STEMS_UNIT_EOF'
@@STEMS_AGENT_UNIT@@
STEMS_UNIT_EOF
install_file 0644 "$TMP/unit" "$UNIT_FILE"

# </dev/null: with `curl | sh`, stdin is the rest of this script
systemctl daemon-reload </dev/null
systemctl enable stems-agent.service </dev/null >/dev/null 2>&1
# restart also starts it; on an upgrade it swaps in the new bundle
systemctl restart stems-agent.service </dev/null
say "installed: stems-agent.service is enabled and $(systemctl is-active stems-agent.service || true)"
say "hub status on this node: hub status (read-only, as root)"
say "logs: journalctl -u stems-agent -f · remove: curl -fsSL $STEMS_HUB_URL/install.sh | sh -s -- --uninstall"

}
