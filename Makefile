# spklab — see README.md. Every target runs from a clean clone.
GO       ?= go
BIN      := bin
SPKLAB   := $(BIN)/spklab
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/spklab/spklab/internal/version.version=$(VERSION)
FUZZTIME ?= 30s
# One build configuration for the commands, the tests, go vet and the image
# binaries (images/spkimages passes the same two): static (nothing here
# needs cgo) and -trimpath (a binary carries no checkout path). Go's build
# cache then compiles each dependency once for all of them; a different
# CGO_ENABLED or -trimpath recompiles every package. The race detector
# needs cgo, so its run sets CGO_ENABLED=1 and builds apart anyway.
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
# The lab runtime for up/down/bench: kind (the product) or netns (fast, no Docker).
RUNTIME  ?= kind
# Where test-kind leaves its JUnit reports (and evidence of failures).
ARTIFACTS ?= artifacts

.PHONY: all build test test-kind images kube-bins lint fuzz generate proto check-generated up down bench clean help

all: lint test

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build spklab, spk-tmm, spk-controller and spk-node into bin/
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Every package's tests, in one go test run each way: with the race detector,
# except the packages whose test binary links the Docker, compose, Helm or
# kind SDKs (scripts/race-split says which and why: instrumenting those SDKs
# is most of a fresh machine's build). Both runs go on when the other fails.
test: kube-bins ## run every test (unit, golden files, fuzz seed corpora, the control plane against a real kube-apiserver); root-only tests need root
	@race=$$(GO=$(GO) scripts/race-split race) && plain=$$(GO=$(GO) scripts/race-split plain) && rc=0; \
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 45m $$race || rc=1; \
	$(GO) test -count=1 -timeout 45m $$plain || rc=1; \
	exit $$rc

# The control-plane tests start a real kube-apiserver and etcd (and run
# kubectl); they are built from Go module sources once and cached under the
# user cache dir (cold: several minutes; cached: under a second).
kube-bins: ## build (once, cached) kube-apiserver, etcd and kubectl v1.32.0 from Go module sources
	@$(GO) run ./images/kubebin/cmd/kubebin kube-apiserver etcd kubectl >/dev/null

lint: ## gofmt check and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

fuzz: ## fuzz the topology loader, the renderers, the CR loader, the frame parser, the pipeline, the vtysh JSON and curl output parsers and the runc wrapper's config filter for FUZZTIME each
	$(GO) test ./topology -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./topology/render -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./spk -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./dataplane/packet -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./dataplane/engine -run '^$$' -fuzz '^FuzzPipeline$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./host/frr -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./e2e/framework -run '^$$' -fuzz '^FuzzParseHTTP$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./host/doctor/runcwrap -run '^$$' -fuzz '^FuzzFilterConfig$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s

generate: build proto ## rewrite docker-compose.yaml and frr/ from the default topology, the CRDs, deepcopy and gRPC code
	$(SPKLAB) render compose --topology default > docker-compose.yaml
	$(SPKLAB) render frr --topology default -d frr
	$(GO) generate ./spk ./manifests

# CI runs this: regenerating from a clean tree must change nothing.
check-generated: generate ## fail when a generated file differs from what make generate writes from its sources
	@git diff --exit-code --stat -- docker-compose.yaml frr/ dataplane/tmmapi/tmmv1/ spk/zz_generated.deepcopy.go manifests/charts/spk/crds/ \
		|| { echo "generated files differ from their sources: run make generate and commit the result"; exit 1; }

# The TMM API's Go code, from tmm.proto with Debian's protoc and the plugin
# versions go.mod pins (go tool).
proto: ## regenerate the TMM gRPC API code (needs protoc: Debian protobuf-compiler)
	cd dataplane/tmmapi/tmmv1 && protoc --proto_path=. \
		--plugin=protoc-gen-go="$$($(GO) tool -n protoc-gen-go)" \
		--plugin=protoc-gen-go-grpc="$$($(GO) tool -n protoc-gen-go-grpc)" \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative tmm.proto

images: build ## build every image the kind lab runs that docker lacks or holds stale (offline: Debian packages and Go modules)
	$(SPKLAB) images build

up: build ## bring the lab up (RUNTIME=kind|netns); kind builds missing images first
	@if [ "$(RUNTIME)" = kind ]; then $(SPKLAB) images build; fi
	$(SPKLAB) up --runtime $(RUNTIME)

# The whole kind lab as a student runs it: up, the e2e suites (JUnit in
# $(ARTIFACTS)), down, and up killed in the middle of each step in turn.
test-kind: images ## the full kind lab test: spklab up/test/down and interrupted ups (root, dockerd; about 19 min)
	SPKLAB_BIN=$(abspath $(SPKLAB)) SPKLAB_ARTIFACTS=$(abspath $(ARTIFACTS)) \
		$(GO) test -tags kinde2e -count=1 -timeout 80m -v ./e2e/kindlab/

down: build ## remove everything the lab made (RUNTIME=kind|netns)
	$(SPKLAB) down --runtime $(RUNTIME)

bench: build ## spk-tmm against the kernel on the netns lab, as ratios with targets (root; always the netns runtime)
	$(SPKLAB) bench --runtime netns

clean: ## remove build output
	rm -rf $(BIN)
