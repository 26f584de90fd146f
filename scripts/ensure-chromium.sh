#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here),
# with a Korean font so screenshots of Korean names and memos are readable.
set -euo pipefail
nanum_fonts=$(fc-list 2>/dev/null | grep -ci nanum || true)
if [ -x /usr/bin/chromium ] && [ "$nanum_fonts" != 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  [ -x /usr/bin/chromium ] || missing="chromium"
  [ "$nanum_fonts" != 0 ] || missing="$missing fonts-nanum"
  echo "[console] installing system-wide with apt-get:$missing — why: the browser tests drive" \
       "Debian's Chromium (Playwright cannot download its own here) and need a Korean font for readable screenshots"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "[console] install Debian's chromium and fonts-nanum (sudo apt-get install chromium fonts-nanum); browser tests need them" >&2
fi
