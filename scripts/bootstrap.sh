#!/usr/bin/env bash
# Install what runbook needs into .venv (Python 3.11+). Idempotent: a second run is quick.
#   scripts/bootstrap.sh          runtime dependencies
#   scripts/bootstrap.sh test     plus the test and lint tools
# The sandbox's Debian packages (sshd, nginx, php-fpm, MariaDB, WordPress) are installed by
# `runbook sandbox up` itself, so that an installed runbook needs no checkout to build one.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "test" ] && extras="[test]"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: runbook needs Python 3.11 or newer ($python is $("$python" -V 2>&1))" >&2
  exit 2
fi

apt_install() {
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] \
      || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "bootstrap: please install $* (needs root and apt-get)" >&2
    exit 2
  fi
}

# Debian's own python3 needs python3-venv for `python3 -m venv`.
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$python" -m venv .venv
  fi
fi
# The pty tests and the sandbox's own checks want these; tiny, and on most images already.
for tool in ssh:openssh-client ip:iproute2 curl:curl openssl:openssl; do
  command -v "${tool%%:*}" >/dev/null || apt_install "${tool##*:}"
done
# The status page test loads the page in a real headless browser.
if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null; then
  apt_install chromium fonts-dejavu-core
fi

.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# Pinned (constraints.txt) so that every machine and CI run the same tools.
.venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"
# Bytecode for the checkout's own modules, as pip writes it for an installed wheel: where
# PYTHONDONTWRITEBYTECODE is set (CI images) every command would compile them again (~0.03 s).
.venv/bin/python -m compileall -q src/runbook >/dev/null
echo "bootstrap: runbook $(.venv/bin/runbook --version | awk '{print $NF}') in .venv" >&2
# The roles, modules and filters as the runbook.wordpress collection, where this checkout's
# ansible.cfg looks (./collections): plain ansible-playbook and ansible-lint use it.
.venv/bin/runbook collection install >/dev/null
echo "bootstrap: the runbook.wordpress collection in ./collections" >&2
