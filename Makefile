# Everything here is also a plain go command; see README.md.
GO ?= go

.PHONY: run test generate check-generate vet build

run: ## run the server on the embedded default storage (./mewsref.db)
	$(GO) run ./cmd/mewsref

test: ## the whole test suite
	$(GO) test -race ./...

generate: ## regenerate gen/ from openapi/
	$(GO) generate ./...

check-generate: generate ## fail when regenerating changes anything
	@status="$$(git status --porcelain)"; \
	if [ -n "$$status" ]; then \
		echo "go generate changed the tree; commit the regenerated code:"; echo "$$status"; \
		git --no-pager diff --stat; exit 1; \
	fi

vet: ## formatting and static checks
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

build: ## build the server binary into bin/
	$(GO) build -o bin/mewsref ./cmd/mewsref
