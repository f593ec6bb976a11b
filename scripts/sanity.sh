#!/usr/bin/env bash
# ansible-test sanity on the runbook.wordpress collection, offline but for the package index:
# the collection is assembled into a scratch ansible_collections/ tree, and ansible-test's pip
# bootstrap (a get-pip script it would download from ci-files.testing.ansible.com) is pip's own
# wheel from PyPI running `pip install`, as get-pip does. The checks that need no container run.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
cache="$HOME/.ansible/test/cache"
pip_version=$("$py" - <<'PY'
import re
from pathlib import Path
import ansible_test
src = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
shim="$cache/get_pip_${pip_version//./_}.py"
mkdir -p "$cache"
if [ ! -f "$shim" ]; then
  "$py" -m pip download -q --no-deps -d "$cache" "pip==$pip_version"
  cat > "$shim" <<PY
# Written by runbook's scripts/sanity.sh: get-pip, offline (pip's wheel runs pip install).
import sys
sys.path.insert(0, "$cache/pip-$pip_version-py3-none-any.whl")
from pip._internal.cli.main import main
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
args += [] if "--no-setuptools" in sys.argv else ["setuptools"]
args += [] if "--no-wheel" in sys.argv else ["wheel"]
sys.exit(main(["install", "--upgrade", "--force-reinstall", *args]))
PY
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
folder=$("$py" -c "import sys; from pathlib import Path; from runbook import collection; print(collection.assemble(Path(sys.argv[1])))" "$scratch")
cd "$folder"
git init -q . && git add -A
"$OLDPWD/.venv/bin/ansible-test" sanity --python 3.11 --color no "$@"
