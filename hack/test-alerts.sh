#!/usr/bin/env bash
# Tests the Helm chart's alerts with promtool, the real Prometheus rule engine:
# renders the chart with prometheusRule.enabled=true (default values otherwise),
# extracts the PrometheusRule's rule groups into a Prometheus rule file
# (hack/promrules), checks it (`promtool check rules`: syntax, PromQL, templates),
# then runs the rule unit tests of test/alerts (`promtool test rules`).
#
# Usage: HELM=<helm> PROMTOOL=<promtool> hack/test-alerts.sh   (make test-alerts)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

helm="${HELM:?set HELM to the helm binary (make test-alerts does)}"
promtool="${PROMTOOL:?set PROMTOOL to the promtool binary (make test-alerts does)}"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

"${helm}" template dcs-backup-operator charts/dcs-backup-operator --namespace dcs-backup-operator-system \
  --set prometheusRule.enabled=true >"${tmp}/chart.yaml"
go run ./hack/promrules <"${tmp}/chart.yaml" >"${tmp}/rules.yaml"
"${promtool}" check rules "${tmp}/rules.yaml"

# promtool reads rule_files relative to each test file.
cp test/alerts/*_test.yaml "${tmp}/"
(cd "${tmp}" && "${promtool}" test rules ./*_test.yaml)
