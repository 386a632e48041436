#!/usr/bin/env bash
# Make sure the command-line tools relayops drives are on PATH: Prometheus and
# promtool, Alertmanager and amtool, the Pushgateway, the Redis server and client, and the
# PostgreSQL server (initdb, postgres) the token-store tests start, and Chromium, in which the
# sanitizer's fidelity tests render email HTML.
# When any is missing, install the Debian packages with apt-get (as root or through
# passwordless sudo); where apt-get is absent, explain what to install instead.
# Prints nothing and changes nothing when every tool is present.
#
#   scripts/bootstrap-tools.sh          check, install what is missing, check again
#   scripts/bootstrap-tools.sh --check  only report what is missing (exit 1 if anything is)
set -euo pipefail

readonly TOOLS=(promtool prometheus amtool prometheus-alertmanager prometheus-pushgateway
  redis-server redis-cli chromium)
readonly PACKAGES=(prometheus prometheus-alertmanager prometheus-pushgateway redis-server postgresql
  chromium)
readonly PROG=bootstrap-tools

missing=()

find_missing() {
  missing=()
  local tool
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  # Debian keeps initdb and postgres off PATH, under /usr/lib/postgresql/<version>/bin.
  if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    missing+=(initdb)
  fi
}

say() {
  printf '%s: %s\n' "$PROG" "$*" >&2
}

report_missing() {
  say "missing: ${missing[*]}"
}

explain_without_apt() {
  local guidance
  IFS= read -r -d '' guidance <<EOF || true
$PROG: apt-get is not available on this system, so these cannot be installed automatically.
Install the upstream releases (the versions Debian 12 ships and CI uses) and put the
binaries on PATH under these names, then run this script again:
  prometheus, promtool      Prometheus 2.42.0 tarball from https://prometheus.io/download/
  prometheus-alertmanager,  Alertmanager 0.25.0 tarball from https://prometheus.io/download/
  amtool                    (its binary 'alertmanager' must be linked as 'prometheus-alertmanager')
  prometheus-pushgateway    Pushgateway 1.5.1 tarball from https://prometheus.io/download/
                            (its binary 'pushgateway' must be linked as 'prometheus-pushgateway')
  redis-server, redis-cli   Redis 7.0.15 source from https://download.redis.io/releases/ (build with make)
  initdb, postgres          PostgreSQL 15 server binaries from https://www.postgresql.org/download/
  chromium                  Chromium, any recent release, on PATH as 'chromium'
Older releases are on each project's GitHub releases page.
On Debian or Ubuntu: apt-get install ${PACKAGES[*]}
EOF
  report_missing
  printf '%s' "$guidance" >&2
}

apt_install() {
  local -a as_root=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      report_missing
      say "installing them needs root; run once: sudo $0"
      say "(it runs: apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]})"
      exit 1
    fi
  fi
  say "installing ${PACKAGES[*]} with apt-get (missing: ${missing[*]})"
  if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; then
    say "apt-get failed; see its output above"
    exit 1
  fi
}

main() {
  case "${1:-}" in
    "") ;;
    --check)
      find_missing
      if ((${#missing[@]})); then
        report_missing
        exit 1
      fi
      exit 0
      ;;
    -h | --help)
      sed -n '2,9s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      say "unknown argument: $1 (usage: $0 [--check])"
      exit 2
      ;;
  esac

  find_missing
  ((${#missing[@]})) || exit 0

  if ! command -v apt-get >/dev/null 2>&1; then
    explain_without_apt
    exit 1
  fi

  apt_install
  find_missing
  if ((${#missing[@]})); then
    report_missing
    say "still missing after apt-get install ${PACKAGES[*]}"
    exit 1
  fi
  say "all tools installed"
}

main "$@"
