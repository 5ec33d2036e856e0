# zonesync: build, try, test, measure. Sized for a 2-core machine.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(PATH):/usr/local/go/bin

GO       ?= go
JOBS     ?= 2
FUZZTIME ?= 20s
BIN      := bin/zonesync

.PHONY: all build run test fmt-check vet unit docs-check bench fuzz clean

all: build

build:
	$(GO) build -p $(JOBS) -o $(BIN) ./cmd/zonesync

# Start a three-node cluster on 127.0.0.1-3, write a key on one node, show
# it on the others; Ctrl-C stops every node with QUIT.
run: build
	bash examples/cluster/run.sh

test: fmt-check vet unit docs-check

fmt-check:
	@echo "==> gofmt -l"
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './bin/*'); \
	bad=$$([ -z "$$files" ] || gofmt -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt would change:"; echo "$$bad"; exit 1; fi

vet:
	@echo "==> go vet ./..."
	@$(GO) vet -p $(JOBS) ./...

unit:
	@echo "==> go test ./..."
	@$(GO) test -p $(JOBS) -count=1 ./...

# Every relative link in the Markdown files must point at a file or folder.
docs-check:
	@echo "==> docs: relative links"
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
		mds=$$(git ls-files --cached --others --exclude-standard '*.md'); \
	else \
		mds=$$(find . -name '*.md' -not -path './.git/*'); \
	fi; \
	broken=0; \
	for md in $$mds; do \
		[ -f "$$md" ] || continue; \
		for link in $$(grep -o '](\([^)#[:space:]]*\)' "$$md" | sed 's/^](//'); do \
			case "$$link" in *://*|mailto:*) continue ;; esac; \
			if [ ! -e "$$(dirname "$$md")/$$link" ]; then \
				echo "$$md: broken link $$link"; broken=1; \
			fi; \
		done; \
	done; \
	[ $$broken -eq 0 ]

bench:
	bash bench/run.sh

# Run each Fuzz target for FUZZTIME, one package and one target at a time.
# Targets are found with go test -list, so new ones are picked up by themselves.
fuzz:
	@targets=$$($(GO) test -p $(JOBS) -list '^Fuzz' ./... | \
		awk '/^Fuzz/ { names[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets found"; exit 0; fi; \
	while read -r pkg name; do \
		echo "==> $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel $(JOBS) "$$pkg"; \
	done <<<"$$targets"

clean:
	rm -rf bin/
