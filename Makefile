# confab — run `make` or `make help` for the targets.

GO        ?= go
BIN       ?= bin/confab
GOFLAGS   ?=
TESTFLAGS ?= -race -count=1 -timeout 20m

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Build and run `confab serve` on the embedded store (data in ./data, http://localhost:8080).
	./$(BIN) serve

.PHONY: build
build: ## Build the confab binary into bin/.
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/confab

.PHONY: test
test: deps check ## Run every test (installs what the tests need; starts real PostgreSQL).
	$(GO) test $(TESTFLAGS) ./...

.PHONY: check
check: ## gofmt, go vet and go mod tidy checks.
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

.PHONY: deps
deps: ## Install the system packages the tests need, if missing.
	./scripts/test-deps

.PHONY: screenshots
screenshots: ## Refresh docs/screenshots from the browser tests (the suite itself never writes tracked files).
	$(GO) test -count=1 ./web -run 'TestTwoBrowsersChat|TestChatFeatures|TestCallInBrowsers|TestFilesInBrowsers|TestSearchAndJump|TestEmojiInBrowsers|TestRichTextAndKeyboard|TestThreads$$|TestPinsAndNotifications|TestRevokeSessions|TestAccountSettings' -update-screenshots

.PHONY: bench
bench: ## Run the Go benchmarks (see docs/benchmarks.md for the recorded figures).
	$(GO) test -run '^$$' -bench . -benchmem ./...

FUZZTIME ?= 1m

.PHONY: fuzz
fuzz: ## Fuzz the frame and event decoders (FUZZTIME each, default 1m); seed corpora live in testdata/fuzz.
	$(GO) test ./gateway -run '^$$' -fuzz FuzzDecodeFrame -fuzztime $(FUZZTIME)
	$(GO) test ./domain -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)

.PHONY: clean
clean: ## Remove build output.
	rm -rf bin
