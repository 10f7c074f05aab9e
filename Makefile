# pivauth — make test runs every test (the PC/SC suites on the bench included),
# make demo runs the main job on the bench, make cross builds and vets the
# product for Windows and macOS and without cgo, make fuzz runs every fuzz target briefly,
# make bench runs the benchmarks. .ci/run installs what a fresh machine lacks
# and runs make test.

GO ?= go
# FUZZTIME is how long each fuzz target runs under make fuzz.
FUZZTIME ?= 20s
# PRODUCT is what users build: the cross-platform checks cover it (hw-test is
# the Linux bench).
PRODUCT := ./cmd/... ./piv/... ./signer/... ./flows/... ./internal/...

.PHONY: test vet cross bench-readers demo fuzz bench interop-azure

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
