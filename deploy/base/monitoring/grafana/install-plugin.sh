#!/bin/sh
# Installs MeshWatch into Grafana's plugin directory from its release zip
# (init container of the Grafana pod). MESHWATCH_PLUGIN_URL and
# MESHWATCH_PLUGIN_SHA256 come from the ConfigMap meshwatch-plugin. With an
# empty URL it does nothing (a Grafana image with the plugin built in, or a
# plugin copied into the volume by hand).
set -eu
dir=/var/lib/grafana/plugins
if [ -z "${MESHWATCH_PLUGIN_URL:-}" ]; then
  echo "MESHWATCH_PLUGIN_URL is empty: not installing the plugin"
  exit 0
fi
mkdir -p "$dir" "${TMPDIR:-/tmp}"
tmp=$(mktemp -d)
wget -q -O "$tmp/plugin.zip" "$MESHWATCH_PLUGIN_URL"
if [ -n "${MESHWATCH_PLUGIN_SHA256:-}" ]; then
  echo "$MESHWATCH_PLUGIN_SHA256  $tmp/plugin.zip" | sha256sum -c -
else
  echo "warning: MESHWATCH_PLUGIN_SHA256 is empty, the download is not verified" >&2
fi
rm -rf "$dir/meshwatch-mesh-app"
unzip -q "$tmp/plugin.zip" -d "$dir"
test -f "$dir/meshwatch-mesh-app/plugin.json"
rm -rf "$tmp"
echo "installed meshwatch-mesh-app from $MESHWATCH_PLUGIN_URL"
