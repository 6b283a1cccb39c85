#!/usr/bin/env bash
# Nightly backup into ROOT/<date>/ (docs/DEPLOY.md, "Backups"): the photos of the newest earlier
# backup are hard-linked first, so `flask backup create` copies only the new ones; backups
# older than KEEP_DAYS (default 14) are removed. Run as the app's user, from /srv/nhatky.
set -euo pipefail
root=${1:?usage: backup-nightly.sh ROOT}
keep=${KEEP_DAYS:-14}
today="$root/$(date +%F)"
previous=$(find "$root" -mindepth 1 -maxdepth 1 -type d -name '20*' ! -path "$today" | sort | tail -n 1)
mkdir -p "$today"
if [ -n "$previous" ] && [ -d "$previous/photos" ] && [ ! -d "$today/photos" ]; then
  cp -al "$previous/photos" "$today/photos"
fi
"$(dirname "$0")/../.venv/bin/flask" backup create "$today"
find "$root" -mindepth 1 -maxdepth 1 -type d -name '20*' -mtime "+$keep" -exec rm -rf {} +
