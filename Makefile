# dcs-backup-operator Makefile, in the kubebuilder layout.
#
# Every tool is pinned and installed from the Go module proxy into a cache
# outside the checkout (TOOLS_DIR), one folder per tool and version, so fresh
# clones and CI reuse them. Nothing here needs Docker or a download other than
# the Go module proxy.

# VERSION holds the operator's release version, X.Y.Z: the Helm chart's
# appVersion and version, and the tag of config/manager's image (vX.Y.Z); a
# packaging test keeps them equal. Releases are git tags vX.Y.Z.
VERSION ?= $(shell cat VERSION)
IMG_REPO ?= ghcr.io/dcs-operator/dcs-backup-operator
# Image URL to use for docker-build, deploy and build-installer.
IMG ?= $(IMG_REPO):v$(VERSION)
CHART_DIR = charts/dcs-backup-operator

# What the manager binary reports about itself (internal/version): the
# version (git describe, or vVERSION-dev before the first tag), the commit,
# and the commit's date, so two builds of one commit stamp the same.
BUILD_VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo v$(VERSION)-dev)
BUILD_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
VERSION_PKG = github.com/dcs-operator/dcs-backup-operator/internal/version
VERSION_LDFLAGS = -X $(VERSION_PKG).version=$(BUILD_VERSION) -X $(VERSION_PKG).commit=$(BUILD_COMMIT) -X $(VERSION_PKG).date=$(BUILD_DATE)

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

CACHE_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)
TOOLS_DIR ?= $(CACHE_HOME)/dcs-backup-operator/tools
LOCALBIN ?= $(CURDIR)/bin

## Tool versions
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
HELM_VERSION ?= v3.22.0
GOLANGCI_LINT_VERSION ?= v2.15.0
ACTIONLINT_VERSION ?= v1.7.12
HELM_DOCS_VERSION ?= v1.14.2
# promtool of Prometheus 3.16.0: Prometheus 3.x is published on the Go module
# proxy as github.com/prometheus/prometheus v0.3XX.Y for release 3.XX.Y.
PROMTOOL_VERSION ?= v0.316.0
PROMETHEUS_VERSION ?= 3.16.0

## Tool binaries
CONTROLLER_GEN ?= $(TOOLS_DIR)/controller-gen-$(CONTROLLER_TOOLS_VERSION)/controller-gen
KUSTOMIZE ?= $(TOOLS_DIR)/kustomize-$(KUSTOMIZE_VERSION)/kustomize
# helm is built like its release binaries: with the Kubernetes version it
# assumes offline (helm template, helm lint) and its own version stamped in.
HELM_K8S_MINOR ?= 37
HELM ?= $(TOOLS_DIR)/helm-$(HELM_VERSION)-k8s1.$(HELM_K8S_MINOR)/helm
HELM_LDFLAGS = -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR)
GOLANGCI_LINT ?= $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
ACTIONLINT ?= $(TOOLS_DIR)/actionlint-$(ACTIONLINT_VERSION)/actionlint
HELM_DOCS ?= $(TOOLS_DIR)/helm-docs-$(HELM_DOCS_VERSION)/helm-docs
# promtool is built without service discovery (Prometheus's remove_all_sd
# build tag): rule checks and rule unit tests never discover targets, and the
# cloud SDKs of the discovery plugins are most of its build time (15 minutes
# cold on 2 cores, 6 to 7 without them).
PROMTOOL ?= $(TOOLS_DIR)/promtool-$(PROMTOOL_VERSION)-nosd/promtool
# promtool --version reports the Prometheus release it belongs to.
PROMTOOL_LDFLAGS = -X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION)
PROMTOOL_TAGS = remove_all_sd

# Test knobs: `make test GINKGO_ARGS=--ginkgo.focus=Schedule`.
GO_TEST_FLAGS ?= -count=1
GINKGO_ARGS ?=

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC (config/crd/bases, config/rbac/role.yaml).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./internal/controller/..." output:crd:artifacts:config=config/crd/bases

.PHONY: helm-crds
helm-crds: manifests ## Generate the Helm chart's CRDs and manager ClusterRole from config/ (hack/sync-chart.sh).
	hack/sync-chart.sh

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods (api/v1alpha1/zz_generated.deepcopy.go).
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (config in .golangci.yml).
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply its fixes.
	$(GOLANGCI_LINT) run --fix

.PHONY: verify
verify: ## Regenerate everything generated and fail if the tree changed (stale generated files), check go.mod.
	hack/verify-generated.sh
	go mod tidy -diff
	go mod verify

# Packages whose tests start a control plane (or real processes that do);
# the others are unit tests and fuzz seeds. cmd/kubectl-dcs holds the
# plugin's end-to-end test (kubectl dcs against the manager); the plugin's
# unit tests (internal/plugin) need none.
PLANE_PKG_PATTERN = -e /internal/controller -e /test/ -e /internal/localenv -e /hack/demo -e /cmd/kubectl-dcs
# The controller package holds both: its envtest suite (TestControllers)
# and unit tests of the reconcilers with the fake client, which test-unit
# runs on their own.
CONTROLLER_SUITE = ^TestControllers$$

.PHONY: test
test: verify vet lint lint-workflows test-alerts envtest versitygw helm kustomize ## Everything CI checks: generated files, vet, lint, workflows, alert rules, unit tests (-race), fuzz seeds and envtest suites.
	$(MAKE) --no-print-directory test-unit GO_TEST_FLAGS="$(GO_TEST_FLAGS) -race"
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" VERSITYGW="$$(hack/versitygw.sh)" HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) \
		go test $(GO_TEST_FLAGS) $$(go list ./... | grep $(PLANE_PKG_PATTERN)) $(if $(GINKGO_ARGS),-args $(GINKGO_ARGS))

.PHONY: lint-workflows
lint-workflows: actionlint ## Check the GitHub Actions workflows (.github/workflows) with actionlint, and their scripts with shellcheck if it is installed.
	$(ACTIONLINT) -color

.PHONY: test-alerts
test-alerts: helm promtool ## Check the chart's alert rules and run their unit tests (test/alerts) with promtool.
	HELM=$(HELM) PROMTOOL=$(PROMTOOL) hack/test-alerts.sh

.PHONY: chart-readme
chart-readme: helm-docs ## Generate the chart's README.md from values.yaml (helm-docs); make verify fails when it is stale.
	$(HELM_DOCS) --chart-search-root charts --template-files README.md.gotmpl --sort-values-order file
	@# Every value has a "# --" description: no row of the values table ends in an empty cell.
	@! grep -nE '^\| .*\|[[:space:]]*\|$$' $(CHART_DIR)/README.md || { echo "values without a '# --' description in $(CHART_DIR)/values.yaml (rows above)" >&2; exit 1; }

.PHONY: argocd-cm
argocd-cm: ## Generate config/argocd/argocd-cm-patch.yaml (Argo CD health checks and actions) from config/argocd/resource_customizations.
	go run ./hack/argocd-cm

.PHONY: test-unit
test-unit: versitygw ## Only the tests that need no control plane (make test runs them with -race; the object-storage tests run versitygw).
	VERSITYGW="$$(hack/versitygw.sh)" go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v $(PLANE_PKG_PATTERN))
	go test $(GO_TEST_FLAGS) -skip '$(CONTROLLER_SUITE)' ./internal/controller/

.PHONY: test-race
test-race: envtest versitygw helm kustomize ## Every test, envtest suites included, with the race detector (slow).
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" VERSITYGW="$$(hack/versitygw.sh)" HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) \
		go test $(GO_TEST_FLAGS) -race -timeout 60m ./...

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/manager.
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(LOCALBIN)/manager .

.PHONY: build-plugin
build-plugin: ## Build the kubectl plugin into bin/kubectl-dcs (bin/ on the PATH: kubectl dcs), version stamped like the manager's.
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(LOCALBIN)/kubectl-dcs ./cmd/kubectl-dcs

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the cluster in ~/.kube/config.
	go run -ldflags "$(VERSION_LDFLAGS)" . --insecure-endpoints=$(or $(INSECURE_ENDPOINTS),false)

.PHONY: demo
demo: versitygw ## Local control plane + DCS simulator + versitygw + operator + samples (a backup exported), live until Ctrl-C (flags: DEMO_ARGS=--help).
	go build -o $(LOCALBIN)/demo ./hack/demo
	VERSITYGW="$$(hack/versitygw.sh)" $(LOCALBIN)/demo $(DEMO_ARGS)

.PHONY: bench
bench: versitygw ## Benchmark the real manager against a control plane, the simulator and versitygw; writes bench/results.json (BENCH_SCALE=0.1 for a quick look, BENCH_ARGS=--help).
	go build -o $(LOCALBIN)/bench ./hack/bench
	VERSITYGW="$$(hack/versitygw.sh)" $(LOCALBIN)/bench $(BENCH_ARGS)

# Chaos knobs: `make chaos CHAOS_ARGS=-run=TestChaos/kills`, the scale
# variables of test/chaos/scale_test.go (CHAOS_BACKUPS=... make chaos), and
# CHAOS_SCALE=reduced for the run `make test` does.
CHAOS_SCALE ?= full
CHAOS_ARGS ?=

.PHONY: chaos
chaos: envtest versitygw ## Full chaos run: manager SIGKILLs (also mid-export), leader failover and cloud faults, real processes (test/chaos).
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" VERSITYGW="$$(hack/versitygw.sh)" CHAOS_SCALE=$(CHAOS_SCALE) \
		go test -count=1 -v -timeout 90m ./test/chaos/ $(CHAOS_ARGS)

# docker-build needs a Docker engine, which the development machines of this
# project do not have; the Dockerfile's go build line is tested in `make test`.
.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build --build-arg VERSION=$(BUILD_VERSION) --build-arg COMMIT=$(BUILD_COMMIT) \
		--build-arg DATE=$(BUILD_DATE) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml for IMG: CRDs, RBAC, the Deployment and the metrics Service.
	mkdir -p dist
	KUSTOMIZE=$(KUSTOMIZE) hack/kustomize-default.sh $(IMG) > dist/install.yaml

##@ Release

# OCI repository the chart is pushed to: helm install dcs-backup-operator $(CHART_REPO)/dcs-backup-operator
CHART_REPO ?= oci://ghcr.io/dcs-operator/charts
CHART_REGISTRY = $(firstword $(subst /, ,$(patsubst oci://%,%,$(CHART_REPO))))

# Platforms of the kubectl-dcs release archives; plugins/krew/dcs.yaml names
# the same (a test of hack/krew-manifest keeps them equal).
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

.PHONY: plugin-dist
plugin-dist: ## Build the kubectl-dcs archives of PLUGIN_PLATFORMS and the krew manifest for them (dist/dcs.yaml).
	VERSION=$(VERSION) LDFLAGS="$(VERSION_LDFLAGS)" hack/plugin-dist.sh dist $(PLUGIN_PLATFORMS)
	go run ./hack/krew-manifest -version $(VERSION) -dist dist -out dist/dcs.yaml plugins/krew/dcs.yaml

.PHONY: chart-package
chart-package: helm ## Package the Helm chart into dist/dcs-backup-operator-VERSION.tgz.
	mkdir -p dist
	$(HELM) package $(CHART_DIR) --version $(VERSION) --app-version $(VERSION) --destination dist

.PHONY: chart-login
chart-login: helm ## Log helm in to CHART_REPO's registry as REGISTRY_USER, password on standard input.
	$(HELM) registry login $(CHART_REGISTRY) --username "$(REGISTRY_USER)" --password-stdin

.PHONY: chart-push
chart-push: chart-package ## Push the packaged chart to CHART_REPO as an OCI artifact (after make chart-login).
	$(HELM) push dist/dcs-backup-operator-$(VERSION).tgz $(CHART_REPO)

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the cluster in ~/.kube/config.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator with image IMG to the cluster in ~/.kube/config.
	KUSTOMIZE=$(KUSTOMIZE) hack/kustomize-default.sh $(IMG) | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools

.PHONY: tools
tools: controller-gen kustomize helm golangci-lint actionlint helm-docs promtool envtest versitygw ## Install every pinned tool.

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen.
$(CONTROLLER_GEN):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize.
$(KUSTOMIZE):
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: helm
helm: $(HELM) ## Install helm.
$(HELM):
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION),$(HELM_LDFLAGS))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint.
$(GOLANGCI_LINT):
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## Install actionlint (GitHub Actions workflow linter).
$(ACTIONLINT):
	$(call go-install-tool,$(ACTIONLINT),github.com/rhysd/actionlint/cmd/actionlint,$(ACTIONLINT_VERSION))

.PHONY: helm-docs
helm-docs: $(HELM_DOCS) ## Install helm-docs (generates the chart's README).
$(HELM_DOCS):
	$(call go-install-tool,$(HELM_DOCS),github.com/norwoodj/helm-docs/cmd/helm-docs,$(HELM_DOCS_VERSION))

.PHONY: promtool
promtool: $(PROMTOOL) ## Install promtool (Prometheus rule checks and rule unit tests).
$(PROMTOOL):
	$(call go-install-tool,$(PROMTOOL),github.com/prometheus/prometheus/cmd/promtool,$(PROMTOOL_VERSION),$(PROMTOOL_LDFLAGS),$(PROMTOOL_TAGS))

.PHONY: envtest
envtest: ## Build the envtest control plane (kube-apiserver, etcd, kubectl v1.37.1) from source, once.
	@hack/controlplane.sh >/dev/null

.PHONY: versitygw
versitygw: ## Build the versitygw S3 gateway (object-storage tests) from source, once.
	@hack/versitygw.sh >/dev/null

# go-install-tool installs package $(2) at version $(3) as binary $(1), with
# optional ldflags $(4) and build tags $(5). The binary lands in its own
# versioned folder, so a version bump installs anew.
define go-install-tool
@[ -x "$(1)" ] || { \
set -e; \
echo "Installing $(2)@$(3) into $(dir $(1))"; \
mkdir -p "$(dir $(1))"; \
GOBIN="$(dir $(1))" GOFLAGS=-mod=mod go install -ldflags "$(4)" -tags "$(5)" "$(2)@$(3)"; \
}
endef
