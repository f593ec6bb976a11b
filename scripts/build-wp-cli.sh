#!/bin/bash
# The project's copy of shared/tools/build-wp-cli.sh, with db-command (v2.1.3, as in
# wp-cli-bundle v2.12.0's composer.lock): `runbook investigate` runs `wp db check`.
# Assemble WP-CLI 2.12.0 (framework + the commands runbook uses) from git, offline.
# Needs: git mirrors of these repositories under $MIRROR, one per repository as OWNER+NAME/repo (wp-cli/wp-cli,
# wp-cli/entity-command, cache-command, extension-command, core-command, config-command,
# eval-command, db-command, wp-config-transformer, php-cli-tools, spyc, mustache.php, symfony/finder,
# composer/semver), php-cli 8.2 and Debian's `composer` (apt-get install composer).
# Versions and commits are those of wp-cli/wp-cli-bundle v2.12.0's composer.lock.
set -euo pipefail
command -v composer >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q composer
W=${W:-/opt/wp-cli-2.12.0}   # must be visible inside the sandbox hosts (not /root, /tmp)
M=${MIRROR:?set MIRROR to the folder holding the git mirrors (OWNER+NAME/repo)}
rm -rf "$W"; mkdir -p "$W/src" "$W/build"
while read -r repo tag name ver; do
  d=$W/src/${name//\//+}; mkdir -p "$d"
  git --git-dir=$M/$repo/repo archive "$tag" | tar -x -C "$d"
  echo "$name $ver $(git --git-dir=$M/$repo/repo rev-parse "$tag^{commit}")" >> "$W/SOURCES.txt"
done <<'LIST'
wp-cli+wp-cli v2.12.0 wp-cli/wp-cli 2.12.0
wp-cli+entity-command v2.8.4 wp-cli/entity-command 2.8.4
wp-cli+cache-command v2.2.0 wp-cli/cache-command 2.2.0
wp-cli+extension-command v2.1.24 wp-cli/extension-command 2.1.24
wp-cli+core-command v2.1.20 wp-cli/core-command 2.1.20
wp-cli+config-command v2.3.8 wp-cli/config-command 2.3.8
wp-cli+eval-command v2.2.6 wp-cli/eval-command 2.2.6
wp-cli+db-command v2.1.3 wp-cli/db-command 2.1.3
wp-cli+wp-config-transformer v1.4.2 wp-cli/wp-config-transformer 1.4.2
wp-cli+php-cli-tools v0.12.5 wp-cli/php-cli-tools 0.12.5
wp-cli+spyc 0.6.3 wp-cli/mustangostang-spyc 0.6.3
wp-cli+mustache.php v2.14.99 wp-cli/mustache 2.14.99
symfony+finder v3.4.47 symfony/finder 3.4.47
composer+semver 3.4.3 composer/semver 3.4.3
LIST
cd "$W/build"
python3 - "$W" <<'PY'
import json, sys
W = sys.argv[1]
pkgs = [l.split() for l in open(W + "/SOURCES.txt")]
repos = [{"packagist.org": False}] + [
    {"type": "path", "url": f"{W}/src/{n.replace('/', '+')}",
     "options": {"symlink": False, "versions": {n: v}}} for n, v, _ in pkgs]
json.dump({"name": "local/wp-cli-assembled", "repositories": repos,
           "require": {n: v for n, v, _ in pkgs},
           "config": {"platform-check": False, "allow-plugins": False, "sort-packages": True},
           "minimum-stability": "stable"}, open("composer.json", "w"), indent=2)
PY
COMPOSER_DISABLE_NETWORK=1 COMPOSER_ALLOW_SUPERUSER=1 composer install --no-plugins --no-scripts \
  --no-dev --ignore-platform-req=ext-curl --no-interaction
# The launcher: what wp-cli's own bin/wp does, with an absolute path (runbook copies this one
# file to the sandbox's /usr/local/bin/wp, so it cannot find boot-fs.php relative to itself).
cat > "$W/wp" <<SH
#!/bin/sh
php="\${WP_CLI_PHP:-\$(command -v php)}"
export WP_CLI_PHP_USED="\$php"
exec "\$php" \$WP_CLI_PHP_ARGS $W/build/vendor/wp-cli/wp-cli/php/boot-fs.php "\$@"
SH
chmod 755 "$W/wp"
"$W/wp" --info --allow-root
