#!/usr/bin/env bash
# Renders icon.svg (the source) into the PNG sizes the Tauri bundle and the window
# need. Run after changing icon.svg; the outputs are committed so builds need no
# rasteriser. Needs rsvg-convert (Debian: librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
command -v rsvg-convert >/dev/null || { echo "icons: rsvg-convert missing (apt-get install librsvg2-bin)" >&2; exit 1; }
for s in 32 64 128 256 512; do
  rsvg-convert -w "$s" -h "$s" icon.svg -o "${s}x${s}.png"
done
rsvg-convert -w 256 -h 256 icon.svg -o 128x128@2x.png
rsvg-convert -w 1024 -h 1024 icon.svg -o icon.png
echo "icons: rendered $(ls *.png | wc -l) PNGs from icon.svg"
