# pivauth — make test runs every test (the PC/SC suites on the bench included),
# make demo runs the main job on the bench, make cross builds and vets the
# product for Windows and macOS and without cgo, make fuzz runs every fuzz target briefly,
# make bench runs the benchmarks. .ci/run installs what a fresh machine lacks
# and runs make test. make install and make dist build what users install:
# the binary, its manual pages, shell completions and the agent's systemd
# user unit; make dist packs them as a tarball and a Debian package.

GO ?= go
# FUZZTIME is how long each fuzz target runs under make fuzz.
FUZZTIME ?= 20s
# PRODUCT is what users build: the cross-platform checks cover it (hw-test is
# the Linux bench).
PRODUCT := ./cmd/... ./piv/... ./signer/... ./flows/... ./internal/...

.PHONY: test vet cross bench-readers demo fuzz bench build install dist FORCE interop-azure

# The bench suites share pcscd's virtual readers, so packages run one at a
# time (-p 1); -count=1 because their results depend on pcscd and the
# tools, which the test cache does not see.
test: vet cross bench-readers
	$(GO) test -p 1 -count=1 ./...

vet:
	@unformatted=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# ebfe/scard and piv-go use WinSCard on Windows (no cgo) and need cgo
# elsewhere; without cgo pivauth must still build and fail at run time
# (TestBuildWithoutCgo in piv and cmd/pivauth run that binary).
cross:
	CGO_ENABLED=0 $(GO) build $(PRODUCT)
	GOOS=windows GOARCH=amd64 $(GO) build $(PRODUCT)
	GOOS=windows GOARCH=amd64 $(GO) vet $(PRODUCT)
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet $(PRODUCT)

# Tests attach their own cards (hw-test/benchtest); they only need pcscd
# with the bench's vpcd readers.
bench-readers:
	hw-test/bench up --no-card

# The main job end to end on the bench: a fresh virtual YubiKey, pivauth
# setup key/selfsign, the Entra ID stand-in, pivauth token.
demo:
	hw-test/demo

# Every Fuzz function of the module, FUZZTIME each. An input that fails is
# written to the package's testdata/fuzz/FuzzName: commit it, it becomes a
# regression case of make test. The inputs that only widened coverage stay
# in $(go env GOCACHE)/fuzz.
fuzz:
	@set -e; for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
		pkg=./$$(dirname $$f); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench: bench-readers
	$(GO) test -p 1 -count=1 -run '^$$' -bench . ./...

# --- install and dist -------------------------------------------------------

# make install PREFIX=/usr/local DESTDIR=: the files land under $(DESTDIR)$(PREFIX)
# and name each other by $(PREFIX) (the unit's ExecStart), as packagers expect.
PREFIX ?= /usr/local
DESTDIR ?=
# BUILDDIR holds the one binary and what is generated from it; install and
# dist reuse it (it is rebuilt when a Go file, go.mod or the version changes).
BUILDDIR ?= build
DISTDIR ?= dist

# VERSION: cmd/pivauth/packaging/version.sh (git describe; 0.0.0-N-gHASH without a tag).
VERSION := $(shell cmd/pivauth/packaging/version.sh)
DEB_VERSION := $(shell cmd/pivauth/packaging/version.sh --deb)
COMMIT := $(shell git -c safe.directory="$$PWD" rev-parse HEAD 2>/dev/null)
# The build date is the time of the build, unless SOURCE_DATE_EPOCH (the
# reproducible-builds convention) fixes it.
BUILD_DATE := $(shell if [ -n "$$SOURCE_DATE_EPOCH" ]; then date -u -d "@$$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ; else date -u +%Y-%m-%dT%H:%M:%SZ; fi)
GO_SOURCES := $(shell find cmd piv signer flows internal -name '*.go' ! -name '*_test.go') go.mod go.sum
# SOURCE_EPOCH dates what does not depend on the build: the manual pages and the
# files in the packages (the commit's time, for reproducible artifacts).
SOURCE_EPOCH = $${SOURCE_DATE_EPOCH:-$$(git -c safe.directory="$$PWD" log -1 --format=%ct 2>/dev/null || date +%s)}
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)

# buildinfo changes (and so relinks the binary) only when the version or
# commit does, not on every make run.
$(BUILDDIR)/buildinfo: FORCE
	@mkdir -p $(BUILDDIR)
	@echo '$(VERSION) $(COMMIT)' | cmp -s - $@ || echo '$(VERSION) $(COMMIT)' > $@

# cgo is required: pivauth talks to pcscd through libpcsclite (libpcsclite-dev).
# The commit comes from LDFLAGS, so no VCS stamping (which fails under sudo in a
# checkout owned by the user).
$(BUILDDIR)/pivauth: $(GO_SOURCES) $(BUILDDIR)/buildinfo
	CGO_ENABLED=1 $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o $@ ./cmd/pivauth

# build: the binary, manual pages and completions, without installing them
# (make build && sudo make install: root then needs no Go toolchain).
build: $(BUILDDIR)/generated

# Manual pages (one per command, from the cobra tree) and completion scripts,
# generated by the binary that ships with them.
$(BUILDDIR)/generated: $(BUILDDIR)/pivauth
	rm -rf $(BUILDDIR)/man $(BUILDDIR)/completions
	SOURCE_DATE_EPOCH=$(SOURCE_EPOCH) $(BUILDDIR)/pivauth __man $(BUILDDIR)/man
	mkdir -p $(BUILDDIR)/completions
	$(BUILDDIR)/pivauth completion bash > $(BUILDDIR)/completions/pivauth.bash
	$(BUILDDIR)/pivauth completion zsh > $(BUILDDIR)/completions/_pivauth
	$(BUILDDIR)/pivauth completion fish > $(BUILDDIR)/completions/pivauth.fish
	touch $@

# stage DIR,BINDIR: install the built files under DIR (bin/, share/, lib/) for
# a system that finds the binary in BINDIR (the unit's ExecStart).
define stage
	install -d $(1)/bin $(1)/share/man/man1 $(1)/share/bash-completion/completions \
		$(1)/share/zsh/site-functions $(1)/share/fish/vendor_completions.d $(1)/lib/systemd/user
	install -m 755 $(BUILDDIR)/pivauth $(1)/bin/pivauth
	install -m 644 $(BUILDDIR)/man/*.1 $(1)/share/man/man1/
	install -m 644 $(BUILDDIR)/completions/pivauth.bash $(1)/share/bash-completion/completions/pivauth
	install -m 644 $(BUILDDIR)/completions/_pivauth $(1)/share/zsh/site-functions/_pivauth
	install -m 644 $(BUILDDIR)/completions/pivauth.fish $(1)/share/fish/vendor_completions.d/pivauth.fish
	sed 's|@BINDIR@|$(2)|' cmd/pivauth/packaging/pivauth-agent.service.in > $(1)/lib/systemd/user/pivauth-agent.service
	chmod 644 $(1)/lib/systemd/user/pivauth-agent.service
endef

install: $(BUILDDIR)/generated
	$(call stage,$(DESTDIR)$(PREFIX),$(PREFIX)/bin)

# dist: a tarball laid out as a prefix (sudo tar -C /usr/local --strip-components=1
# -xzf …), a Debian package installing the same files under /usr, SHA256SUMS.
TARBASE := pivauth_$(VERSION)_linux_amd64
DEB := pivauth_$(VERSION)_amd64.deb

dist: $(BUILDDIR)/generated
	@test "$$($(GO) env GOOS)/$$($(GO) env GOARCH)" = linux/amd64 || { echo "make dist builds linux/amd64 packages: run it on linux/amd64"; exit 1; }
	rm -rf $(BUILDDIR)/tar $(BUILDDIR)/deb
	mkdir -p $(DISTDIR)
	$(call stage,$(BUILDDIR)/tar/$(TARBASE),/usr/local/bin)
	install -d $(BUILDDIR)/tar/$(TARBASE)/share/doc/pivauth
	install -m 644 LICENSE NOTICE README.md $(BUILDDIR)/tar/$(TARBASE)/share/doc/pivauth/
	tar -C $(BUILDDIR)/tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_EPOCH) \
		-czf $(DISTDIR)/$(TARBASE).tar.gz $(TARBASE)
	$(call stage,$(BUILDDIR)/deb/usr,/usr/bin)
	install -d $(BUILDDIR)/deb/usr/share/doc/pivauth $(BUILDDIR)/deb/DEBIAN
	install -m 644 NOTICE README.md $(BUILDDIR)/deb/usr/share/doc/pivauth/
	install -m 644 cmd/pivauth/packaging/debian/copyright $(BUILDDIR)/deb/usr/share/doc/pivauth/copyright
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(BUILDDIR)/deb | cut -f1)|" \
		cmd/pivauth/packaging/debian/control.in > $(BUILDDIR)/deb/DEBIAN/control
	find $(BUILDDIR)/deb -exec touch -h -d @$(SOURCE_EPOCH) {} +
	dpkg-deb --root-owner-group -Zxz --build $(BUILDDIR)/deb $(DISTDIR)/$(DEB) >/dev/null
	cd $(DISTDIR) && sha256sum $(TARBASE).tar.gz $(DEB) > SHA256SUMS
	@echo "dist: $(DISTDIR)/$(TARBASE).tar.gz $(DISTDIR)/$(DEB) $(DISTDIR)/SHA256SUMS"

FORCE:
# Opt-in (large installs, so not in make test): Debian's azure-cli and
# python3-azure as clients of pivauth's managed-identity endpoint on the
# bench: az login --identity, az account get-access-token, azure.identity's
# ManagedIdentityCredential. Installs them with apt when missing.
interop-azure: bench-readers
	@if ! [ -x /usr/bin/az ] || ! /usr/bin/python3 -c 'import azure.identity' 2>/dev/null; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends azure-cli python3-azure >/dev/null; \
	fi
	PIVAUTH_INTEROP_AZURE=1 $(GO) test -p 1 -count=1 -v -run '^TestManagedIdentity(AzureCLI|Python)$$' ./cmd/pivauth
