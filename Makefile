# Everything here is also a plain go command; see README.md.
GO ?= go

.PHONY: run test generate check-generate check-files vet build

run: ## run the server on the embedded default storage (./mewsref.db)
	$(GO) run ./cmd/mewsref

test: ## the whole test suite
	$(GO) test -race ./...

generate: ## regenerate gen/ from openapi/
	$(GO) generate ./...

# Only what generation writes is looked at (gen/, new untracked files there
# included): other untracked files, such as the README's tokens.yaml, are
# none of its business.
check-generate: generate ## fail when regenerating changes anything in gen/
	@status="$$(git status --porcelain --untracked-files=all -- gen)"; \
	if [ -n "$$status" ]; then \
		echo "go generate changed gen/; commit the regenerated code:"; echo "$$status"; \
		git --no-pager diff --stat -- gen; exit 1; \
	fi

check-files: ## fail on a tracked executable binary or a file over 2 MB (tools/check-files.sh)
	bash tools/check-files.sh

vet: ## formatting and static checks
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

build: ## build the binary into bin/mewsref (ignored by git)
	$(GO) build -buildvcs=auto -o bin/mewsref ./cmd/mewsref

# The harness of docs/BENCHMARKS.md: the real server and a bare Echo
# baseline on loopback, per operation req/s, p50, p99 and the ratio.
BENCH_FLAGS ?= -c 32 -d 10s -threads 1000000 -messages 5000000
.PHONY: bench bench-store
bench: ## measure the server against the baseline (BENCH_FLAGS; see docs/BENCHMARKS.md)
	$(GO) run ./bench $(BENCH_FLAGS)

bench-store: ## store benchmarks: pages at 1k and 1M threads, insert throughput
	$(GO) test ./sqlite -run '^$$' -bench 'Pages|ThreadsAdd' -benchtime 3000x -benchmem -timeout 30m

# go test -fuzz takes one target at a time; the list is read from the tests,
# so a new target is fuzzed without touching this file. The budget is a
# count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own end-of-run deadline as a failure with no
# crashing input (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 20000x
.PHONY: fuzz
fuzz: ## run each fuzz target of ./server for FUZZTIME (default 20000x, about 10 s here)
	@targets="$$($(GO) test ./server -list '^Fuzz' | grep '^Fuzz')"; \
	test -n "$$targets" || { echo "no fuzz targets found"; exit 1; }; \
	for t in $$targets; do \
		echo "-- $$t"; \
		$(GO) test ./server -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s || exit 1; \
	done

# --- spec workflow: lint, breaking-change check, contract suite, docs assets
# Tool versions are pinned here (oasdiff, Redoc) and in tools/npm (Spectral).
OASDIFF_MODULE := github.com/oasdiff/oasdiff@v1.33.0
REDOC_VERSION := 2.5.4
NPM_TOOLS := tools/npm
SPECTRAL := $(NPM_TOOLS)/node_modules/.bin/spectral
BASE ?= HEAD~1

.PHONY: lint-spec breaking contract contract-binary docs-assets

$(SPECTRAL): $(NPM_TOOLS)/package.json $(NPM_TOOLS)/package-lock.json
	cd $(NPM_TOOLS) && npm ci --no-audit --no-fund
	@touch $@

lint-spec: $(SPECTRAL) ## lint the OpenAPI documents with Spectral (.spectral.yaml); warnings fail too
	$(SPECTRAL) lint --ruleset .spectral.yaml --fail-severity warn openapi/messaging.yaml openapi/admin.yaml

breaking: ## fail on unacknowledged breaking changes since BASE (default HEAD~1)
	BASE='$(BASE)' OASDIFF_MODULE='$(OASDIFF_MODULE)' bash tools/breaking.sh

contract: ## the contract suite; CONTRACT_BASE_URL=... points it at a running server
	$(GO) test ./client -run Contract -count=1 -v

docs-assets: ## refresh the vendored Redoc bundle of /docs from the npm registry
	bash server/docs/refresh.sh $(REDOC_VERSION)

contract-binary: ## the contract suite against a separately started mewsref binary, by URL only
	bash tools/contract-binary.sh
