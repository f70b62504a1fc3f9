/*
Copyright 2026 The dcs-backup-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunExtractsTheGroupsOfPrometheusRules(t *testing.T) {
	in := `apiVersion: v1
kind: Service
metadata: {name: metrics}
spec:
  groups: [{name: not-a-rule}]
---
# Source: chart/templates/prometheusrule.yaml
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: rules}
spec:
  groups:
    - name: dcs-backup-operator
      rules:
        - alert: A
          expr: up == 0
          annotations:
            description: "{{ $labels.namespace }}"
`
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := `groups:
- name: dcs-backup-operator
  rules:
  - alert: A
    annotations:
      description: '{{ $labels.namespace }}'
    expr: up == 0
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestRunFailsWithoutRules(t *testing.T) {
	err := run(strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no PrometheusRule") {
		t.Errorf("run() = %v, want an error about the missing PrometheusRule", err)
	}
}
