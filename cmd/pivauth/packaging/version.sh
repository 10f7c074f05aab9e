#!/bin/sh
# cmd/pivauth/packaging/version.sh [--deb]: the version of the tree being built, for make install and make dist.
#
# From `git describe` on a release tag vX.Y.Z: "X.Y.Z", or "X.Y.Z-N-gHASH" N commits after it. With
# no release tag yet (this repository has none so far) the fallback has the same shape on 0.0.0:
# "0.0.0-N-gHASH", N the number of commits. "-dirty" is appended when tracked files have changes.
# Outside a git checkout: "0.0.0".
#
# --deb prints the Debian form of the same version: the part after the tag joined with "+" and
# dots ("X.Y.Z+N.gHASH", "0.0.0+N.gHASH.dirty"), because in a Debian version the last hyphen
# starts the packaging revision.
set -eu
cd "$(dirname "$0")/.."
# `sudo make install` in a user's checkout: git refuses a repository another user owns unless
# told it is safe, and the version must not change (nor the binary be rebuilt) for that.
git() { command git -c safe.directory="$PWD" "$@"; }

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	v=0.0.0
elif v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	v=${v#v}
else
	v=0.0.0-$(git rev-list --count HEAD)-g$(git rev-parse --short=12 HEAD)
	git diff --quiet HEAD -- 2>/dev/null || v=$v-dirty
fi

if [ "${1:-}" = --deb ]; then
	case $v in
	*-*) base=${v%%-*}; rest=${v#*-}; v=$base+$(echo "$rest" | tr - .) ;;
	esac
fi
echo "$v"
