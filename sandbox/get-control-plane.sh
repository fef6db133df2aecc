#!/usr/bin/env bash
# Obtains the local control plane's binaries: etcd and kubectl from Debian's packages, and kube-apiserver
# and kube-controller-manager v1.20.2 built from Debian's `kubernetes` source package with Debian's Go 1.19
# (docs/sandbox.md says why each step is needed). Nothing on the system changes: apt runs
# with private state, .debs are extracted into a private root, and the result is cached per user,
# outside the repository, keyed by version, so only the first run on a machine pays for the build.
#
# Usage: get-control-plane.sh [CACHE_DIR]   (prints the bin folder on its last line)
set -euo pipefail

KUBE_VERSION=v1.20.2
RECIPE=3  # bump when this recipe changes, so a cached build from an older recipe is not reused
ETCD_PACKAGE=etcd-server
CACHE_ROOT=${1:-${ACKFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ackflow}}
DEST=$CACHE_ROOT/control-plane-$KUBE_VERSION-r$RECIPE
BIN=$DEST/bin
WORK=$DEST/work

say() { printf '[control-plane] %s\n' "$*" >&2; }
die() { printf 'control plane cannot be obtained: %s\n' "$*" >&2; exit 1; }

if [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -x $BIN/etcd && -x $BIN/kubectl ]]; then
  echo "$BIN"
  exit 0
fi

for tool in apt-get dpkg-deb tar; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (a Debian machine with apt is needed)"
done
mkdir -p "$BIN" "$WORK" || die "cannot create $DEST"
free_kb=$(df -Pk "$DEST" | awk 'NR==2 {print $4}')
(( free_kb > 4000000 )) || die "less than 4 GB free under $DEST (the build needs about 3 GB)"

# --- private apt state, with deb-src entries derived from the machine's own sources -----------------
APT=$WORK/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.list.d"
: > "$APT/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -e $f ]] || continue
  sed -E 's/^Types:.*/Types: deb deb-src/' "$f" > "$APT/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -e $f ]] || continue
  grep -E '^deb ' "$f" | sed -E 's/^deb /deb-src /' >> "$APT/sources.list" || true
  grep -E '^deb ' "$f" >> "$APT/sources.list" || true
done
apt_opts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/sources.list.d"
          -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=root")
if [[ ! -e $APT/updated ]]; then
  say "reading the package lists (private apt state under $APT)"
  apt-get "${apt_opts[@]}" -qq update >"$WORK/apt-update.log" 2>&1 \
    || die "apt-get update failed (no access to Debian's package archive?); see $WORK/apt-update.log"
  touch "$APT/updated"
fi

# --- binary packages: etcd, kubectl, the Go 1.19 toolchain, reflect2 1.0.2 --------------------------
ROOT=$WORK/root
DEBS=$WORK/debs
mkdir -p "$ROOT" "$DEBS"
packages=("$ETCD_PACKAGE" kubernetes-client golang-1.19-go golang-1.19-src golang-github-modern-go-reflect2-dev)
for pkg in "${packages[@]}"; do
  if ! ls "$DEBS/${pkg}"_*.deb >/dev/null 2>&1; then
    say "downloading $pkg"
    (cd "$DEBS" && apt-get "${apt_opts[@]}" -qq download "$pkg" >>"$WORK/apt-download.log" 2>&1) \
      || die "apt-get download $pkg failed; see $WORK/apt-download.log"
  fi
  dpkg-deb -x "$DEBS/${pkg}"_*.deb "$ROOT"
done
install -m 0755 "$ROOT/usr/bin/etcd" "$BIN/etcd"
install -m 0755 "$ROOT/usr/bin/kubectl" "$BIN/kubectl"

# --- the kubernetes source package -----------------------------------------------------------------
SRCPKG=$WORK/source
if [[ ! -d $SRCPKG/tree ]]; then
  mkdir -p "$SRCPKG"
  say "downloading the kubernetes source package (about 30 MB)"
  (cd "$SRCPKG" && apt-get "${apt_opts[@]}" -qq source --download-only kubernetes >"$WORK/apt-source.log" 2>&1) \
    || die "apt-get source kubernetes failed; see $WORK/apt-source.log"
  say "unpacking the source tree"
  if command -v dpkg-source >/dev/null; then
    (cd "$SRCPKG" && dpkg-source --no-check -x kubernetes_*.dsc tree >"$WORK/dpkg-source.log" 2>&1) \
      || die "dpkg-source failed; see $WORK/dpkg-source.log"
  else
    # Debian's patches touch only kubectl's printing code; the upstream tarball builds the same server.
    mkdir -p "$SRCPKG/tree" && tar -xf "$SRCPKG"/kubernetes_*.orig.tar.* -C "$SRCPKG/tree" --strip-components=1
  fi
fi
TREE=$SRCPKG/tree

# --- the build --------------------------------------------------------------------------------------
export GOROOT=$ROOT/usr/lib/go-1.19
export PATH=$GOROOT/bin:$PATH
export GOPATH=$WORK/gopath GOCACHE=$WORK/gocache GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
[[ -x $GOROOT/bin/go ]] || die "Go 1.19 was not found in the extracted packages"
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$TREE" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"

# reflect2 1.0.1 panics under Go >= 1.18 (nil dereference in reflect.mapiternext): use Debian's 1.0.2.
R2=vendor/github.com/modern-go/reflect2
if [[ ! -e $R2/.debian-1.0.2 ]]; then
  rm -rf "$R2" && mkdir -p "$R2"
  r2src=$(dirname "$(find "$ROOT/usr/share/gocode/src" -path '*modern-go/reflect2/reflect2.go' | head -n1)")
  [[ -d $r2src ]] || die "reflect2 sources not found in golang-github-modern-go-reflect2-dev"
  find "$r2src" -maxdepth 1 \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' -exec cp {} "$R2/" \;
  touch "$R2/.debian-1.0.2"
fi

OPENAPI=pkg/generated/openapi/zz_generated.openapi.go
if [[ ! -s $OPENAPI ]]; then
  say "building openapi-gen and generating $OPENAPI (about a minute)"
  go build -o "$WORK/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  # -R: vendor/k8s.io/* are symlinks into staging/, which -r would not follow.
  dirs=$(grep -Rl --include='*.go' '// +k8s:openapi-gen=' pkg cmd plugin vendor/k8s.io \
           | xargs -n1 dirname | sort -u \
           | grep -v -e testdata -e code-generator -e sample-apiserver \
           | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  "$WORK/openapi-gen" --logtostderr \
    --input-dirs "$dirs" \
    --output-package k8s.io/kubernetes/pkg/generated/openapi \
    --output-file-base zz_generated.openapi \
    --go-header-file vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    --report-filename "$WORK/openapi-violations.txt" \
    --output-base "$GOPATH/src" >"$WORK/openapi-gen.log" 2>&1 \
    || die "openapi-gen failed; see $WORK/openapi-gen.log"
fi

say "building kube-apiserver $KUBE_VERSION with Go 1.19 (2-4 minutes, about 1.3 GB of memory)"
ldflags=""
for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
done
(
  while sleep 30; do say "still building ($(du -sh "$GOCACHE" 2>/dev/null | cut -f1) compiled so far)"; done
) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
go build -ldflags "-s -w $ldflags" -o "$BIN/kube-apiserver.partial" ./cmd/kube-apiserver >"$WORK/build.log" 2>&1 \
  || die "go build failed; see $WORK/build.log"
mv "$BIN/kube-apiserver.partial" "$BIN/kube-apiserver"
say "built $("$BIN/kube-apiserver" --version)"
# From the same tree, most packages already compiled: namespaces finalized, garbage collection, Deployments.
say "building kube-controller-manager $KUBE_VERSION (about a minute more)"
go build -ldflags "-s -w $ldflags" -o "$BIN/kube-controller-manager.partial" ./cmd/kube-controller-manager \
  >"$WORK/build-kcm.log" 2>&1 || die "go build of kube-controller-manager failed; see $WORK/build-kcm.log"
mv "$BIN/kube-controller-manager.partial" "$BIN/kube-controller-manager"
# The sources and toolchain are only needed for the build; the binaries stay. Builds of older recipes go.
rm -rf "$WORK"
find "$CACHE_ROOT" -maxdepth 1 -name "control-plane-$KUBE_VERSION-r*" ! -name "$(basename "$DEST")" \
  -exec rm -rf {} +
echo "$BIN"
